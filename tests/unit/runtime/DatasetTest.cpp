// Tests for loadFashionMnist: a synthetic 2-image set, and the real one.
#include "kiln/runtime/data/Dataset.h"
#include "kiln/runtime/data/BatchLoader.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

using Catch::Matchers::Contains;
using kiln::test::idxBytes;
using kiln::test::TempDir;

namespace {

/// Two 28x28 images: image 0 is black with a white top-left pixel, image 1 is
/// white with a black centre and one mid-grey pixel. Labels 3 and 9.
void writeTinySplit(const TempDir &dir, const std::string &split, bool gzipped,
                    uint32_t labelCount = 2) {
  std::vector<uint8_t> pixels(2 * 28 * 28, 0);
  pixels[0] = 255;
  std::fill(pixels.begin() + 28 * 28, pixels.end(), 255);
  pixels[28 * 28 + 14 * 28 + 14] = 0;
  pixels[28 * 28 + 27 * 28 + 27] = 128;
  std::vector<uint8_t> labels = {3, 9, 1};
  labels.resize(labelCount);
  std::string suffix = gzipped ? ".gz" : "";
  auto write = gzipped ? kiln::test::writeGzip : kiln::test::writeRaw;
  write(dir.file(split + "-images-idx3-ubyte" + suffix),
        idxBytes(0x00000803, {2, 28, 28}, pixels));
  write(dir.file(split + "-labels-idx1-ubyte" + suffix),
        idxBytes(0x00000801, {labelCount}, labels));
}

} // namespace

TEST_CASE("loadFashionMnist normalises pixels to -1..1 and pads with -1",
          "[dataset]") {
  TempDir dir;
  writeTinySplit(dir, "t10k", /*gzipped=*/true);
  kiln::Dataset data = kiln::loadFashionMnist(dir.path(), /*train=*/false);

  REQUIRE(data.size() == 2);
  CHECK(data.images.shape() == std::vector<int64_t>{2, 1, 32, 32});
  CHECK(data.images.dtype() == kiln::DType::F32);
  CHECK(data.labels.dtype() == kiln::DType::I64);
  CHECK(data.labels.at({0}) == 3);
  CHECK(data.labels.at({1}) == 9);

  CHECK(data.images.at({0, 0, 0, 0}) == -1.0);   // padding corner
  CHECK(data.images.at({1, 0, 31, 31}) == -1.0); // padding, white image
  CHECK(data.images.at({1, 0, 1, 5}) == -1.0);   // padding row
  CHECK(data.images.at({0, 0, 2, 2}) == 1.0);    // pixel 255 at (0, 0)
  CHECK(data.images.at({0, 0, 2, 3}) == -1.0);   // pixel 0
  CHECK(data.images.at({1, 0, 16, 16}) == -1.0); // pixel 0 at the centre
  CHECK(data.images.at({1, 0, 16, 17}) == 1.0);
  // (128 / 255 - 0.5) / 0.5 = 1 / 255 = 0.0039216 (float rounding < 1e-7).
  CHECK(data.images.at({1, 0, 29, 29}) == Approx(1.0 / 255.0).margin(1e-7));

  CHECK(data.classNames.size() == 10);
  CHECK(data.classNames[0] == "T-shirt/top");
  CHECK(data.classNames[9] == "Ankle boot");
}

TEST_CASE("loadFashionMnist accepts uncompressed files and pad 0",
          "[dataset]") {
  TempDir dir;
  writeTinySplit(dir, "train", /*gzipped=*/false);
  kiln::Dataset data = kiln::loadFashionMnist(dir.path(), /*train=*/true, 0);
  CHECK(data.images.shape() == std::vector<int64_t>{2, 1, 28, 28});
  CHECK(data.images.at({0, 0, 0, 0}) == 1.0);
  CHECK_THROWS_WITH(kiln::loadFashionMnist(dir.path(), true, -1),
                    Contains("pad is -1"));
}

