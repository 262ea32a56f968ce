// A stand-in for libcuda.so.1 that runs on the host, so that kiln's driver
// layer (kiln/runtime/cuda/Driver.h) is tested on machines without a GPU:
// device memory is host memory, a "module" is text naming host kernels, and
// stream capture records launches that a graph replays.
//
// Module images are "FAKE <kernel> <kernel> ..."; the kernels are
//   fake_add(float *x, int n, float value): x[i] += value for i < n;
//   fake_add4(const float *a, const float *b, float *out): out = a + b, 4 wide;
//   fake_sum4(const float *a, float *out): out[0] = a[0] + ... + a[3];
//   fake_step(const int64_t *step, float *out): out[0] = *step.
// Set FAKE_CUDA_INIT_RESULT to make cuInit fail with that code.
// fake_cuda_calls(name) says how often entry point `name` was called (every
// one but the error-text lookups; "" for all of them together), so tests can
// count what a step costs in driver calls.
//
// An emulated GPU: with FAKE_CUDA_KERNELS naming a shared library built from
// a generated source and tests/cuda/CudaShim.h (see
// tests/cuda/emulated_gpu.sh), any other module image (a real cubin or PTX)
// loads that library instead, and its kernels run on the host over the grid the
// launch asks for.
//
// An idle GPU: with FAKE_CUDA_IDLE=1 instead, any other module image loads,
// every kernel name resolves, and launches and copies do nothing (as a GPU's
// copy engine takes no host time), so what is timed is the host side alone:
// kiln's own per-step work plus these near-empty entry points
// (bench/bench_cuda_host.py).
#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

using CUresult = int;
constexpr CUresult kSuccess = 0, kOutOfMemory = 2, kInvalidValue = 1,
                   kNoDevice = 100, kInvalidImage = 200, kNotFound = 500,
                   kIllegalCapture = 901;

using Launch = std::function<void()>;

struct Stream {
  bool capturing = false;
  std::vector<Launch> captured;
};

// The entry points of a CudaShim kernel library.
struct Shim {
  int (*launch)(const char *, const unsigned *, const unsigned *, void **);
  int (*arity)(const char *);
};

struct Module {
  std::vector<std::string> kernels;
  const Shim *shim = nullptr; // an emulated GPU's module: every shim kernel
  bool idle = false;          // an idle GPU's module: any kernel at all
};

struct Function {
  std::string name;
  const Shim *shim = nullptr; // with `arity` pointer parameters
  int arity = 0;
  bool idle = false;
};

/// Calls per entry point, and in all.
std::unordered_map<std::string_view, long long> &callCounts() {
  static std::unordered_map<std::string_view, long long> counts;
  return counts;
}

void tally(const char *entryPoint) {
  ++callCounts()[entryPoint];
  ++callCounts()[""];
}

bool idleGpu() {
  static const bool idle = [] {
    const char *value = std::getenv("FAKE_CUDA_IDLE");
    return value && std::string_view(value) == "1";
  }();
  return idle;
}

/// The library FAKE_CUDA_KERNELS names, opened once; null without one.
const Shim *shimLibrary() {
  static const Shim *shim = []() -> const Shim * {
    const char *path = std::getenv("FAKE_CUDA_KERNELS");
    if (!path || !*path)
      return nullptr;
    static Shim entries;
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library) {
      entries.launch = reinterpret_cast<decltype(Shim::launch)>(
          dlsym(library, "kiln_shim_launch"));
      entries.arity = reinterpret_cast<decltype(Shim::arity)>(
          dlsym(library, "kiln_shim_arity"));
    }
    if (!entries.launch || !entries.arity) {
      std::fprintf(stderr,
                   "fake CUDA driver: FAKE_CUDA_KERNELS=%s is not a CudaShim "
                   "kernel library (%s)\n",
                   path, library ? "no kiln_shim_launch" : dlerror());
      return nullptr;
    }
    return &entries;
  }();
  return shim;
}

struct Graph {
  std::vector<Launch> launches;
};

void run(const Launch &launch) { launch(); }

/// The host body of kernel `name` on `arguments`, or an empty function.
Launch kernelBody(const std::string &name, void **arguments) {
  auto pointer = [&](int i) { return *static_cast<float **>(arguments[i]); };
  if (name == "fake_add") {
    float *x = pointer(0);
    int n = *static_cast<int *>(arguments[1]);
    float value = *static_cast<float *>(arguments[2]);
    return [=] {
      for (int i = 0; i < n; ++i)
        x[i] += value;
    };
  }
  if (name == "fake_add4") {
    float *a = pointer(0), *b = pointer(1), *out = pointer(2);
    return [=] {
      for (int i = 0; i < 4; ++i)
        out[i] = a[i] + b[i];
    };
  }
  if (name == "fake_sum4") {
    float *a = pointer(0), *out = pointer(1);
    return [=] { out[0] = a[0] + a[1] + a[2] + a[3]; };
  }
  if (name == "fake_step") {
    auto *step = *static_cast<int64_t **>(arguments[0]);
    float *out = pointer(1);
    return [=] { out[0] = static_cast<float>(*step); };
  }
  return {};
}

