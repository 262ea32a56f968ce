// The thread pool compiled code runs its parallel loops on: spin-waiting
// workers, so that a parallel region costs about a microsecond, which a
// batch-4 LeNet step (a few hundred microseconds, a dozen regions) can afford.
#ifndef KILN_RUNTIME_PARALLEL_H
#define KILN_RUNTIME_PARALLEL_H

#include <cstdint>

extern "C" {
/// A parallel loop's body: runs iterations [begin, end) of the loop, with
/// `context` holding the values the body reads from its caller.
typedef void (*kiln_task_fn)(void *context, int64_t begin, int64_t end);

/// Runs body(context, b, e) over contiguous parts [b, e) of [begin, end),
/// one part per thread, the calling thread taking the first; returns when
/// all are done. Parts are split the same way whatever the timing, and at
/// most threads() of them run at once. Compiled code calls this; it is
/// exported by libkiln_runtime for AOT programs. A call from inside a part,
/// or while another thread's call holds the pool, runs serially in the
/// caller, so calls never deadlock.
void kiln_parallel_for(kiln_task_fn body, void *context, int64_t begin,
                       int64_t end);
}

namespace kiln {

/// The number of threads this machine runs at once (at least 1): the
/// default of every "threads" setting.
int hardwareThreads();

/// Limits the threads kiln_parallel_for uses for calls from this thread while
/// the scope lives (Program sets it around each call of compiled code). Worker
/// threads are started the first time a limit above one is set.
class ThreadLimit {
public:
  explicit ThreadLimit(int threads);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit &) = delete;
  ThreadLimit &operator=(const ThreadLimit &) = delete;

private:
  int previous_;
};

/// Starts the pool's worker threads, so that at least `threads` threads
/// (counting the caller) can run parts; a no-op for 1 or when they already
/// exist. Allocates, so Program calls it when built rather than in a step.
void reserveThreads(int threads);

} // namespace kiln

#endif // KILN_RUNTIME_PARALLEL_H