TEST_CASE("uint8 storage keeps the file's pixels and decodes them to the "
          "same floats, batch by batch",
          "[dataset]") {
  TempDir dir;
  writeTinySplit(dir, "t10k", /*gzipped=*/true);
  kiln::Dataset floats = kiln::loadFashionMnist(dir.path(), /*train=*/false);
  kiln::Dataset packed = kiln::loadFashionMnist(dir.path(), /*train=*/false,
                                                /*pad=*/2, kiln::PixelStorage::Uint8);
  CHECK(packed.images.shape() == std::vector<int64_t>{2, 1, 28, 28});
  CHECK(packed.images.dtype() == kiln::DType::U8);
  CHECK(packed.images.at({0, 0, 0, 0}) == 255.0);
  CHECK(packed.images.at({1, 0, 27, 27}) == 128.0);
  CHECK(packed.imageShape() == kiln::ImageShape{1, 32, 32});
  CHECK(floats.imageShape() == kiln::ImageShape{1, 32, 32});

  // decoded() and the loader both give exactly the float32 load's values.
  kiln::Dataset decoded = packed.decoded();
  REQUIRE(decoded.images.shape() == floats.images.shape());
  CHECK(std::equal(decoded.images.data<float>(),
                   decoded.images.data<float>() + decoded.images.numel(),
                   floats.images.data<float>()));
  for (int workers : {0, 1}) {
    kiln::LoaderOptions options;
    options.workers = workers;
    kiln::BatchLoader fromBytes(packed, 2, /*shuffle=*/true, 7, false, options);
    kiln::BatchLoader fromFloats(floats, 2, /*shuffle=*/true, 7, false);
    kiln::Tensor a = kiln::Tensor::empty({2, 1, 32, 32});
    kiln::Tensor b = kiln::Tensor::empty({2, 1, 32, 32});
    kiln::Tensor la = kiln::Tensor::empty({2}, kiln::DType::I64);
    kiln::Tensor lb = kiln::Tensor::empty({2}, kiln::DType::I64);
    int64_t countA = 0, countB = 0;
    REQUIRE(fromBytes.next(a, la, countA));
    REQUIRE(fromFloats.next(b, lb, countB));
    CHECK(countA == 2);
    CHECK(std::equal(a.data<float>(), a.data<float>() + a.numel(),
                     b.data<float>()));
    CHECK(la.at({0}) == lb.at({0}));
    // A uint8-shaped batch is refused with the shape the loader wants.
    kiln::Tensor wrong = kiln::Tensor::empty({2, 1, 28, 28}, kiln::DType::U8);
    CHECK_THROWS_WITH(fromBytes.next(wrong, la, countA),
                      Contains("float32 tensor of shape [2, 1, 32, 32]"));
  }
}

TEST_CASE("decodeImage checks the decoding against the image", "[dataset]") {
  std::vector<uint8_t> pixels = {0, 51, 255, 102};
  std::vector<float> out(16);
  kiln::PixelDecoding decoding{{0.2f}, {0.5f}, 1};
  kiln::decodeImage(pixels.data(), {1, 2, 2}, decoding, out.data());
  CHECK(out[0] == Approx(-0.4));             // padding: black, normalised
  CHECK(out[5] == Approx(-0.4));             // pixel 0
  CHECK(out[6] == Approx((0.2 - 0.2) / 0.5).margin(1e-6)); // 51 = 0.2 * 255
  CHECK(out[9] == Approx((1.0 - 0.2) / 0.5));
  kiln::PixelDecoding twoChannels{{0.5f, 0.5f}, {0.5f, 0.5f}, 0};
  CHECK_THROWS_WITH(
      kiln::decodeImage(pixels.data(), {1, 2, 2}, twoChannels, out.data()),
      Contains("1 channels but the decoding has 2 means"));
  kiln::PixelDecoding zero{{0.5f}, {0.0f}, 0};
  CHECK_THROWS_WITH(
      kiln::decodeImage(pixels.data(), {1, 2, 2}, zero, out.data()),
      Contains("stddev 0"));
}

TEST_CASE("loadFashionMnist explains missing and mismatched files",
          "[dataset]") {
  TempDir dir;
  CHECK_THROWS_WITH(
      kiln::loadFashionMnist(dir.path(), /*train=*/true),
      Contains("cannot open " + dir.file("train-images-idx3-ubyte.gz") +
               ": No such file or directory; install dataset-fashion-mnist "
               "or pass --data DIR"));

  writeTinySplit(dir, "t10k", /*gzipped=*/true, /*labelCount=*/3);
  CHECK_THROWS_WITH(kiln::loadFashionMnist(dir.path(), /*train=*/false),
                    Contains("holds 2 images but") &&
                        Contains("holds 3 labels"));
}

TEST_CASE("defaultFashionMnistDir honours KILN_DATA_DIR", "[dataset]") {
  const char *saved = std::getenv("KILN_DATA_DIR");
  std::string savedValue = saved ? saved : "";
  unsetenv("KILN_DATA_DIR");
  CHECK(kiln::defaultFashionMnistDir() == "/usr/share/datasets/fashion-mnist");
  setenv("KILN_DATA_DIR", "/tmp/elsewhere", 1);
  CHECK(kiln::defaultFashionMnistDir() == "/tmp/elsewhere");
  if (saved)
    setenv("KILN_DATA_DIR", savedValue.c_str(), 1);
  else
    unsetenv("KILN_DATA_DIR");
}

TEST_CASE("the installed Fashion-MNIST test split loads", "[dataset][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    WARN("skipped: " << dir << " not installed (Debian dataset-fashion-mnist)");
    return;
  }
  kiln::Dataset data = kiln::loadFashionMnist(dir, /*train=*/false);
  CHECK(data.size() == 10000);
  CHECK(data.images.shape() == std::vector<int64_t>{10000, 1, 32, 32});
  const int64_t *labels = data.labels.data<int64_t>();
  std::vector<int64_t> perClass(10, 0);
  int64_t outOfRange = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (labels[i] < 0 || labels[i] > 9) {
      ++outOfRange;
      continue;
    }
    ++perClass[labels[i]];
  }
  CHECK(outOfRange == 0);
  // The published test split is balanced: 1000 images per class.
  CHECK(perClass == std::vector<int64_t>(10, 1000));
  CHECK(data.images.at({0, 0, 0, 0}) == -1.0);
}