/// An emulated kernel's launch: its pointer arguments copied now, as a
/// captured launch keeps the values it was given.
Launch shimBody(const Function &function, const unsigned grid[3],
                const unsigned block[3], void **arguments) {
  std::vector<void *> pointers;
  for (int i = 0; i < function.arity; ++i)
    pointers.push_back(*static_cast<void **>(arguments[i]));
  std::array<unsigned, 3> g{grid[0], grid[1], grid[2]},
      b{block[0], block[1], block[2]};
  return [shim = function.shim, name = function.name, pointers, g, b] {
    std::vector<void *> values = pointers;
    std::vector<void *> params;
    for (void *&value : values)
      params.push_back(&value);
    shim->launch(name.c_str(), g.data(), b.data(), params.data());
  };
}

const char *errorName(CUresult result) {
  switch (result) {
  case kSuccess:
    return "CUDA_SUCCESS";
  case kInvalidValue:
    return "CUDA_ERROR_INVALID_VALUE";
  case kOutOfMemory:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case kNoDevice:
    return "CUDA_ERROR_NO_DEVICE";
  case kInvalidImage:
    return "CUDA_ERROR_INVALID_IMAGE";
  case kNotFound:
    return "CUDA_ERROR_NOT_FOUND";
  case kIllegalCapture:
    return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
  }
  return nullptr;
}

const char *errorString(CUresult result) {
  switch (result) {
  case kSuccess:
    return "no error";
  case kInvalidValue:
    return "invalid argument";
  case kOutOfMemory:
    return "out of memory";
  case kNoDevice:
    return "no CUDA-capable device is detected";
  case kInvalidImage:
    return "device kernel image is invalid";
  case kNotFound:
    return "named symbol not found";
  case kIllegalCapture:
    return "operation not permitted when stream is capturing";
  }
  return nullptr;
}

} // namespace

