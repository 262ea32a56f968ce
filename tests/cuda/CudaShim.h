// Runs kiln's generated CUDA kernels on the CPU, for testing without a GPU:
// included before a generated source compiled as plain host C++. Each block
// runs its threads one after another as fibers (ucontext), switching at
// __syncthreads and warp shuffles, so block reductions and shared memory
// behave as on a GPU; `__shared__` variables become function statics,
// shared by the threads of the one block that runs at a time. A kernel whose
// first thread finishes without a barrier runs its other threads as plain
// calls.
//
// The test that compiles a source appends a table naming its kernels:
//   KILN_SHIM_KERNELS_BEGIN
//   KILN_SHIM_KERNEL(add_relu_3)
//   KILN_SHIM_KERNELS_END
// and calls kiln_shim_launch(name, grid, block, args) per launch, `args`
// holding a pointer to each kernel parameter as cuLaunchKernel takes them;
// kiln_shim_arity(name) says how many there are.
#ifndef KILN_TESTS_CUDASHIM_H
#define KILN_TESTS_CUDASHIM_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <ucontext.h>

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(threads)
#define __shared__ static

namespace kiln_shim {

enum class State { Ready, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
  ucontext_t context;
  uint3 thread;
  State state = State::Ready;
  unsigned shuffles = 0; // which exchange buffer the next shuffle uses
};

struct Launch {
  dim3 grid, block;
  uint3 blockIdx, threadIdx;
  void (*body)(void **) = nullptr;
  void **args = nullptr;
  bool fibers = false; // threads run as fibers (else as plain calls)
  std::vector<Fiber> threads;
  std::vector<std::unique_ptr<char[]>> stacks;
  Fiber *current = nullptr;
  ucontext_t scheduler;
  std::vector<uint64_t> exchange[2]; // warp shuffles, one slot per thread
};

inline Launch &launch() {
  static Launch state;
  return state;
}

[[noreturn]] inline void fail(const char *what) {
  std::fprintf(stderr, "cuda shim: %s\n", what);
  std::abort();
}

inline unsigned linearThread() {
  const Launch &l = launch();
  return (l.threadIdx.z * l.block.y + l.threadIdx.y) * l.block.x +
         l.threadIdx.x;
}

// Suspends the running thread until the barrier of `scope` releases it.
inline void wait(State scope) {
  Launch &l = launch();
  if (!l.fibers)
    fail("a barrier in a kernel whose first thread passed none; the shim "
         "needs every thread of a block to meet the same barriers");
  l.current->state = scope;
  swapcontext(&l.current->context, &l.scheduler);
}

inline void fiberMain() {
  Launch &l = launch();
  l.body(l.args);
  l.current->state = State::Done; // uc_link returns to the scheduler
}

// Releases every barrier that all its threads have reached; false if none.
inline bool release() {
  Launch &l = launch();
  size_t count = l.threads.size();
  bool released = false, blockWide = true;
  for (Fiber &f : l.threads)
    blockWide &= f.state == State::Done || f.state == State::AtBlockBarrier;
  if (blockWide) {
    for (Fiber &f : l.threads) {
      if (f.state == State::AtBlockBarrier) {
        f.state = State::Ready;
        released = true;
      }
    }
    return released;
  }
  for (size_t warp = 0; warp < count; warp += 32) {
    size_t end = std::min(count, warp + 32);
    bool all = true, any = false;
    for (size_t t = warp; t < end; ++t) {
      all &= l.threads[t].state == State::Done ||
             l.threads[t].state == State::AtWarpBarrier;
      any |= l.threads[t].state == State::AtWarpBarrier;
    }
    if (!all || !any)
      continue;
    for (size_t t = warp; t < end; ++t) {
      if (l.threads[t].state == State::AtWarpBarrier)
        l.threads[t].state = State::Ready;
    }
    released = true;
  }
  return released;
}

inline void runBlockAsFibers() {
  Launch &l = launch();
  constexpr size_t kStack = 64 * 1024;
  size_t count = l.threads.size();
  while (l.stacks.size() < count)
    l.stacks.push_back(std::make_unique<char[]>(kStack));
  for (size_t t = 0; t < count; ++t) {
    Fiber &f = l.threads[t];
    f.state = State::Ready;
    f.shuffles = 0;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = l.stacks[t].get();
    f.context.uc_stack.ss_size = kStack;
    f.context.uc_link = &l.scheduler;
    makecontext(&f.context, fiberMain, 0);
  }
  for (;;) {
    bool running = false;
    for (Fiber &f : l.threads) {
      if (f.state != State::Ready)
        continue;
      running = true;
      l.current = &f;
      l.threadIdx = f.thread;
      swapcontext(&l.scheduler, &f.context);
    }
    bool done =
        std::all_of(l.threads.begin(), l.threads.end(),
                    [](const Fiber &f) { return f.state == State::Done; });
    if (done)
      return;
    if (!release() && !running)
      fail("the threads of a block wait at different barriers (deadlock)");
  }
}

inline void run(dim3 grid, dim3 block, void (*body)(void **), void **args) {
  Launch &l = launch();
  l.grid = grid;
  l.block = block;
  l.body = body;
  l.args = args;
  l.threads.assign(size_t{block.x} * block.y * block.z, Fiber{});
  for (unsigned z = 0, t = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x)
        l.threads[t++].thread = {x, y, z};
  for (auto &buffer : l.exchange)
    buffer.assign(l.threads.size(), 0);
  l.fibers = false;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        l.blockIdx = {x, y, z};
        if (l.fibers) {
          runBlockAsFibers();
          continue;
        }
        // First thread of the first block as a fiber: does it sync?
        Fiber &first = l.threads[0];
        if (l.stacks.empty())
          l.stacks.push_back(std::make_unique<char[]>(64 * 1024));
        first.state = State::Ready;
        getcontext(&first.context);
        first.context.uc_stack.ss_sp = l.stacks[0].get();
        first.context.uc_stack.ss_size = 64 * 1024;
        first.context.uc_link = &l.scheduler;
        makecontext(&first.context, fiberMain, 0);
        l.fibers = true;
        l.current = &first;
        l.threadIdx = first.thread;
        swapcontext(&l.scheduler, &first.context);
        if (first.state != State::Done) {
          runBlockAsFibers(); // it synced: this block again, as fibers
          continue;
        }
        l.fibers = false;
        for (size_t t = 1; t < l.threads.size(); ++t) {
          l.threadIdx = l.threads[t].thread;
          body(args);
        }
      }
}

