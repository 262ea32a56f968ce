// Tests for .npy files: NumPy-written fixtures, round trips, refusal of bad
// files.
#include "kiln/runtime/Npy.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <cstring>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;
using kiln::test::TempDir;

namespace {

std::string fixture(const std::string &name) {
  return std::string(KILN_SOURCE_DIR) + "/tests/golden/npy/" + name;
}

/// A .npy file from a literal header dict, padded as NumPy pads it, then
/// `data`.
std::vector<uint8_t> npyBytes(const std::string &dict,
                              const std::vector<uint8_t> &data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0)
    header.push_back(' ');
  header.push_back('\n');
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  bytes.push_back(static_cast<uint8_t>(header.size()));
  bytes.push_back(static_cast<uint8_t>(header.size() >> 8));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

const std::string kF32x2 =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

} // namespace

TEST_CASE("readNpy reads the arrays NumPy wrote", "[npy]") {
  Tensor f32 = kiln::readNpy(fixture("f32_2x3.npy"));
  CHECK(f32.dtype() == DType::F32);
  CHECK(f32.shape() == std::vector<int64_t>{2, 3});
  for (int64_t i = 0; i < 6; ++i)
    CHECK(f32.data<float>()[i] == static_cast<float>(i));

  // Version 2.0 differs only in its 4-byte header length.
  Tensor v2 = kiln::readNpy(fixture("f32_2x3_v2.npy"));
  CHECK(v2.shape() == std::vector<int64_t>{2, 3});
  CHECK(v2.at({1, 2}) == 5.0);

  Tensor scalar = kiln::readNpy(fixture("f64_scalar.npy"));
  CHECK(scalar.dtype() == DType::F64);
  CHECK(scalar.dim() == 0);
  CHECK(scalar.data<double>()[0] == 0.1);

  Tensor ints = kiln::readNpy(fixture("i64_vector.npy"));
  CHECK(ints.dtype() == DType::I64);
  REQUIRE(ints.shape() == std::vector<int64_t>{4});
  // 2^40 + 1 would lose its last bit in a float32 detour.
  const int64_t *values = ints.data<int64_t>();
  CHECK(values[0] == -3);
  CHECK(values[1] == 0);
  CHECK(values[2] == 7);
  CHECK(values[3] == (int64_t{1} << 40) + 1);
}

TEST_CASE("writeNpy lays files out byte for byte as NumPy does", "[npy]") {
  TempDir dir;
  for (const char *name : {"f32_2x3.npy", "f64_scalar.npy", "i64_vector.npy"}) {
    std::string path = dir.file(name);
    kiln::writeNpy(path, kiln::readNpy(fixture(name)));
    CHECK(kiln::test::readRaw(path) == kiln::test::readRaw(fixture(name)));
  }
}

TEST_CASE("writeNpy round-trips views and every dtype", "[npy]") {
  TempDir dir;
  Tensor base = Tensor::empty({3, 4}, DType::F64);
  for (int64_t i = 0; i < 12; ++i)
    base.data<double>()[i] = 0.25 * static_cast<double>(i) - 1.0;
  // A column is strided; the file holds its logical contents.
  Tensor column = base.select(1, 2);
  kiln::writeNpy(dir.file("column.npy"), column);
  Tensor back = kiln::readNpy(dir.file("column.npy"));
  REQUIRE(back.shape() == std::vector<int64_t>{3});
  CHECK(back.at({0}) == -0.5);
  CHECK(back.at({1}) == 0.5);
  CHECK(back.at({2}) == 1.5);

  Tensor ints = Tensor::full({2, 0, 3}, 0, DType::I64);
  kiln::writeNpy(dir.file("empty.npy"), ints);
  Tensor emptyBack = kiln::readNpy(dir.file("empty.npy"));
  CHECK(emptyBack.shape() == std::vector<int64_t>{2, 0, 3});
  CHECK(emptyBack.dtype() == DType::I64);

  Tensor bytes = Tensor::full({2, 3}, 200, DType::U8);
  kiln::writeNpy(dir.file("bytes.npy"), bytes);
  Tensor bytesBack = kiln::readNpy(dir.file("bytes.npy"));
  CHECK(bytesBack.dtype() == DType::U8);
  CHECK(bytesBack.at({1, 2}) == 200.0);

  // Overwriting replaces the old file whole.
  kiln::writeNpy(dir.file("column.npy"), Tensor::full({}, 7.0, DType::F32));
  CHECK(kiln::readNpy(dir.file("column.npy")).item() == 7.0);
}

TEST_CASE("readNpy refuses bad files and says what is wrong", "[npy]") {
  TempDir dir;
  std::string path = dir.file("bad.npy");
  std::vector<uint8_t> twoFloats(8, 0);
  auto refuses = [&](const std::vector<uint8_t> &bytes,
                     const std::string &reason) {
    kiln::test::writeRaw(path, bytes);
    CHECK_THROWS_WITH(kiln::readNpy(path), Contains(path) && Contains(reason));
  };

  CHECK_THROWS_WITH(kiln::readNpy(dir.file("missing.npy")),
                    Contains("cannot open") && Contains("missing.npy"));
  CHECK_THROWS_WITH(kiln::readNpy(fixture("f32_2x3_fortran.npy")),
                    Contains("Fortran order"));

  std::vector<uint8_t> good = npyBytes(kF32x2, twoFloats);
  kiln::test::writeRaw(path, good);
  CHECK(kiln::readNpy(path).shape() == std::vector<int64_t>{2});

  refuses({0x93, 'N', 'U'}, "too few");
  std::vector<uint8_t> badMagic = good;
  badMagic[1] = 'X';
  refuses(badMagic, "magic");
  std::vector<uint8_t> badVersion = good;
  badVersion[6] = 9;
  refuses(badVersion, "version 9.0");
  refuses(std::vector<uint8_t>(good.begin(), good.begin() + 40),
          "header claims");
  refuses(std::vector<uint8_t>(good.begin(), good.end() - 1),
          "needs 8 data bytes but the file holds 7");
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  refuses(trailing, "the file holds 9");

  refuses(npyBytes("{'descr': '|i1', 'fortran_order': False, 'shape': (8,), }",
                   twoFloats),
          "dtype '|i1' has no kiln counterpart");
  refuses(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                   twoFloats),
          "dtype '>f4'");
  refuses(npyBytes("{'descr': '<f4', 'shape': (2,), }", twoFloats),
          "lacks one of");
  refuses(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                   "'extra': 1}",
                   twoFloats),
          "unexpected or repeated key 'extra'");
  refuses(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), "
                   "}",
                   twoFloats),
          "not a tuple of sizes");
  refuses(npyBytes("{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,), }",
                   twoFloats),
          "neither True nor False");
  // A shape whose byte count overflows must not allocate.
  refuses(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': "
                   "(4294967296, 4294967296), }",
                   twoFloats),
          "too large");
  refuses(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': "
                   "(99999999999999999999,), }",
                   twoFloats),
          "too large");
  std::vector<uint8_t> noNewline = good;
  noNewline[good.size() - twoFloats.size() - 1] = ' ';
  refuses(noNewline, "newline");
}

TEST_CASE("writeNpy refuses an undefined tensor and leaves no file", "[npy]") {
  TempDir dir;
  CHECK_THROWS_WITH(kiln::writeNpy(dir.file("x.npy"), Tensor()),
                    Contains("undefined"));
  CHECK_FALSE(std::filesystem::exists(dir.file("x.npy")));
}
