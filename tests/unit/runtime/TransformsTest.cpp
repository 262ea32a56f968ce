// Tests for the image transforms: exact outputs, seeds and argument checks.
#include "kiln/runtime/data/Transforms.h"

#include <catch2/catch.hpp>

#include <memory>
#include <numeric>
#include <set>
#include <thread>

using Catch::Matchers::Contains;
using kiln::Generator;
using kiln::ImageShape;

namespace {

/// 0, 1, 2, ... in [C, H, W] order.
std::vector<float> iota(ImageShape shape, float start = 0.0f) {
  std::vector<float> values(static_cast<size_t>(shape.numel()));
  std::iota(values.begin(), values.end(), start);
  return values;
}

std::vector<float> run(const kiln::Transform &transform,
                       const std::vector<float> &image, ImageShape shape,
                       Generator &gen) {
  std::vector<float> out(
      static_cast<size_t>(transform.outputShape(shape).numel()), -99.0f);
  transform.apply(image.data(), shape, out.data(), gen);
  return out;
}

std::vector<float> run(const kiln::Transform &transform,
                       const std::vector<float> &image, ImageShape shape,
                       uint64_t seed = 0) {
  Generator gen(seed);
  return run(transform, image, shape, gen);
}

} // namespace

TEST_CASE("RandomHorizontalFlip mirrors every row of every channel",
          "[transforms]") {
  ImageShape shape{2, 2, 3};
  std::vector<float> image = iota(shape);
  CHECK(run(kiln::RandomHorizontalFlip(1.0), image, shape) ==
        std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9});
  CHECK(run(kiln::RandomHorizontalFlip(0.0), image, shape) == image);
  CHECK(kiln::RandomHorizontalFlip().outputShape(shape) == shape);
}

TEST_CASE("RandomHorizontalFlip flips when its one uniform draw is below p",
          "[transforms]") {
  ImageShape shape{1, 1, 2};
  std::vector<float> image{1, 2};
  kiln::RandomHorizontalFlip flip(0.3);
  Generator gen(5), replay(5);
  int flips = 0;
  for (int i = 0; i < 200; ++i) {
    bool expected = replay.uniform(0.0, 1.0) < 0.3;
    std::vector<float> out = run(flip, image, shape, gen);
    REQUIRE(out == (expected ? std::vector<float>{2, 1} : image));
    flips += expected;
  }
  // Binomial(200, 0.3): mean 60, sd 6.5; 30..90 is more than 4.5 sd.
  CHECK(flips > 30);
  CHECK(flips < 90);
}

TEST_CASE("Pad surrounds the image with the fill value", "[transforms]") {
  ImageShape shape{1, 2, 2};
  kiln::Pad pad(1, -1.0f);
  CHECK(pad.outputShape(shape) == ImageShape{1, 4, 4});
  CHECK(run(pad, {1, 2, 3, 4}, shape) == std::vector<float>{-1, -1, -1, -1, //
                                                            -1, 1, 2, -1,   //
                                                            -1, 3, 4, -1,   //
                                                            -1, -1, -1, -1});
  CHECK(run(kiln::Pad(0), {1, 2, 3, 4}, shape) ==
        std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("RandomCrop with padding cuts the window the seed selects",
          "[transforms]") {
  ImageShape shape{2, 3, 3};
  std::vector<float> image = iota(shape, 1.0f);
  kiln::RandomCrop crop(3, /*padding=*/1, /*fill=*/0.0f);
  CHECK(crop.outputShape(shape) == shape);

  // Seed 0 draws top = below(3) = 0, then left = below(3) = 2 (fixed by
  // std::mt19937_64's standard output): rows -1..1, columns 1..3 of the image.
  Generator replay(0);
  CHECK(replay.below(3) == 0);
  CHECK(replay.below(3) == 2);
  CHECK(run(crop, image, shape, 0) ==
        std::vector<float>{0, 0, 0, 2, 3, 0, 5, 6, 0, //
                           0, 0, 0, 11, 12, 0, 14, 15, 0});

  // Every seed gives the window at the replayed offsets, and all nine occur.
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Generator offsets(seed);
    int64_t top = static_cast<int64_t>(offsets.below(3)) - 1;
    int64_t left = static_cast<int64_t>(offsets.below(3)) - 1;
    seen.insert({top, left});
    std::vector<float> expected;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = top; y < top + 3; ++y)
        for (int64_t x = left; x < left + 3; ++x)
          expected.push_back(y < 0 || y > 2 || x < 0 || x > 2
                                 ? 0.0f
                                 : image[(c * 3 + y) * 3 + x]);
    INFO("seed " << seed);
    REQUIRE(run(crop, image, shape, seed) == expected);
  }
  CHECK(seen.size() == 9);
}

TEST_CASE("RandomCrop without padding cuts inside the image", "[transforms]") {
  ImageShape shape{1, 4, 4};
  std::vector<float> image = iota(shape);
  kiln::RandomCrop crop(2);
  CHECK(crop.outputShape(shape) == ImageShape{1, 2, 2});
  Generator offsets(11);
  int64_t top = static_cast<int64_t>(offsets.below(3));
  int64_t left = static_cast<int64_t>(offsets.below(3));
  float corner = static_cast<float>(top * 4 + left);
  CHECK(run(crop, image, shape, 11) ==
        std::vector<float>{corner, corner + 1, corner + 4, corner + 5});
  CHECK(run(kiln::RandomCrop(4), image, shape) == image);
}

