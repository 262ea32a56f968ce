// Tests for BatchLoader: coverage, seeds, short batches, argument checks.
#include "kiln/runtime/data/BatchLoader.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;

namespace {

/// Ten 1x2x2 images, image i filled with the value i, labelled i.
kiln::Dataset makeDataset(int64_t count = 10) {
  kiln::Dataset data;
  data.images = Tensor::empty({count, 1, 2, 2});
  data.labels = Tensor::empty({count}, DType::I64);
  for (int64_t i = 0; i < count; ++i) {
    std::fill_n(data.images.data<float>() + 4 * i, 4, static_cast<float>(i));
    data.labels.data<int64_t>()[i] = i;
  }
  return data;
}

/// The labels of one full epoch, in order, checking each image matches it.
std::vector<int64_t> runEpoch(kiln::BatchLoader &loader, int64_t batchSize,
                              std::vector<int64_t> *counts = nullptr) {
  Tensor images = Tensor::empty({batchSize, 1, 2, 2});
  Tensor labels = Tensor::empty({batchSize}, DType::I64);
  std::vector<int64_t> seen;
  int64_t count = 0;
  loader.startEpoch();
  while (loader.next(images, labels, count)) {
    if (counts)
      counts->push_back(count);
    for (int64_t row = 0; row < batchSize; ++row) {
      double expected = row < count ? labels.at({row}) : 0.0;
      REQUIRE(images.at({row, 0, 1, 1}) == expected);
      if (row < count)
        seen.push_back(labels.data<int64_t>()[row]);
      else
        REQUIRE(labels.at({row}) == 0.0);
    }
  }
  return seen;
}

} // namespace

TEST_CASE("a shuffled epoch visits every sample exactly once",
          "[batchloader]") {
  kiln::Dataset data = makeDataset();
  kiln::BatchLoader loader(data, 4, /*shuffle=*/true, /*seed=*/7,
                           /*dropLast=*/false);
  CHECK(loader.batchesPerEpoch() == 3);

  std::vector<int64_t> counts;
  std::vector<int64_t> epoch = runEpoch(loader, 4, &counts);
  CHECK(counts == std::vector<int64_t>{4, 4, 2});
  std::vector<int64_t> sorted = epoch;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);
  CHECK(epoch != all);
}

TEST_CASE("the same seed gives the same order, each epoch a new one",
          "[batchloader]") {
  kiln::Dataset data = makeDataset();
  kiln::BatchLoader a(data, 3, true, 123, false);
  kiln::BatchLoader b(data, 3, true, 123, false);
  kiln::BatchLoader c(data, 3, true, 124, false);
  std::vector<int64_t> a1 = runEpoch(a, 3), a2 = runEpoch(a, 3);
  CHECK(a1 == runEpoch(b, 3));
  CHECK(a2 == runEpoch(b, 3));
  CHECK(a1 != a2);
  CHECK(a1 != runEpoch(c, 3));
}

TEST_CASE("without shuffling batches follow data set order", "[batchloader]") {
  kiln::Dataset data = makeDataset();
  kiln::BatchLoader loader(data, 4, false, 0, false);
  std::vector<int64_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  CHECK(runEpoch(loader, 4) == all);

  // next() starts the first epoch itself, and stops at its end.
  kiln::BatchLoader lazy(data, 5, false, 0, false);
  Tensor images = Tensor::empty({5, 1, 2, 2});
  Tensor labels = Tensor::empty({5}, DType::I64);
  int64_t count = -1;
  CHECK(lazy.next(images, labels, count));
  CHECK(count == 5);
  CHECK(labels.at({4}) == 4.0);
  CHECK(lazy.next(images, labels, count));
  CHECK(labels.at({0}) == 5.0);
  CHECK_FALSE(lazy.next(images, labels, count));
}

TEST_CASE("dropLast skips the short final batch", "[batchloader]") {
  kiln::Dataset data = makeDataset();
  kiln::BatchLoader loader(data, 4, true, 1, /*dropLast=*/true);
  CHECK(loader.batchesPerEpoch() == 2);
  std::vector<int64_t> counts;
  std::vector<int64_t> epoch = runEpoch(loader, 4, &counts);
  CHECK(counts == std::vector<int64_t>{4, 4});
  std::sort(epoch.begin(), epoch.end());
  CHECK(std::adjacent_find(epoch.begin(), epoch.end()) == epoch.end());
}

