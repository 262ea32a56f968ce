// Tests for loadCifar10 on tiny files written in the binary distribution's
// exact format.
#include "kiln/runtime/data/Cifar10.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

using Catch::Matchers::Contains;
using kiln::test::TempDir;
using kiln::test::writeRaw;

namespace {

constexpr size_t kRecordBytes = 3073;

/// One record: `label`, then every pixel `fill` except R(0,0) = 255,
/// G(2,5) = 0 and B(31,30) = 128.
std::vector<uint8_t> record(uint8_t label, uint8_t fill = 51) {
  std::vector<uint8_t> bytes(kRecordBytes, fill);
  bytes[0] = label;
  bytes[1 + 0 * 1024 + 0 * 32 + 0] = 255;
  bytes[1 + 1 * 1024 + 2 * 32 + 5] = 0;
  bytes[1 + 2 * 1024 + 31 * 32 + 30] = 128;
  return bytes;
}

/// Records with the given labels; record r's pixels are filled with
/// fillBase + r.
std::vector<uint8_t> records(const std::vector<uint8_t> &labels,
                             uint8_t fillBase = 51) {
  std::vector<uint8_t> bytes;
  for (size_t r = 0; r < labels.size(); ++r) {
    std::vector<uint8_t> one = record(labels[r], fillBase + r);
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  return bytes;
}

/// data_batch_k.bin holds k records, labelled 2k, 2k+1, ... (mod 10), filled
/// with 10k, 10k+1, ...: 15 records whose order shows in labels and pixels.
void writeTrainSplit(const std::string &dir) {
  for (int k = 1; k <= 5; ++k) {
    std::vector<uint8_t> labels;
    for (int r = 0; r < k; ++r)
      labels.push_back(static_cast<uint8_t>((2 * k + r) % 10));
    writeRaw(dir + "/data_batch_" + std::to_string(k) + ".bin",
             records(labels, static_cast<uint8_t>(10 * k)));
  }
}

} // namespace

TEST_CASE("loadCifar10 maps R G B planes to channels and pixels to -1..1",
          "[cifar10]") {
  TempDir dir;
  writeRaw(dir.file("test_batch.bin"), records({3, 9}));
  kiln::Dataset data = kiln::loadCifar10(dir.path(), /*train=*/false);

  REQUIRE(data.size() == 2);
  CHECK(data.images.shape() == std::vector<int64_t>{2, 3, 32, 32});
  CHECK(data.images.dtype() == kiln::DType::F32);
  CHECK(data.labels.dtype() == kiln::DType::I64);
  CHECK(data.labels.at({0}) == 3);
  CHECK(data.labels.at({1}) == 9);

  CHECK(data.images.at({0, 0, 0, 0}) == 1.0); // 255 in the red plane
  CHECK(data.images.at({1, 0, 0, 0}) == 1.0);
  CHECK(data.images.at({0, 1, 2, 5}) == -1.0); // 0 at green row 2, column 5
  CHECK(data.images.at({0, 2, 0, 0}) != -1.0); // not in blue...
  CHECK(data.images.at({0, 1, 5, 2}) != -1.0); // ...nor transposed
  // (128/255 - 0.5)/0.5 = 1/255; float rounding stays below 1e-7.
  CHECK(data.images.at({0, 2, 31, 30}) == Approx(1.0 / 255.0).margin(1e-7));
  // Fill 51 gives (0.2 - 0.5)/0.5 = -0.6, fill 52 gives 104/255 - 1; a
  // swapped record or an off-by-one plane would be off by 2/255 > 1e-6.
  CHECK(data.images.at({0, 0, 0, 1}) == Approx(-0.6).margin(1e-6));
  CHECK(data.images.at({0, 2, 31, 31}) == Approx(-0.6).margin(1e-6));
  CHECK(data.images.at({1, 1, 5, 2}) ==
        Approx(104.0 / 255.0 - 1.0).margin(1e-6));
}

TEST_CASE("loadCifar10 has the blitz's class names", "[cifar10]") {
  TempDir dir;
  writeRaw(dir.file("test_batch.bin"), records({0}));
  kiln::Dataset data = kiln::loadCifar10(dir.path(), /*train=*/false);
  CHECK(data.classNames ==
        std::vector<std::string>{"plane", "car", "bird", "cat", "deer", "dog",
                                 "frog", "horse", "ship", "truck"});
}

TEST_CASE("loadCifar10 concatenates the five train files in order",
          "[cifar10]") {
  TempDir dir;
  writeTrainSplit(dir.path());
  kiln::Dataset data = kiln::loadCifar10(dir.path(), /*train=*/true);

  REQUIRE(data.size() == 15);
  CHECK(data.images.shape() == std::vector<int64_t>{15, 3, 32, 32});
  int64_t index = 0;
  for (int k = 1; k <= 5; ++k) {
    for (int r = 0; r < k; ++r, ++index) {
      INFO("file " << k << " record " << r);
      CHECK(data.labels.at({index}) == (2 * k + r) % 10);
      double fill = (10 * k + r) / 255.0 * 2.0 - 1.0;
      CHECK(data.images.at({index, 1, 16, 16}) == Approx(fill).margin(1e-6));
    }
  }
}

TEST_CASE("loadCifar10 finds files in cifar-10-batches-bin", "[cifar10]") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("cifar-10-batches-bin"));
  writeRaw(dir.file("cifar-10-batches-bin/test_batch.bin"), records({7}));
  writeTrainSplit(dir.file("cifar-10-batches-bin"));
  CHECK(kiln::loadCifar10(dir.path(), /*train=*/false).labels.at({0}) == 7);
  CHECK(kiln::loadCifar10(dir.path(), /*train=*/true).size() == 15);
}

