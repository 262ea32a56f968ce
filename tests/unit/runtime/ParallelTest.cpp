// Tests for kiln_parallel_for: every iteration once, in contiguous parts
// split the same way every time, serial when limited, nested or contended.
#include "kiln/runtime/Parallel.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

/// What one kiln_parallel_for call did: per iteration, how often it ran,
/// and the ranges the body was called with.
struct Record {
  std::vector<std::atomic<int>> runs;
  std::mutex mutex;
  std::set<std::pair<int64_t, int64_t>> ranges;
  std::set<std::thread::id> threads;
  explicit Record(int64_t n) : runs(n) {}
};

void recordBody(void *context, int64_t begin, int64_t end) {
  auto *record = static_cast<Record *>(context);
  for (int64_t i = begin; i < end; ++i)
    record->runs[i].fetch_add(1);
  std::lock_guard<std::mutex> lock(record->mutex);
  record->ranges.insert({begin, end});
  record->threads.insert(std::this_thread::get_id());
}

bool eachRanOnce(const Record &record) {
  return std::all_of(record.runs.begin(), record.runs.end(),
                     [](const std::atomic<int> &runs) { return runs == 1; });
}

} // namespace

TEST_CASE("kiln_parallel_for runs each iteration once, in fixed parts",
          "[parallel]") {
  kiln::ThreadLimit limit(3);
  Record record(10);
  kiln_parallel_for(recordBody, &record, 0, 10);
  CHECK(eachRanOnce(record));
  // 10 iterations over 3 parts: [0, 3), [3, 6), [6, 10), whichever threads
  // happened to run them.
  CHECK(record.ranges ==
        std::set<std::pair<int64_t, int64_t>>{{0, 3}, {3, 6}, {6, 10}});

  Record offset(8);
  kiln_parallel_for(
      [](void *context, int64_t begin, int64_t end) {
        recordBody(context, begin - 100, end - 100);
      },
      &offset, 100, 108);
  CHECK(eachRanOnce(offset));
  CHECK(offset.ranges.size() == 3);
}

TEST_CASE("kiln_parallel_for with fewer iterations than threads",
          "[parallel]") {
  kiln::ThreadLimit limit(4);
  Record record(2);
  kiln_parallel_for(recordBody, &record, 0, 2);
  CHECK(eachRanOnce(record));
  CHECK(record.ranges == std::set<std::pair<int64_t, int64_t>>{{0, 1}, {1, 2}});
  Record none(1);
  kiln_parallel_for(recordBody, &none, 5, 5); // empty: no call at all
  kiln_parallel_for(recordBody, &none, 5, 3);
  CHECK(none.ranges.empty());
}

TEST_CASE("a limit of one thread runs the whole range on the caller",
          "[parallel]") {
  kiln::ThreadLimit limit(1);
  Record record(100);
  kiln_parallel_for(recordBody, &record, 0, 100);
  CHECK(eachRanOnce(record));
  CHECK(record.ranges == std::set<std::pair<int64_t, int64_t>>{{0, 100}});
  CHECK(record.threads ==
        std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("a call from inside a part runs serially", "[parallel]") {
  kiln::ThreadLimit limit(2);
  struct Nested {
    Record inner{20};
  } nested;
  kiln_parallel_for(
      [](void *context, int64_t begin, int64_t end) {
        auto *n = static_cast<Nested *>(context);
        // Each part runs its half of the inner loop as one range.
        kiln_parallel_for(recordBody, &n->inner, begin * 10, end * 10);
      },
      &nested, 0, 2);
  CHECK(eachRanOnce(nested.inner));
  CHECK(nested.inner.ranges ==
        std::set<std::pair<int64_t, int64_t>>{{0, 10}, {10, 20}});
}

TEST_CASE("callers on several threads at once all finish, each correct",
          "[parallel]") {
  constexpr int kCallers = 4, kCalls = 200;
  std::vector<std::unique_ptr<Record>> records;
  for (int i = 0; i < kCallers * kCalls; ++i)
    records.push_back(std::make_unique<Record>(7));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      kiln::ThreadLimit limit(2);
      for (int i = 0; i < kCalls; ++i)
        kiln_parallel_for(recordBody, records[c * kCalls + i].get(), 0, 7);
    });
  }
  for (std::thread &caller : callers)
    caller.join();
  for (const auto &record : records) {
    REQUIRE(eachRanOnce(*record));
    // Run by the pool ({0,3},{3,7}) or, when it was busy, in one piece.
    bool split =
        record->ranges == std::set<std::pair<int64_t, int64_t>>{{0, 3}, {3, 7}};
    bool whole =
        record->ranges == std::set<std::pair<int64_t, int64_t>>{{0, 7}};
    REQUIRE((split || whole));
  }
}

TEST_CASE("the pool starts the threads it is asked for", "[parallel]") {
  kiln::reserveThreads(3);
  kiln::ThreadLimit limit(3);
  // Three parts that each wait (up to 10 s) for all three to have started:
  // they all see three only if three threads ran them at the same time.
  struct Meeting {
    std::atomic<int> arrived{0}, sawAll{0};
  } meeting;
  kiln_parallel_for(
      [](void *context, int64_t, int64_t) {
        auto *m = static_cast<Meeting *>(context);
        m->arrived.fetch_add(1);
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (m->arrived.load() < 3 &&
               std::chrono::steady_clock::now() < deadline)
          std::this_thread::yield();
        if (m->arrived.load() == 3)
          m->sawAll.fetch_add(1);
      },
      &meeting, 0, 3);
  CHECK(meeting.arrived == 3);
  CHECK(meeting.sawAll == 3);
  CHECK(kiln::hardwareThreads() >= 1);
}