extern "C" {

CUresult cuInit(unsigned) {
  tally(__func__);
  const char *forced = std::getenv("FAKE_CUDA_INIT_RESULT");
  return forced ? std::atoi(forced) : kSuccess;
}
CUresult cuDriverGetVersion(int *version) {
  tally(__func__);
  *version = 12040;
  return kSuccess;
}
CUresult cuGetErrorName(CUresult result, const char **name) {
  *name = errorName(result);
  return *name ? kSuccess : kInvalidValue;
}
CUresult cuGetErrorString(CUresult result, const char **text) {
  *text = errorString(result);
  return *text ? kSuccess : kInvalidValue;
}
CUresult cuDeviceGetCount(int *count) {
  tally(__func__);
  *count = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *device, int index) {
  tally(__func__);
  if (index != 0)
    return kInvalidValue;
  *device = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int length, int) {
  tally(__func__);
  std::strncpy(name, "kiln fake GPU", static_cast<size_t>(length));
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  tally(__func__);
  if (attribute == 75)
    *value = 9;
  else if (attribute == 76)
    *value = 0;
  else
    return kInvalidValue;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  tally(__func__);
  static int primary;
  *context = &primary;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) {
  tally(__func__);
  return kSuccess;
}
CUresult cuCtxSetCurrent(void *) {
  tally(__func__);
  return kSuccess;
}
CUresult cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
  tally(__func__);
  if (bytes > (size_t(1) << 30))
    return kOutOfMemory;
  *pointer = reinterpret_cast<unsigned long long>(std::calloc(bytes, 1));
  return kSuccess;
}
CUresult cuMemFree_v2(unsigned long long pointer) {
  tally(__func__);
  std::free(reinterpret_cast<void *>(pointer));
  return kSuccess;
}
CUresult cuMemAllocHost_v2(void **pointer, size_t bytes) {
  tally(__func__);
  *pointer = std::calloc(bytes, 1);
  return kSuccess;
}
CUresult cuMemFreeHost(void *pointer) {
  tally(__func__);
  std::free(pointer);
  return kSuccess;
}
CUresult cuMemcpyHtoDAsync_v2(unsigned long long to, const void *from,
                              size_t bytes, Stream *stream) {
  tally(__func__);
  if (stream && stream->capturing)
    return kIllegalCapture; // kiln uploads outside the captured graph
  if (!idleGpu()) // a real GPU's copy engine takes no host time
    std::memcpy(reinterpret_cast<void *>(to), from, bytes);
  return kSuccess;
}
CUresult cuMemcpyDtoHAsync_v2(void *to, unsigned long long from, size_t bytes,
                              Stream *stream) {
  tally(__func__);
  if (stream && stream->capturing)
    return kIllegalCapture;
  if (!idleGpu())
    std::memcpy(to, reinterpret_cast<const void *>(from), bytes);
  return kSuccess;
}
CUresult cuMemsetD8Async(unsigned long long to, unsigned char value,
                         size_t bytes, Stream *) {
  tally(__func__);
  std::memset(reinterpret_cast<void *>(to), value, bytes);
  return kSuccess;
}
CUresult cuStreamCreate(Stream **stream, unsigned) {
  tally(__func__);
  *stream = new Stream();
  return kSuccess;
}
CUresult cuStreamDestroy_v2(Stream *stream) {
  tally(__func__);
  delete stream;
  return kSuccess;
}
CUresult cuStreamSynchronize(Stream *) {
  tally(__func__);
  return kSuccess;
}
CUresult cuStreamWaitEvent(Stream *, void *, unsigned) {
  tally(__func__);
  return kSuccess;
}
CUresult cuEventCreate(void **event, unsigned) {
  tally(__func__);
  *event = new int(0);
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *event) {
  tally(__func__);
  delete static_cast<int *>(event);
  return kSuccess;
}
CUresult cuEventRecord(void *, Stream *) {
  tally(__func__);
  return kSuccess;
}
CUresult cuEventSynchronize(void *) {
  tally(__func__);
  return kSuccess;
}
CUresult cuModuleLoadData(Module **module, const void *image) {
  tally(__func__);
  std::istringstream words(static_cast<const char *>(image));
  std::string magic;
  if (!(words >> magic) || magic != "FAKE") {
    if (idleGpu()) {
      *module = new Module();
      (*module)->idle = true;
      return kSuccess;
    }
    const Shim *shim = shimLibrary();
    if (!shim)
      return kInvalidImage;
    *module = new Module();
    (*module)->shim = shim;
    return kSuccess;
  }
  *module = new Module();
  for (std::string name; words >> name;)
    (*module)->kernels.push_back(name);
  return kSuccess;
}
CUresult cuModuleUnload(Module *module) {
  tally(__func__);
  delete module;
  return kSuccess;
}
CUresult cuModuleGetFunction(Function **function, Module *module,
                             const char *name) {
  tally(__func__);
  static std::vector<Function *> functions; // live with the process
  if (module->idle) {
    functions.push_back(new Function{name, nullptr, 0, true});
    *function = functions.back();
    return kSuccess;
  }
  if (module->shim) {
    int arity = module->shim->arity(name);
    if (arity < 0)
      return kNotFound;
    functions.push_back(new Function{name, module->shim, arity});
    *function = functions.back();
    return kSuccess;
  }
  for (const std::string &kernel : module->kernels)
    if (kernel == name) {
      functions.push_back(new Function{kernel});
      *function = functions.back();
      return kSuccess;
    }
  return kNotFound;
}
CUresult cuLaunchKernel(Function *function, unsigned gx, unsigned gy,
                        unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned, Stream *stream, void **arguments, void **) {
  tally(__func__);
  const unsigned grid[] = {gx, gy, gz}, block[] = {bx, by, bz};
  Launch launch = function->idle   ? Launch([] {})
                  : function->shim ? shimBody(*function, grid, block, arguments)
                                   : kernelBody(function->name, arguments);
  if (!launch)
    return kInvalidValue;
  if (stream->capturing)
    stream->captured.push_back(launch);
  else
    run(launch);
  return kSuccess;
}
CUresult cuStreamBeginCapture_v2(Stream *stream, int) {
  tally(__func__);
  stream->capturing = true;
  stream->captured.clear();
  return kSuccess;
}
CUresult cuStreamEndCapture(Stream *stream, Graph **graph) {
  tally(__func__);
  stream->capturing = false;
  *graph = new Graph{stream->captured};
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(Graph **exec, Graph *graph,
                                     unsigned long long) {
  tally(__func__);
  *exec = new Graph(*graph);
  return kSuccess;
}
CUresult cuGraphLaunch(Graph *exec, Stream *) {
  tally(__func__);
  for (const Launch &launch : exec->launches)
    run(launch);
  return kSuccess;
}
CUresult cuGraphExecDestroy(Graph *exec) {
  tally(__func__);
  delete exec;
  return kSuccess;
}
CUresult cuGraphDestroy(Graph *graph) {
  tally(__func__);
  delete graph;
  return kSuccess;
}

long long fake_cuda_calls(const char *entryPoint) {
  auto found = callCounts().find(entryPoint);
  return found == callCounts().end() ? 0 : found->second;
}

} // extern "C"