TEST_CASE("loadCifar10 names a missing file and where CIFAR-10 goes",
          "[cifar10]") {
  TempDir dir;
  CHECK_THROWS_WITH(
      kiln::loadCifar10(dir.path(), /*train=*/false),
      Contains("cannot open " + dir.file("test_batch.bin") +
               ": No such file or directory; download CIFAR-10's binary "
               "version (cifar-10-binary.tar.gz") &&
          Contains("unpack it into " + dir.path()) &&
          Contains("cifar-10-batches-bin/"));

  writeTrainSplit(dir.path());
  std::filesystem::remove(dir.file("data_batch_3.bin"));
  CHECK_THROWS_WITH(kiln::loadCifar10(dir.path(), /*train=*/true),
                    Contains("cannot open " + dir.file("data_batch_3.bin")));

  std::filesystem::create_directory(dir.file("test_batch.bin"));
  CHECK_THROWS_WITH(
      kiln::loadCifar10(dir.path(), /*train=*/false),
      Contains(dir.file("test_batch.bin") + " is not a regular file"));
}

TEST_CASE("loadCifar10 refuses sizes that are not whole records", "[cifar10]") {
  TempDir dir;
  std::vector<uint8_t> bytes = records({1, 2});
  bytes.pop_back();
  writeRaw(dir.file("test_batch.bin"), bytes);
  CHECK_THROWS_WITH(
      kiln::loadCifar10(dir.path(), /*train=*/false),
      Contains(dir.file("test_batch.bin") +
               " is 6145 bytes, not a whole number of 3073-byte records") &&
          Contains("truncated"));

  // CIFAR-100's records carry two label bytes: 3074 bytes each.
  bytes = records({1});
  bytes.push_back(0);
  writeRaw(dir.file("test_batch.bin"), bytes);
  CHECK_THROWS_WITH(kiln::loadCifar10(dir.path(), /*train=*/false),
                    Contains("is 3074 bytes"));

  writeRaw(dir.file("test_batch.bin"), {});
  CHECK_THROWS_WITH(kiln::loadCifar10(dir.path(), /*train=*/false),
                    Contains("is 0 bytes"));
}

TEST_CASE("loadCifar10 refuses labels above 9", "[cifar10]") {
  TempDir dir;
  writeRaw(dir.file("test_batch.bin"), records({9, 10}));
  CHECK_THROWS_WITH(kiln::loadCifar10(dir.path(), /*train=*/false),
                    Contains(dir.file("test_batch.bin") +
                             ": label 10 of record 1 is not a class index in "
                             "[0, 10)"));
  writeRaw(dir.file("test_batch.bin"), records({255}));
  CHECK_THROWS_WITH(kiln::loadCifar10(dir.path(), /*train=*/false),
                    Contains("label 255 of record 0"));
}

TEST_CASE("loadCifar10 reads files of more records than it buffers at once",
          "[cifar10]") {
  // The reader works in pieces of 1024 records; 2049 crosses two boundaries.
  TempDir dir;
  std::vector<uint8_t> labels(2049);
  for (size_t r = 0; r < labels.size(); ++r)
    labels[r] = static_cast<uint8_t>(r % 10);
  writeRaw(dir.file("test_batch.bin"), records(labels, 0));
  kiln::Dataset data = kiln::loadCifar10(dir.path(), /*train=*/false);
  REQUIRE(data.size() == 2049);
  for (int64_t r : {0, 1023, 1024, 1025, 2047, 2048}) {
    INFO("record " << r);
    CHECK(data.labels.at({r}) == r % 10);
    // records() fills record r with (r mod 256).
    CHECK(data.images.at({r, 2, 7, 9}) ==
          Approx((r % 256) / 255.0 * 2.0 - 1.0).margin(1e-6));
  }
}

TEST_CASE("loadCifar10 with uint8 storage decodes to the float32 load",
          "[cifar10]") {
  TempDir dir;
  writeRaw(dir.file("test_batch.bin"), records({3, 9}));
  kiln::Dataset floats = kiln::loadCifar10(dir.path(), /*train=*/false);
  kiln::Dataset packed = kiln::loadCifar10(dir.path(), /*train=*/false,
                                           kiln::PixelStorage::Uint8);
  CHECK(packed.images.dtype() == kiln::DType::U8);
  CHECK(packed.images.at({0, 0, 0, 0}) == 255.0);
  CHECK(packed.imageShape() == kiln::ImageShape{3, 32, 32});
  kiln::Tensor decoded = packed.decoded().images;
  REQUIRE(decoded.shape() == floats.images.shape());
  CHECK(std::equal(decoded.data<float>(),
                   decoded.data<float>() + decoded.numel(),
                   floats.images.data<float>()));
}
