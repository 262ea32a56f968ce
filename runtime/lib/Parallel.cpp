// The spin-waiting thread pool behind kiln_parallel_for.
//
// One job at a time: the caller publishes it (claim_ and signal_), then it
// and the workers claim parts one by one until none is left, and the caller
// spins until all have finished. Workers spin on `signal_` for a while after
// each job, so that the next region of the same step starts in well under a
// microsecond, then sleep on it (a futex) until woken.
#include "kiln/runtime/Parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_PAUSE() _mm_pause()
#else
#define KILN_PAUSE() std::this_thread::yield()
#endif

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
// How long an idle worker spins before it sleeps: longer than the gap
// between two parallel regions of a step, or between two steps.
constexpr auto kSpinTime = std::chrono::microseconds(500);
constexpr int kMaxParts = 255;
// Spins (about 10-40 ns each) before an idle worker starts yielding.
constexpr int kPauseSpins = 256;
// How long the caller waits for workers' parts before it starts yielding.
constexpr auto kCallerSpinTime = std::chrono::microseconds(100);

thread_local int threadLimit = 0; // 0: every hardware thread
thread_local bool insidePart = false;

void runPart(kiln_task_fn body, void *context, int64_t begin, int64_t end,
             int part, int parts) {
  int64_t n = end - begin;
  int64_t from = begin + n * part / parts, to = begin + n * (part + 1) / parts;
  if (from < to)
    body(context, from, to);
}

class Pool {
public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(submit_);
      stop_.store(true);
      signal_.fetch_add(1);
      signal_.notify_all();
    }
    for (std::thread &worker : workers_)
      worker.join();
  }

  /// Threads that can run parts at once, the caller included.
  int capacity() const { return capacity_.load(std::memory_order_acquire); }

  void reserve(int threads) {
    threads = std::min(threads, kMaxParts);
    std::lock_guard<std::mutex> lock(submit_); // no job runs while we grow
    while (static_cast<int>(workers_.size()) + 1 < threads) {
      uint32_t seen = signal_.load();
      workers_.emplace_back([this, seen] { work(seen); });
    }
    capacity_.store(static_cast<int>(workers_.size()) + 1,
                    std::memory_order_release);
  }

  /// Runs the job's `parts` parts on the caller and the workers; false if
  /// another caller holds the pool (the caller then runs it alone).
  bool run(kiln_task_fn body, void *context, int64_t begin, int64_t end,
           int parts) {
    if (!submit_.try_lock())
      return false;
    body_ = body;
    context_ = context;
    begin_ = begin;
    end_ = end;
    finished_.store(0, std::memory_order_relaxed);
    uint32_t generation = ++generation_;
    claim_.store(uint64_t{generation} << 32 | uint64_t(parts) << 16);
    signal_.store(generation);
    if (sleepers_.load() > 0)
      signal_.notify_all();
    runParts(generation);
    // A worker is still in its part, most likely on another core: yielding
    // now could hand ours to another program for a whole time slice. Only
    // a long wait suggests the worker shares our core, and then we yield.
    Clock::time_point yieldAfter{};
    for (int spins = 0; finished_.load(std::memory_order_acquire) != parts;
         ++spins) {
      KILN_PAUSE();
      if (spins % 256 != 255)
        continue;
      if (yieldAfter == Clock::time_point{})
        yieldAfter = Clock::now() + kCallerSpinTime;
      else if (Clock::now() > yieldAfter)
        std::this_thread::yield();
    }
    submit_.unlock();
    return true;
  }

private:
  // Claims and runs parts of job `generation` until none is left. Whoever
  // is running takes the next part, so a worker the OS has not scheduled
  // delays nothing; which thread runs a part never changes what it computes.
  void runParts(uint32_t generation) {
    insidePart = true;
    uint64_t claim = claim_.load(std::memory_order_acquire);
    for (;;) {
      uint32_t next = claim & 0xffff, parts = (claim >> 16) & 0xffff;
      if (claim >> 32 != generation || next >= parts)
        break;
      if (!claim_.compare_exchange_weak(claim, claim + 1,
                                        std::memory_order_acq_rel))
        continue;
      // The job stays put until every part has finished, this one too.
      runPart(body_, context_, begin_, end_, static_cast<int>(next),
              static_cast<int>(parts));
      finished_.fetch_add(1, std::memory_order_release);
      claim = claim_.load(std::memory_order_acquire);
    }
    insidePart = false;
  }

  void work(uint32_t seen) {
    for (;;) {
      seen = waitForChange(seen);
      if (stop_.load(std::memory_order_acquire))
        return;
      runParts(seen);
    }
  }

  uint32_t waitForChange(uint32_t seen) {
    Clock::time_point spinUntil = Clock::now() + kSpinTime;
    for (int spins = 0;; ++spins) {
      uint32_t current = signal_.load(std::memory_order_acquire);
      if (current != seen)
        return current;
      KILN_PAUSE();
      // Past the first microseconds, offer the core to whatever else could
      // run on it: on a busy machine that is often the caller itself, and a
      // spinning worker sharing its core would halve its speed.
      if (spins >= kPauseSpins)
        std::this_thread::yield();
      if (spins % 64 == 63 && Clock::now() > spinUntil)
        break;
    }
    // Sleep. The caller bumps signal_ before reading sleepers_, and we count
    // ourselves before rereading signal_, so one of us sees the other.
    for (;;) {
      sleepers_.fetch_add(1);
      uint32_t current = signal_.load();
      if (current == seen)
        signal_.wait(seen);
      sleepers_.fetch_sub(1);
      current = signal_.load(std::memory_order_acquire);
      if (current != seen)
        return current;
    }
  }

  std::mutex submit_;
  std::vector<std::thread> workers_;
  std::atomic<int> capacity_{1};
  std::atomic<bool> stop_{false};
  uint32_t generation_ = 0; // written under submit_ only
  alignas(64) std::atomic<uint32_t> signal_{0};
  alignas(64) std::atomic<uint64_t> claim_{0}; // generation, parts, next part
  alignas(64) std::atomic<int> finished_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  // The job, written by the caller before it publishes claim_.
  alignas(64) kiln_task_fn body_ = nullptr;
  void *context_ = nullptr;
  int64_t begin_ = 0, end_ = 0;
};

Pool &pool() {
  static Pool instance;
  return instance;
}

int limitOf(int threads) {
  return threads > 0 ? std::min(threads, kMaxParts) : hardwareThreads();
}

} // namespace

int hardwareThreads() {
  static const int count = std::clamp(
      static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxParts);
  return count;
}

ThreadLimit::ThreadLimit(int threads) : previous_(threadLimit) {
  threadLimit = limitOf(threads);
}

ThreadLimit::~ThreadLimit() { threadLimit = previous_; }

void reserveThreads(int threads) {
  threads = limitOf(threads);
  if (threads > pool().capacity())
    pool().reserve(threads);
}

} // namespace kiln

extern "C" void kiln_parallel_for(kiln_task_fn body, void *context,
                                  int64_t begin, int64_t end) {
  using namespace kiln;
  int64_t n = end - begin;
  if (n <= 0)
    return;
  int parts = static_cast<int>(std::min<int64_t>(limitOf(threadLimit), n));
  if (parts > 1 && !insidePart) {
    reserveThreads(parts);
    parts = std::min(parts, pool().capacity());
    if (parts > 1 && pool().run(body, context, begin, end, parts))
      return;
  }
  body(context, begin, end);
}
