// Tests for readIdx: gzip and plain round trips, refusal of bad files.
#include "kiln/runtime/data/Idx.h"

#include "TestSupport.h"
#include "kiln/runtime/Error.h"

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using kiln::test::idxBytes;
using kiln::test::TempDir;

TEST_CASE("readIdx round-trips a gzipped image file", "[idx]") {
  TempDir dir;
  std::vector<uint8_t> pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>(i * 10);
  std::string path = dir.file("images-idx3-ubyte.gz");
  kiln::test::writeGzip(path, idxBytes(0x00000803, {2, 3, 4}, pixels));

  kiln::IdxArray array = kiln::readIdx(path);
  CHECK(array.dims == std::vector<int64_t>{2, 3, 4});
  CHECK(array.bytes == pixels);
}

TEST_CASE("readIdx reads uncompressed label files too", "[idx]") {
  TempDir dir;
  std::string path = dir.file("labels-idx1-ubyte");
  kiln::test::writeRaw(path, idxBytes(0x00000801, {5}, {9, 0, 3, 3, 1}));
  kiln::IdxArray array = kiln::readIdx(path);
  CHECK(array.dims == std::vector<int64_t>{5});
  CHECK(array.bytes == std::vector<uint8_t>{9, 0, 3, 3, 1});
}

TEST_CASE("readIdx refuses missing, truncated and corrupt files", "[idx]") {
  TempDir dir;
  std::string path = dir.file("bad.gz");

  CHECK_THROWS_WITH(kiln::readIdx(dir.file("missing.gz")),
                    Contains("cannot open") &&
                        Contains("missing.gz: No such file or directory"));

  SECTION("data shorter than the header promises") {
    kiln::test::writeGzip(
        path, idxBytes(0x00000803, {2, 3, 3}, std::vector<uint8_t>(10)));
    CHECK_THROWS_WITH(kiln::readIdx(path),
                      Contains(path) &&
                          Contains("header promises 18 data bytes but the file "
                                   "holds only 10") &&
                          Contains("download it again"));
  }
  SECTION("file ends inside the header") {
    kiln::test::writeGzip(path, {0, 0, 8, 3, 0, 0});
    CHECK_THROWS_WITH(kiln::readIdx(path),
                      Contains("file ends inside the dimension sizes"));
  }
  SECTION("wrong magic: float elements") {
    kiln::test::writeGzip(path, idxBytes(0x00000d01, {1}, {0, 0, 0, 0}));
    CHECK_THROWS_WITH(kiln::readIdx(path),
                      Contains("element type 0x0d is not 0x08"));
  }
  SECTION("wrong magic: not an IDX file at all") {
    kiln::test::writeGzip(path, idxBytes(0x89504e47, {1}, {0}));
    CHECK_THROWS_WITH(kiln::readIdx(path), Contains("magic number 0x89504e47"));
  }
  SECTION("absurd dimensions are refused before allocating") {
    kiln::test::writeGzip(path,
                          idxBytes(0x00000803, {60000, 60000, 60000}, {}));
    CHECK_THROWS_WITH(kiln::readIdx(path), Contains("claim more than"));
  }
  SECTION("trailing data after the promised bytes") {
    kiln::test::writeGzip(path, idxBytes(0x00000801, {2}, {1, 2, 3}));
    CHECK_THROWS_WITH(kiln::readIdx(path), Contains("data after the 2 bytes"));
  }
  SECTION("a cut gzip stream") {
    std::vector<uint8_t> pixels(4096);
    for (size_t i = 0; i < pixels.size(); ++i)
      pixels[i] = static_cast<uint8_t>(i * 7919 % 251);
    std::string whole = dir.file("whole.gz");
    kiln::test::writeGzip(whole, idxBytes(0x00000803, {4, 32, 32}, pixels));
    std::vector<uint8_t> compressed = kiln::test::readRaw(whole);
    compressed.resize(compressed.size() / 2);
    kiln::test::writeRaw(path, compressed);
    CHECK_THROWS_AS(kiln::readIdx(path), kiln::Error);
  }
}