TEST_CASE("Normalize uses each channel's mean and standard deviation",
          "[transforms]") {
  ImageShape shape{3, 1, 2};
  kiln::Normalize normalize({0.5f, 0.25f, 0.0f}, {0.5f, 0.25f, 2.0f});
  // Powers of two throughout, so every result is exact in float.
  CHECK(run(normalize, {1, 0, 0.75f, 0.25f, 4, -2}, shape) ==
        std::vector<float>{1, -1, 2, 0, 2, -1});
}

TEST_CASE("Compose applies its steps in order", "[transforms]") {
  ImageShape shape{1, 1, 1};
  auto pad = std::make_shared<kiln::Pad>(1, 5.0f);
  auto normalize = std::make_shared<kiln::Normalize>(std::vector<float>{1.0f},
                                                     std::vector<float>{2.0f});
  // Pad first: the border is normalised too, (5 - 1) / 2 = 2.
  kiln::Compose padThenNormalize({pad, normalize});
  CHECK(padThenNormalize.outputShape(shape) == ImageShape{1, 3, 3});
  CHECK(run(padThenNormalize, {3}, shape) ==
        std::vector<float>{2, 2, 2, 2, 1, 2, 2, 2, 2});
  // Normalize first: the border keeps its 5.
  kiln::Compose normalizeThenPad({normalize, pad});
  CHECK(run(normalizeThenPad, {3}, shape) ==
        std::vector<float>{5, 5, 5, 5, 1, 5, 5, 5, 5});

  // Three steps use both scratch buffers; a nested Compose uses its own.
  kiln::Compose nested(
      {pad,
       std::make_shared<kiln::Compose>(
           std::vector<std::shared_ptr<const kiln::Transform>>{normalize, pad}),
       normalize});
  CHECK(nested.outputShape(shape) == ImageShape{1, 5, 5});
  std::vector<float> out = run(nested, {3}, shape);
  // Centre: ((3-1)/2 - 1)/2 = 0; inner ring: ((5-1)/2 - 1)/2 = 0.5; outer
  // ring: (5 - 1)/2 = 2.
  CHECK(out[12] == 0.0f);
  CHECK(out[6] == 0.5f);
  CHECK(out[0] == 2.0f);
  CHECK(out[24] == 2.0f);

  CHECK(run(kiln::Compose({}), {1, 2, 3}, {3, 1, 1}) ==
        std::vector<float>{1, 2, 3});
}

TEST_CASE("the same seed gives the same augmented images", "[transforms]") {
  ImageShape shape{3, 32, 32};
  Generator pixels(1);
  std::vector<float> image(static_cast<size_t>(shape.numel()));
  for (float &value : image)
    value = static_cast<float>(pixels.uniform(-1.0, 1.0));
  kiln::Compose augment({std::make_shared<kiln::RandomCrop>(32, 4, -1.0f),
                         std::make_shared<kiln::RandomHorizontalFlip>(0.5)});

  auto epoch = [&](uint64_t seed) {
    Generator gen(seed);
    std::vector<std::vector<float>> outputs;
    for (int i = 0; i < 8; ++i)
      outputs.push_back(run(augment, image, shape, gen));
    return outputs;
  };
  auto first = epoch(7);
  CHECK(epoch(7) == first);
  CHECK(epoch(8) != first);

  // One transform shared by threads, each with its own generator, gives
  // what each seed gives alone.
  std::vector<std::vector<std::vector<float>>> threaded(4);
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { threaded[t] = epoch(7 + t); });
  for (std::thread &thread : threads)
    thread.join();
  CHECK(threaded[0] == first);
  CHECK(threaded[1] == epoch(8));
  CHECK(threaded[3] == epoch(10));
}

TEST_CASE("transforms refuse bad arguments and shapes they cannot take",
          "[transforms]") {
  CHECK_THROWS_WITH(kiln::Normalize({0.5f}, {0.5f, 0.5f}),
                    Contains("1 means and 2 standard deviations"));
  CHECK_THROWS_WITH(kiln::Normalize({0.5f}, {0.0f}),
                    Contains("standard deviation of channel 0 is 0"));
  CHECK_THROWS_WITH(
      kiln::Normalize({0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})
          .outputShape({1, 28, 28}),
      Contains("the image [1, 28, 28] has 1 channels but Normalize was "
               "given 3 means"));
  CHECK_THROWS_WITH(kiln::Pad(-1), Contains("pixels is -1"));
  CHECK_THROWS_WITH(kiln::RandomCrop(0), Contains("size 0 and padding 0"));
  CHECK_THROWS_WITH(kiln::RandomCrop(32, 1).outputShape({3, 28, 28}),
                    Contains("a 32x32 crop does not fit the image [3, 28, 28] "
                             "padded by 1"));
  CHECK_THROWS_WITH(kiln::RandomHorizontalFlip(1.5), Contains("p is 1.5"));
  CHECK_THROWS_WITH(kiln::Pad(1).outputShape({3, 0, 4}),
                    Contains("image shape [3, 0, 4] has an empty dimension"));
  CHECK_THROWS_WITH(kiln::Compose({nullptr}), Contains("step 0 is null"));

  // apply() checks too, before writing anything.
  std::vector<float> image(4, 0.0f), out(4, 3.0f);
  Generator gen(0);
  CHECK_THROWS_WITH(
      kiln::RandomCrop(3).apply(image.data(), {1, 2, 2}, out.data(), gen),
      Contains("a 3x3 crop does not fit"));
  CHECK(out == std::vector<float>(4, 3.0f));
}
