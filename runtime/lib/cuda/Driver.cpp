// The CUDA driver API through dlopen: the entry points kiln uses, the
// process-wide initialisation, and RAII owners for what it hands out.
#include "kiln/runtime/cuda/Driver.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>
#include <utility>

namespace kiln::cuda {

namespace {

constexpr int kComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_...
constexpr int kComputeCapabilityMinor = 76;
constexpr int kCaptureThreadLocal = 1; // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
constexpr CUresult kSuccess = 0;

std::string libraryName() {
  const char *override = std::getenv("KILN_CUDA_DRIVER");
  return override && *override ? override : "libcuda.so.1";
}

/// Fills `api` from `library`; returns the first missing symbol, if any.
std::string resolve(void *library, DriverApi &api) {
  std::string missing;
  auto bind = [&](auto &slot, const char *symbol) {
    void *address = dlsym(library, symbol);
    if (!address && missing.empty())
      missing = symbol;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
  bind(api.cuInit, "cuInit");
  bind(api.cuDriverGetVersion, "cuDriverGetVersion");
  bind(api.cuGetErrorName, "cuGetErrorName");
  bind(api.cuGetErrorString, "cuGetErrorString");
  bind(api.cuDeviceGetCount, "cuDeviceGetCount");
  bind(api.cuDeviceGet, "cuDeviceGet");
  bind(api.cuDeviceGetName, "cuDeviceGetName");
  bind(api.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  bind(api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  bind(api.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  bind(api.cuCtxSetCurrent, "cuCtxSetCurrent");
  bind(api.cuMemAlloc, "cuMemAlloc_v2");
  bind(api.cuMemFree, "cuMemFree_v2");
  bind(api.cuMemAllocHost, "cuMemAllocHost_v2");
  bind(api.cuMemFreeHost, "cuMemFreeHost");
  bind(api.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  bind(api.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  bind(api.cuMemsetD8Async, "cuMemsetD8Async");
  bind(api.cuStreamCreate, "cuStreamCreate");
  bind(api.cuStreamDestroy, "cuStreamDestroy_v2");
  bind(api.cuStreamSynchronize, "cuStreamSynchronize");
  bind(api.cuStreamWaitEvent, "cuStreamWaitEvent");
  bind(api.cuEventCreate, "cuEventCreate");
  bind(api.cuEventDestroy, "cuEventDestroy_v2");
  bind(api.cuEventRecord, "cuEventRecord");
  bind(api.cuEventSynchronize, "cuEventSynchronize");
  bind(api.cuModuleLoadData, "cuModuleLoadData");
  bind(api.cuModuleUnload, "cuModuleUnload");
  bind(api.cuModuleGetFunction, "cuModuleGetFunction");
  bind(api.cuLaunchKernel, "cuLaunchKernel");
  bind(api.cuStreamBeginCapture, "cuStreamBeginCapture_v2");
  bind(api.cuStreamEndCapture, "cuStreamEndCapture");
  bind(api.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  bind(api.cuGraphLaunch, "cuGraphLaunch");
  bind(api.cuGraphExecDestroy, "cuGraphExecDestroy");
  bind(api.cuGraphDestroy, "cuGraphDestroy");
  return missing;
}

/// The driver, or why there is none; decided once per process.
struct Loaded {
  Driver *driver = nullptr;
  std::string error;
};

} // namespace

Driver &Driver::get() {
  static Loaded loaded = [] {
    Loaded result;
    std::string name = libraryName();
    void *library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *reason = dlerror();
      result.error = fmt::format(
          "no CUDA driver found ({}); kiln runs on the CPU here: use "
          "--device cpu (Device::cpu()), or install the NVIDIA driver",
          reason ? reason : name);
      return result;
    }
    auto *driver = new Driver();
    driver->library_ = library;
    std::string missing = resolve(library, driver->api_);
    if (!missing.empty()) {
      result.error = fmt::format(
          "no CUDA driver found: {} lacks {}; the NVIDIA driver is too old "
          "for kiln (it needs CUDA 11.4 or newer)",
          name, missing);
      delete driver;
      dlclose(library);
      return result;
    }
    CUresult status = driver->api_.cuInit(0);
    if (status != kSuccess) {
      const char *errorName = nullptr;
      driver->api_.cuGetErrorName(status, &errorName);
      result.error = fmt::format(
          "CUDA cannot start: cuInit failed with {} ({}); check that a GPU "
          "is present and visible (nvidia-smi), or use --device cpu",
          errorName ? errorName : "an unknown error", status);
      delete driver;
      dlclose(library);
      return result;
    }
    result.driver = driver; // lives as long as the process
    return result;
  }();
  if (!loaded.driver)
    throw Error(loaded.error);
  return *loaded.driver;
}

bool Driver::available(std::string *why) {
  try {
    Driver &driver = get();
    if (driver.deviceCount() > 0)
      return true;
    if (why)
      *why = "no CUDA device found: the driver reports 0 devices; use "
             "--device cpu";
    return false;
  } catch (const Error &error) {
    if (why)
      *why = error.what();
    return false;
  }
}

void Driver::check(CUresult result, const char *call, const char *hint) {
  if (result == kSuccess)
    return;
  const char *name = nullptr, *description = nullptr;
  api_.cuGetErrorName(result, &name);
  api_.cuGetErrorString(result, &description);
  throw Error(fmt::format("CUDA error in {}: {} ({}){}{}", call,
                          name ? name : "unknown error",
                          description ? description : "no description",
                          hint ? "; " : "", hint ? hint : ""));
}

int Driver::deviceCount() {
  int count = 0;
  check(api_.cuDeviceGetCount(&count), "cuDeviceGetCount");
  return count;
}

int Driver::version() {
  int version = 0;
  check(api_.cuDriverGetVersion(&version), "cuDriverGetVersion");
  return version;
}

DeviceInfo Driver::device(int index) {
  int count = deviceCount();
  if (index < 0 || index >= count)
    throw Error(fmt::format("device cuda:{} does not exist: this machine has "
                            "{} CUDA device{}{}",
                            index, count, count == 1 ? "" : "s",
                            count ? fmt::format(", cuda:0 to cuda:{}", count - 1)
                                  : std::string()));
  CUdevice device = 0;
  check(api_.cuDeviceGet(&device, index), "cuDeviceGet");
  char name[256] = {};
  check(api_.cuDeviceGetName(name, sizeof name - 1, device), "cuDeviceGetName");
  DeviceInfo info;
  info.index = index;
  info.name = name;
  check(api_.cuDeviceGetAttribute(&info.major, kComputeCapabilityMajor, device),
        "cuDeviceGetAttribute");
  check(api_.cuDeviceGetAttribute(&info.minor, kComputeCapabilityMinor, device),
        "cuDeviceGetAttribute");
  return info;
}

Context::Context(int index) {
  Driver &cu = Driver::get();
  info_ = cu.device(index);
  cu.check(cu.api().cuDeviceGet(&device_, index), "cuDeviceGet");
  cu.check(cu.api().cuDevicePrimaryCtxRetain(&context_, device_),
           "cuDevicePrimaryCtxRetain");
  makeCurrent();
}

Context::~Context() {
  if (context_)
    Driver::get().api().cuDevicePrimaryCtxRelease(device_);
}

void Context::makeCurrent() {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuCtxSetCurrent(context_), "cuCtxSetCurrent");
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0)
    return;
  Driver &cu = Driver::get();
  cu.check(cu.api().cuMemAlloc(&pointer_, bytes), "cuMemAlloc",
           fmt::format("{} bytes were asked for; use a smaller batch", bytes)
               .c_str());
}

DeviceBuffer::~DeviceBuffer() {
  if (pointer_)
    Driver::get().api().cuMemFree(pointer_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : pointer_(std::exchange(other.pointer_, 0)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  std::swap(pointer_, other.pointer_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0)
    return;
  Driver &cu = Driver::get();
  cu.check(cu.api().cuMemAllocHost(&pointer_, bytes), "cuMemAllocHost");
}

PinnedBuffer::~PinnedBuffer() {
  if (pointer_)
    Driver::get().api().cuMemFreeHost(pointer_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer &&other) noexcept
    : pointer_(std::exchange(other.pointer_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer &PinnedBuffer::operator=(PinnedBuffer &&other) noexcept {
  std::swap(pointer_, other.pointer_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

Stream::Stream() {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuStreamCreate(&stream_, /*CU_STREAM_NON_BLOCKING=*/1),
           "cuStreamCreate");
}

Stream::~Stream() {
  if (stream_)
    Driver::get().api().cuStreamDestroy(stream_);
}

void Stream::synchronize() {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuStreamSynchronize(stream_), "cuStreamSynchronize",
           "a kernel of this step failed; rerun with CUDA_LAUNCH_BLOCKING=1 "
           "to find which");
}

Event::Event() {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuEventCreate(&event_, /*CU_EVENT_DISABLE_TIMING=*/2),
           "cuEventCreate");
}

Event::~Event() {
  if (event_)
    Driver::get().api().cuEventDestroy(event_);
}

void Event::record(Stream &stream) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuEventRecord(event_, stream.get()), "cuEventRecord");
}

void Event::makeWait(Stream &stream) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuStreamWaitEvent(stream.get(), event_, 0),
           "cuStreamWaitEvent");
}

void Event::synchronize() {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuEventSynchronize(event_), "cuEventSynchronize");
}

Module::Module(const void *image, const std::string &what) : what_(what) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuModuleLoadData(&module_, image), "cuModuleLoadData",
           fmt::format("could not load {}; it may be compiled for another GPU "
                       "architecture (clear the kernel cache, "
                       "$KILN_CACHE_DIR)",
                       what)
               .c_str());
}

Module::~Module() {
  if (module_)
    Driver::get().api().cuModuleUnload(module_);
}

CUfunction Module::function(const std::string &name) {
  Driver &cu = Driver::get();
  CUfunction function = nullptr;
  cu.check(cu.api().cuModuleGetFunction(&function, module_, name.c_str()),
           "cuModuleGetFunction",
           fmt::format("kernel {} is not in {}", name, what_).c_str());
  return function;
}

Graph::~Graph() {
  Driver &cu = Driver::get();
  if (exec_)
    cu.api().cuGraphExecDestroy(exec_);
  if (graph_)
    cu.api().cuGraphDestroy(graph_);
}

void Graph::beginCapture(Stream &stream) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuStreamBeginCapture(stream.get(), kCaptureThreadLocal),
           "cuStreamBeginCapture");
}

