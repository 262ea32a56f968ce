// The CUDA plan of a compiled program: the CUDA C++ source of its kernels and,
// per entry point, the launches that run it. What the compiler hands the CUDA
// executor (and what an AOT bundle embeds). No MLIR and no CUDA types here.
//
// How to run an entry point of a CudaProgram on a device:
//
//   1. Compile `source` once for the device (NVRTC, see kiln/runtime/Nvrtc.h)
//      and look up each launch's `kernel` by name: every kernel is
//      `extern "C" __global__`, so its name is not mangled.
//   2. Buffers. Every kernel parameter is one device pointer. It points either
//      into the entry's arena (KernelArg::Kind::Arena, a byte offset) or at
//      the buffer of one of the entry's arguments (KernelArg::Kind::Argument,
//      an index into CudaEntry::args). The arguments are the CPU entry point's
//      (kiln/runtime/Program.h), in the same order and with the same roles,
//      minus the CPU arena argument:
//        Param   one device buffer per parameter name, shared by every entry
//                and kept between calls (train_step updates it in place);
//        State   likewise per state name, zero at the start (optimizer state);
//        Step    an int64 scalar holding the number of optimizer updates done
//                before this call (the CPU Program's stepsTaken()): upload it
//                before each train_step, the kernels only read it;
//        Input   uploaded before the call (images float, labels int64);
//        Output  read back after the call (the loss, the logits).
//      A buffer holds its ArgSpec's shape, dtype and row-major layout.
//   3. The arena: `arenaBytes` of device memory whose start is aligned to
//      kCudaArenaAlignment bytes. It needs no zeroing and nothing in it
//      survives a call, so entries that never run at the same time may share
//      one arena of the largest size.
//   4. Run `launches` in order on one stream (each may read what any earlier
//      one wrote): cuLaunchKernel(function, grid, block, sharedBytes, stream,
//      kernelParams), where kernelParams[i] points at the device pointer of
//      args[i]. The sequence is the same on every call, so it can be captured
//      once as a CUDA graph and replayed.
//
// Every kernel writes each element of its outputs exactly once and uses no
// atomics, so a call is deterministic and needs no memset between launches.
#ifndef KILN_RUNTIME_CUDAPROGRAM_H
#define KILN_RUNTIME_CUDAPROGRAM_H

#include "kiln/runtime/Program.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cuda {

/// Arena offsets are multiples of this, and the arena's start must be too.
constexpr int64_t kCudaArenaAlignment = 256;

/// Where one kernel parameter (a device pointer) points.
struct KernelArg {
  enum class Kind { Arena, Argument };
  Kind kind = Kind::Arena;
  /// Arena: byte offset from the arena's start. Argument: index into
  /// CudaEntry::args.
  int64_t value = 0;

  static KernelArg arena(int64_t offset) { return {Kind::Arena, offset}; }
  static KernelArg argument(int64_t index) { return {Kind::Argument, index}; }
  bool operator==(const KernelArg &) const = default;
};

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
  bool operator==(const Dim3 &) const = default;
  uint64_t count() const { return uint64_t{x} * y * z; }
};

/// One kernel launch of an entry point.
struct KernelLaunch {
  std::string kernel; ///< an extern "C" __global__ function of the source
  Dim3 grid, block;
  uint32_t sharedBytes = 0;    ///< dynamic shared memory per block
  std::vector<KernelArg> args; ///< one per kernel parameter, in order
  bool operator==(const KernelLaunch &) const = default;
};

/// One entry point (train_step, predict, ...).
struct CudaEntry {
  std::string name;
  /// As the CPU entry point's arguments, without its arena.
  std::vector<ArgSpec> args;
  int64_t arenaBytes = 0;
  std::vector<KernelLaunch> launches;
};

struct CudaProgram {
  /// CUDA C++ for NVRTC: every kernel of every entry point.
  std::string source;
  std::vector<CudaEntry> entries;

  /// The entry called `name`; throws kiln::Error naming the entries there are.
  const CudaEntry &entry(const std::string &name) const;
};

/// The plan as text: a header line, the source (length-prefixed, verbatim),
/// then one line per entry, argument and launch. parseCudaProgram checks
/// everything an executor relies on (kernel names present in the source,
/// arguments inside the arena or naming an argument, non-empty geometry) and
/// throws kiln::Error on text it did not write.
std::string formatCudaProgram(const CudaProgram &program);
CudaProgram parseCudaProgram(const std::string &text);

/// Bytes of one argument's buffer.
int64_t argumentBytes(const ArgSpec &arg);

} // namespace kiln::cuda

#endif // KILN_RUNTIME_CUDAPROGRAM_H
