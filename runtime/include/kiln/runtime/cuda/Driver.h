// The CUDA driver API, opened at run time: kiln links no CUDA library, so a
// kiln built with CUDA support still starts, and trains on the CPU, on a
// machine with no GPU and no driver.
//
//   std::string why;
//   if (!kiln::cuda::Driver::available(&why))
//     std::puts(why.c_str());   // "no CUDA driver found (libcuda.so.1: ...)"
//   kiln::cuda::Driver &cu = kiln::cuda::Driver::get();  // throws the same
//   kiln::cuda::DeviceInfo info = cu.device(0);          // name, sm_XY
//
// Every call is checked: a failure throws kiln::Error naming the call and
// CUDA's own name and description of the error. $KILN_CUDA_DRIVER names
// another library to open instead of libcuda.so.1 (the tests use a fake one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::cuda {

// The driver API's handle types, declared here so that no CUDA header is
// needed to build kiln.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

/// The entry points kiln uses, resolved from the library by name.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocHost)(void **, size_t);
  CUresult (*cuMemFreeHost)(void *);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
};

/// What kiln needs to know of a device.
struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0; ///< compute capability, e.g. 9.0 for an H100/H200
  int minor = 0;
  /// "sm_90": the architecture NVRTC compiles for.
  std::string arch() const {
    return "sm_" + std::to_string(major) + std::to_string(minor);
  }
};

class Driver {
public:
  /// The process's driver, opened and initialised (cuInit) on first use.
  /// Throws kiln::Error starting "no CUDA driver found" when the library
  /// cannot be opened or lacks an entry point, or "CUDA cannot start" when
  /// cuInit fails (no device, driver too old for ...).
  static Driver &get();
  /// Whether get() succeeds; if not and `why` is given, the reason.
  static bool available(std::string *why = nullptr);

  int deviceCount();
  /// Throws kiln::Error naming the devices there are for a bad index.
  DeviceInfo device(int index);
  /// The driver's CUDA version, e.g. 12040 for 12.4.
  int version();

  /// Throws kiln::Error for a failed call: "CUDA error in <call>:
  /// CUDA_ERROR_X (<description>)", plus `hint` when given.
  void check(CUresult result, const char *call, const char *hint = nullptr);

  const DriverApi &api() const { return api_; }

private:
  Driver() = default;
  DriverApi api_{};
  void *library_ = nullptr;
};

/// Makes device `index`'s primary context current on this thread, retaining
/// it for as long as the Context lives.
class Context {
public:
  explicit Context(int index);
  ~Context();
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;
  void makeCurrent();
  const DeviceInfo &info() const { return info_; }

private:
  DeviceInfo info_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
};

/// Device memory, freed with its owner.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  CUdeviceptr get() const { return pointer_; }
  size_t size() const { return bytes_; }

private:
  CUdeviceptr pointer_ = 0;
  size_t bytes_ = 0;
};

/// Page-locked host memory, so copies to and from the device are
/// asynchronous.
class PinnedBuffer {
public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer &&other) noexcept;
  PinnedBuffer &operator=(PinnedBuffer &&other) noexcept;
  void *get() const { return pointer_; }
  size_t size() const { return bytes_; }

private:
  void *pointer_ = nullptr;
  size_t bytes_ = 0;
};

class Stream {
public:
  Stream();
  ~Stream();
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  CUstream get() const { return stream_; }
  void synchronize();

private:
  CUstream stream_ = nullptr;
};

class Event {
public:
  Event();
  ~Event();
  Event(const Event &) = delete;
  Event &operator=(const Event &) = delete;
  CUevent get() const { return event_; }
  void record(Stream &stream);
  /// Makes `stream` wait, on the device, for the work this event marks.
  void makeWait(Stream &stream);
  /// Waits, on the host, for the work this event marks.
  void synchronize();

private:
  CUevent event_ = nullptr;
};

/// A loaded cubin or PTX image and the kernels in it.
class Module {
public:
  /// `image`: a cubin, or NUL-terminated PTX text. `what` names it in errors.
  Module(const void *image, const std::string &what);
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  /// Throws kiln::Error naming the kernel and the module when it is absent.
  CUfunction function(const std::string &name);

private:
  CUmodule module_ = nullptr;
  std::string what_;
};

/// A sequence of launches recorded once from a stream and replayed.
class Graph {
public:
  Graph() = default;
  ~Graph();
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;
  /// Records everything `record` enqueues on `stream`, then instantiates it.
  template <class Record> void capture(Stream &stream, Record &&record) {
    beginCapture(stream);
    try {
      record();
    } catch (...) {
      abandonCapture(stream);
      throw;
    }
    endCapture(stream);
  }
  bool captured() const { return exec_ != nullptr; }
  void launch(Stream &stream);

private:
  void beginCapture(Stream &stream);
  void endCapture(Stream &stream);
  void abandonCapture(Stream &stream) noexcept;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
};

/// Launches `kernel` on `stream` with the kernel's arguments as an array of
/// pointers to each argument's value, as cuLaunchKernel takes them.
void launch(CUfunction kernel, const unsigned grid[3], const unsigned block[3],
            unsigned sharedBytes, Stream &stream, void **arguments,
            const std::string &name);

} // namespace kiln::cuda