void Graph::endCapture(Stream &stream) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuStreamEndCapture(stream.get(), &graph_),
           "cuStreamEndCapture");
  cu.check(cu.api().cuGraphInstantiateWithFlags(&exec_, graph_, 0),
           "cuGraphInstantiateWithFlags");
}

void Graph::abandonCapture(Stream &stream) noexcept {
  CUgraph partial = nullptr;
  Driver &cu = Driver::get();
  if (cu.api().cuStreamEndCapture(stream.get(), &partial) == kSuccess &&
      partial)
    cu.api().cuGraphDestroy(partial);
}

void Graph::launch(Stream &stream) {
  Driver &cu = Driver::get();
  cu.check(cu.api().cuGraphLaunch(exec_, stream.get()), "cuGraphLaunch");
}

void launch(CUfunction kernel, const unsigned grid[3], const unsigned block[3],
            unsigned sharedBytes, Stream &stream, void **arguments,
            const std::string &name) {
  Driver &cu = Driver::get();
  CUresult result = cu.api().cuLaunchKernel(
      kernel, grid[0], grid[1], grid[2], block[0], block[1], block[2],
      sharedBytes, stream.get(), arguments, nullptr);
  if (result != kSuccess)
    cu.check(result, "cuLaunchKernel",
             fmt::format("launching kernel {} with grid ({}, {}, {}) and "
                         "block ({}, {}, {})",
                         name, grid[0], grid[1], grid[2], block[0], block[1],
                         block[2])
                 .c_str());
}

} // namespace kiln::cuda