TEST_CASE("BatchLoader rejects bad arguments with a fix", "[batchloader]") {
  kiln::Dataset data = makeDataset();
  CHECK_THROWS_WITH(kiln::BatchLoader(data, 0, false, 0, false),
                    Contains("batch size is 0"));
  CHECK_THROWS_AS(kiln::BatchLoader(kiln::Dataset{}, 4, false, 0, false),
                  kiln::Error);

  kiln::BatchLoader loader(data, 4, false, 0, false);
  Tensor labels = Tensor::empty({4}, DType::I64);
  Tensor wrongShape = Tensor::empty({4, 1, 3, 3});
  int64_t count;
  CHECK_THROWS_WITH(
      loader.next(wrongShape, labels, count),
      Contains("contiguous float32 tensor of shape [4, 1, 2, 2]"));
  Tensor images = Tensor::empty({4, 1, 2, 2});
  Tensor floatLabels = Tensor::empty({4});
  CHECK_THROWS_WITH(loader.next(images, floatLabels, count),
                    Contains("contiguous int64 tensor of shape [4]"));
}

TEST_CASE("worker threads give the same batches as the caller's thread",
          "[batchloader]") {
  kiln::Dataset data = makeDataset(103);
  for (bool dropLast : {false, true}) {
    kiln::BatchLoader serial(data, 4, /*shuffle=*/true, /*seed=*/5, dropLast);
    std::vector<std::vector<int64_t>> expected;
    for (int epoch = 0; epoch < 3; ++epoch)
      expected.push_back(runEpoch(serial, 4));
    for (int workers : {1, 2, 3}) {
      kiln::BatchLoader parallel(data, 4, true, 5, dropLast,
                                 {workers, /*prefetch=*/2, nullptr});
      for (int epoch = 0; epoch < 3; ++epoch) {
        INFO("workers " << workers << ", epoch " << epoch);
        CHECK(runEpoch(parallel, 4) == expected[epoch]);
      }
    }
  }
}

TEST_CASE("an epoch restarted midway with workers starts clean",
          "[batchloader]") {
  kiln::Dataset data = makeDataset(40);
  kiln::BatchLoader reference(data, 4, true, 9, false);
  kiln::BatchLoader loader(data, 4, true, 9, false, {2, 3, nullptr});
  Tensor images = Tensor::empty({4, 1, 2, 2});
  Tensor labels = Tensor::empty({4}, DType::I64);
  int64_t count = 0;
  // Epoch 0: take two batches only, then move on; both loaders draw the
  // same orders, so epoch 1 must match.
  runEpoch(reference, 4);
  loader.startEpoch();
  REQUIRE(loader.next(images, labels, count));
  REQUIRE(loader.next(images, labels, count));
  CHECK(runEpoch(loader, 4) == runEpoch(reference, 4));
}

TEST_CASE("a transform is applied per image, the same with any worker count",
          "[batchloader]") {
  // Image i is [[i, i + 0.25], [i + 0.5, i + 0.75]]: a flip swaps columns.
  kiln::Dataset data = makeDataset(16);
  for (int64_t i = 0; i < 16; ++i) {
    for (int k = 0; k < 4; ++k)
      data.images.data<float>()[4 * i + k] = static_cast<float>(i + 0.25 * k);
  }
  auto flip = std::make_shared<kiln::RandomHorizontalFlip>(0.5);
  auto epochImages = [&](int workers) {
    kiln::BatchLoader loader(data, 4, false, 3, false, {workers, 2, flip});
    Tensor images = Tensor::empty({4, 1, 2, 2});
    Tensor labels = Tensor::empty({4}, DType::I64);
    std::vector<float> all;
    int64_t count = 0;
    loader.startEpoch();
    while (loader.next(images, labels, count))
      all.insert(all.end(), images.data<float>(), images.data<float>() + 16);
    return all;
  };
  std::vector<float> serial = epochImages(0);
  CHECK(serial == epochImages(2));
  int flipped = 0;
  for (int64_t i = 0; i < 16; ++i) {
    bool same = serial[4 * i] == static_cast<float>(i);
    bool swapped = serial[4 * i] == static_cast<float>(i + 0.25) &&
                   serial[4 * i + 1] == static_cast<float>(i);
    REQUIRE((same || swapped));
    flipped += swapped;
  }
  // p = 0.5 over 16 images: some of each (fixed seed, so this is exact).
  CHECK(flipped > 0);
  CHECK(flipped < 16);
  auto pad = std::make_shared<kiln::Pad>(1, 0.0f);
  REQUIRE_THROWS_WITH(kiln::BatchLoader(data, 4, false, 3, false, {0, 2, pad}),
                      Catch::Contains("changes the image shape"));
}
