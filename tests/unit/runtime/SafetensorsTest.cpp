// Tests for safetensors: byte layout, round trips, refusal of bad files.
#include "kiln/runtime/Safetensors.h"

#include "TestSupport.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;
using kiln::test::TempDir;

namespace {

/// A safetensors file from a literal header and data, as another tool would
/// write it.
void writeHandMade(const std::string &path, const std::string &header,
                   const std::vector<uint8_t> &data) {
  std::vector<uint8_t> bytes(8);
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  kiln::test::writeRaw(path, bytes);
}

std::vector<uint8_t> floatBytes(std::vector<float> values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

} // namespace

TEST_CASE("safetensors round-trips tensors of every dtype", "[safetensors]") {
  TempDir dir;
  std::string path = dir.file("model.safetensors");

  Tensor weight = Tensor::empty({2, 3});
  for (int64_t i = 0; i < 6; ++i)
    weight.data<float>()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  Tensor bias = Tensor::full({2}, 0.25, DType::F64);
  Tensor steps = Tensor::full({}, 1234567, DType::I64);
  // A non-contiguous view is written as its logical, contiguous contents.
  Tensor column = weight.select(1, 2);

  kiln::writeSafetensors(path,
                         {{"conv.weight", weight},
                          {"conv.bias", bias},
                          {"step", steps},
                          {"column", column}},
                         {{"epoch", "2"}, {"model", "lenet"}});
  CHECK_FALSE(kiln::test::hasTemporaryFile(path));

  auto tensors = kiln::readSafetensors(path);
  REQUIRE(tensors.size() == 4);
  CHECK(tensors[0].first == "conv.weight");
  CHECK(tensors[0].second.shape() == std::vector<int64_t>{2, 3});
  CHECK(tensors[0].second.allClose(weight, 0, 0));
  CHECK(tensors[1].first == "conv.bias");
  CHECK(tensors[1].second.dtype() == DType::F64);
  CHECK(tensors[1].second.at({1}) == 0.25);
  CHECK(tensors[2].first == "step");
  CHECK(tensors[2].second.dim() == 0);
  CHECK(tensors[2].second.item() == 1234567.0);
  CHECK(tensors[3].second.shape() == std::vector<int64_t>{2});
  CHECK(tensors[3].second.at({0}) == 0.0);
  CHECK(tensors[3].second.at({1}) == 1.5);

  auto metadata = kiln::readSafetensorsMetadata(path);
  CHECK(metadata ==
        std::map<std::string, std::string>{{"epoch", "2"}, {"model", "lenet"}});
}

TEST_CASE("written files follow the safetensors byte layout", "[safetensors]") {
  TempDir dir;
  std::string path = dir.file("layout.safetensors");
  kiln::writeSafetensors(path, {{"x", Tensor::full({2}, 1.0)}});
  std::vector<uint8_t> bytes = kiln::test::readRaw(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = length << 8 | bytes[i];
  // The data starts 8-byte aligned and holds exactly the two floats.
  CHECK((8 + length) % 8 == 0);
  REQUIRE(bytes.size() == 8 + length + 8);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + length);
  CHECK(
      header.rfind(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                   0) == 0);
  float values[2];
  std::memcpy(values, bytes.data() + 8 + length, 8);
  CHECK(values[0] == 1.0f);
  CHECK(values[1] == 1.0f);
}

TEST_CASE("files written by other tools are read in data order",
          "[safetensors]") {
  TempDir dir;
  std::string path = dir.file("other.safetensors");
  writeHandMade(path,
                R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                floatBytes({1.0f, 2.0f}));
  auto tensors = kiln::readSafetensors(path);
  REQUIRE(tensors.size() == 2);
  CHECK(tensors[0].first == "a");
  CHECK(tensors[0].second.item() == 1.0);
  CHECK(tensors[1].first == "b");
  CHECK(tensors[1].second.item() == 2.0);
}

TEST_CASE("reading refuses truncated and altered files", "[safetensors]") {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");

  CHECK_THROWS_WITH(kiln::readSafetensors(dir.file("missing.safetensors")),
                    Contains("No such file or directory"));

  SECTION("truncated data") {
    kiln::writeSafetensors(path, {{"w", Tensor::zeros({4})}});
    std::vector<uint8_t> bytes = kiln::test::readRaw(path);
    bytes.pop_back();
    kiln::test::writeRaw(path, bytes);
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains(path) && Contains("tensor 'w' ends at data byte "
                                                 "16 but the file holds only "
                                                 "15"));
  }
  SECTION("truncated header") {
    writeHandMade(
        path, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", {});
    std::vector<uint8_t> bytes = kiln::test::readRaw(path);
    bytes.resize(20);
    kiln::test::writeRaw(path, bytes);
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("only 12 follow the length"));
  }
  SECTION("shorter than the length field") {
    kiln::test::writeRaw(path, {1, 2, 3});
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("3 bytes, too few"));
  }
  SECTION("header length over 100 MB") {
    std::vector<uint8_t> bytes = {0, 0, 0, 0x10, 0, 0, 0, 0, '{', '}'};
    kiln::test::writeRaw(path, bytes);
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("header claims 268435456 bytes, more than the "
                               "100000000 allowed"));
  }
  SECTION("unknown dtype") {
    writeHandMade(
        path, R"({"half":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})",
        {0, 0, 0, 0});
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("tensor 'half' has dtype F16") &&
                          Contains("F32, F64, I64 or U8"));
  }
  SECTION("overlapping offsets") {
    writeHandMade(path,
                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  floatBytes({1, 2, 3}));
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("tensor 'b' starts at data byte 4, expected 8"));
  }
  SECTION("offsets past the end of the file") {
    writeHandMade(path,
                  R"({"a":{"dtype":"F32","shape":[1000000],)"
                  R"("data_offsets":[0,4000000]}})",
                  floatBytes({1}));
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("tensor 'a' ends at data byte 4000000"));
  }
  SECTION("offsets that disagree with the shape") {
    writeHandMade(path,
                  R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})",
                  floatBytes({1, 2}));
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("tensor 'a' has shape [2] of I64 but "
                               "data_offsets [0, 8] span 8 bytes"));
  }
  SECTION("a header that is not JSON") {
    writeHandMade(path, "{not json", {});
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("header is not valid JSON"));
  }
  SECTION("a data byte flipped in the header text") {
    kiln::writeSafetensors(path, {{"w", Tensor::zeros({4})}});
    std::vector<uint8_t> bytes = kiln::test::readRaw(path);
    std::string text(bytes.begin(), bytes.end());
    size_t at = text.find("[0,16]");
    REQUIRE(at != std::string::npos);
    bytes[at + 4] = '2'; // [0,26]
    kiln::test::writeRaw(path, bytes);
    CHECK_THROWS_WITH(kiln::readSafetensors(path),
                      Contains("tensor 'w' has shape [4] of F32"));
  }
}

TEST_CASE("writing refuses bad names and never leaves a half file",
          "[safetensors]") {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  kiln::writeSafetensors(path, {{"w", Tensor::full({1}, 3.0)}});

  CHECK_THROWS_WITH(kiln::writeSafetensors(path, {{"w", Tensor::zeros({1})},
                                                  {"w", Tensor::zeros({1})}}),
                    Contains("'w' is empty, reserved or repeated"));
  CHECK_THROWS_AS(kiln::writeSafetensors(path, {{"u", Tensor()}}), kiln::Error);

  // A writer that fails midway leaves the previous file untouched.
  CHECK_THROWS_AS(kiln::writeFileAtomically(path,
                                            [](std::ostream &out) {
                                              out << "partial";
                                              throw kiln::Error("disk full");
                                            }),
                  kiln::Error);
  CHECK_FALSE(kiln::test::hasTemporaryFile(path));
  CHECK(kiln::readSafetensors(path)[0].second.item() == 3.0);

  CHECK_THROWS_WITH(
      kiln::writeSafetensors(dir.file("no/such/dir/x.safetensors"),
                             {{"w", Tensor::zeros({1})}}),
      Contains("cannot create") && Contains("No such file or directory"));
}