template <typename... P, size_t... I>
void call(void (*kernel)(P...), void **args, std::index_sequence<I...>) {
  kernel(*static_cast<P *>(args[I])...);
}

template <typename... P> constexpr size_t arity(void (*)(P...)) {
  return sizeof...(P);
}

template <auto Kernel> void invoke(void **args) {
  call(Kernel, args, std::make_index_sequence<arity(Kernel)>());
}

struct KernelEntry {
  const char *name;
  void (*invoke)(void **);
  int arity; // kernel parameters, all pointers in kiln's kernels
};

} // namespace kiln_shim

#define threadIdx (kiln_shim::launch().threadIdx)
#define blockIdx (kiln_shim::launch().blockIdx)
#define blockDim (kiln_shim::launch().block)
#define gridDim (kiln_shim::launch().grid)

inline void __syncthreads() {
  kiln_shim::wait(kiln_shim::State::AtBlockBarrier);
}

template <typename T> T __shfl_down_sync(unsigned, T value, int delta) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "8-byte values at most");
  kiln_shim::Launch &l = kiln_shim::launch();
  unsigned me = kiln_shim::linearThread();
  // Two buffers: a lane cannot overwrite the one being read until every
  // lane has passed the next shuffle's barrier.
  std::vector<uint64_t> &slots = l.exchange[l.current->shuffles++ % 2];
  std::memcpy(&slots[me], &value, sizeof(T));
  kiln_shim::wait(kiln_shim::State::AtWarpBarrier);
  unsigned from = me + static_cast<unsigned>(delta);
  if (me % 32 + static_cast<unsigned>(delta) < 32 && from < l.threads.size())
    std::memcpy(&value, &slots[from], sizeof(T));
  return value;
}

inline float __int_as_float(int bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline double __longlong_as_double(long long bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

using std::max;
using std::min;

extern "C" const kiln_shim::KernelEntry kiln_shim_kernels[];

/// Runs kernel `name` over the grid; returns 0, or 1 for an unknown kernel.
extern "C" int kiln_shim_launch(const char *name, const unsigned *grid,
                                const unsigned *block, void **args) {
  for (const kiln_shim::KernelEntry *k = kiln_shim_kernels; k->name; ++k) {
    if (std::strcmp(k->name, name) != 0)
      continue;
    kiln_shim::run({grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]},
                   k->invoke, args);
    return 0;
  }
  return 1;
}

/// The number of parameters of kernel `name`, or -1 for an unknown kernel.
extern "C" int kiln_shim_arity(const char *name) {
  for (const kiln_shim::KernelEntry *k = kiln_shim_kernels; k->name; ++k) {
    if (std::strcmp(k->name, name) == 0)
      return k->arity;
  }
  return -1;
}

#define KILN_SHIM_KERNELS_BEGIN                                                \
  extern "C" const kiln_shim::KernelEntry kiln_shim_kernels[] = {
#define KILN_SHIM_KERNEL(name)                                                 \
  {#name, &kiln_shim::invoke<&name>, static_cast<int>(kiln_shim::arity(&name))},
#define KILN_SHIM_KERNELS_END                                                  \
  { nullptr, nullptr, 0 }                                                      \
  }                                                                            \
  ;

#endif // KILN_TESTS_CUDASHIM_H
