// Tests for reading torch.save state_dicts: fixtures PyTorch wrote, and
// hand-made archives and pickles that must be refused.
#include "kiln/runtime/TorchPt.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;
using kiln::test::TempDir;
using namespace std::string_literals;

namespace {

std::string fixture(const std::string &name) {
  return std::string(KILN_SOURCE_DIR) + "/tests/golden/pt/" + name;
}

/// Checks `path` against the `<stem>_expected.txt` make_pt_fixture.py wrote:
/// names in order, dtypes, shapes, a CRC-32 of every byte, the first values.
void checkAgainstExpected(const std::string &stem) {
  auto tensors = kiln::readTorchStateDict(fixture(stem + ".pt"));
  std::ifstream expected(fixture(stem + "_expected.txt"));
  REQUIRE(expected);
  size_t index = 0;
  for (std::string line; std::getline(expected, line); ++index) {
    std::istringstream fields(line);
    std::string name, dtype, shape, crc;
    fields >> name >> dtype >> shape >> crc;
    INFO(stem << " " << name);
    REQUIRE(index < tensors.size());
    const auto &[gotName, tensor] = tensors[index];
    CHECK(gotName == name);
    CHECK(kiln::dtypeName(tensor.dtype()) == dtype);
    std::string gotShape;
    for (int64_t size : tensor.shape())
      gotShape += (gotShape.empty() ? "" : ",") + std::to_string(size);
    CHECK((gotShape.empty() ? "-" : gotShape) == shape);
    REQUIRE(tensor.isContiguous());
    CHECK(crc32_z(0, static_cast<const Bytef *>(tensor.rawData()),
                  tensor.nbytes()) == std::stoul(crc, nullptr, 16));
    std::string value;
    for (int64_t i = 0; fields >> value; ++i) {
      // Python's repr round-trips, so each value compares exactly.
      switch (tensor.dtype()) {
      case DType::F32:
        CHECK(tensor.data<float>()[i] == static_cast<float>(std::stod(value)));
        break;
      case DType::F64:
        CHECK(tensor.data<double>()[i] == std::stod(value));
        break;
      case DType::I64:
        CHECK(tensor.data<int64_t>()[i] == std::stoll(value));
        break;
      }
    }
  }
  CHECK(index == tensors.size());
}

std::string le32(uint32_t value) {
  std::string out;
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(value >> (8 * i)));
  return out;
}
std::string le16(uint16_t value) { return le32(value).substr(0, 2); }

/// A zip archive of STORED entries with a plain (not zip64) end record.
std::vector<uint8_t>
zipBytes(const std::vector<std::pair<std::string, std::string>> &entries) {
  std::string body, directory;
  for (const auto &[name, data] : entries) {
    uint32_t crc =
        crc32_z(0, reinterpret_cast<const Bytef *>(data.data()), data.size());
    std::string common = le16(20) + le16(0) + le16(0) + le32(0) + le32(crc) +
                         le32(data.size()) + le32(data.size()) +
                         le16(name.size()) + le16(0);
    directory += le32(0x02014b50) + le16(20) + common + le16(0) + le16(0) +
                 le16(0) + le32(0) + le32(body.size()) + name;
    body += le32(0x04034b50) + common + name + data;
  }
  std::string end = le32(0x06054b50) + le16(0) + le16(0) +
                    le16(entries.size()) + le16(entries.size()) +
                    le32(directory.size()) + le32(body.size()) + le16(0);
  std::string all = body + directory + end;
  return {all.begin(), all.end()};
}

std::string unicode(const std::string &text) {
  return "X" + le32(text.size()) + text;
}
std::string global(const std::string &module, const std::string &name) {
  return "c" + module + "\n" + name + "\n";
}
std::string intTuple(const std::vector<uint32_t> &values) {
  std::string out = "(";
  for (uint32_t v : values)
    out += "J" + le32(v);
  return out + "t";
}

struct TensorRecipe {
  std::string storageType = "FloatStorage";
  std::string key = "0";
  uint32_t numel = 6;
  uint32_t offset = 0;
  std::vector<uint32_t> size = {2, 3};
  std::vector<uint32_t> stride = {3, 1};
};

/// The pickle torch.save writes for OrderedDict(w=tensor), by hand; with
/// `copies` > 1, entries w0, w1, ... all hold the same tensor.
std::string statePickle(const TensorRecipe &t, int copies = 1) {
  std::string ordered = global("collections", "OrderedDict") + ")R";
  std::string tensor = global("torch._utils", "_rebuild_tensor_v2") + "((" +
                       unicode("storage") + global("torch", t.storageType) +
                       unicode(t.key) + unicode("cpu") + "J" + le32(t.numel) +
                       "tQ" + "J" + le32(t.offset) + intTuple(t.size) +
                       intTuple(t.stride) + "\x89" + ordered + "tR";
  std::string items;
  for (int i = 0; i < copies; ++i)
    items += unicode(copies == 1 ? "w" : "w" + std::to_string(i)) + tensor;
  return "\x80\x02" + ordered + "(" + items + "u.";
}

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (float v : values)
    out.append(reinterpret_cast<const char *>(&v), sizeof v);
  return out;
}

/// The message readTorchStateDict gives for an archive of `entries`.
std::string
refusal(const std::vector<std::pair<std::string, std::string>> &entries) {
  TempDir dir;
  std::string path = dir.file("bad.pt");
  kiln::test::writeRaw(path, zipBytes(entries));
  try {
    kiln::readTorchStateDict(path);
  } catch (const kiln::Error &e) {
    return e.what();
  }
  return "accepted";
}

const std::string kSixFloats = floats({1, 2, 3, 4, 5, 6});

} // namespace

TEST_CASE("readTorchStateDict reads the LeNet state_dict PyTorch saved",
          "[torchpt]") {
  checkAgainstExpected("lenet1");
  auto tensors = kiln::readTorchStateDict(fixture("lenet1.pt"));
  REQUIRE(tensors.size() == 10);
  CHECK(tensors[4].first == "fc1.weight");
  CHECK(tensors[4].second.shape() == std::vector<int64_t>{120, 400});
}

TEST_CASE("readTorchStateDict copies out strided views and keeps dtypes",
          "[torchpt]") {
  checkAgainstExpected("strided");
  auto tensors = kiln::readTorchStateDict(fixture("strided.pt"));
  // base = arange(12) * 0.5; transposed = base.reshape(3, 4).t().
  const Tensor &transposed = tensors[0].second;
  CHECK(transposed.at({3, 2}) == 5.5);
  CHECK(transposed.at({1, 0}) == 0.5);
  CHECK(tensors[1].second.at({0}) == 2.5);    // base[5:9] starts at offset 5
  CHECK(tensors[2].second.at({2, 1}) == 5.0); // base.reshape(3, 4)[:, ::2]
  CHECK(tensors[3].second.at({1, 0}) == 1e300);
  CHECK(tensors[4].second.data<int64_t>()[0] == -(int64_t{1} << 62));
  CHECK(tensors[5].second.dim() == 0);
  CHECK(tensors[6].second.shape() == std::vector<int64_t>{0, 3});
}

TEST_CASE("readTorchStateDict reads a plain zip with a hand-made pickle",
          "[torchpt]") {
  TempDir dir;
  std::string path = dir.file("w.pt");
  TensorRecipe transposed;
  transposed.stride = {1, 2};
  kiln::test::writeRaw(path, zipBytes({{"m/data.pkl", statePickle(transposed)},
                                       {"m/data/0", kSixFloats}}));
  auto tensors = kiln::readTorchStateDict(path);
  REQUIRE(tensors.size() == 1);
  CHECK(tensors[0].first == "w");
  CHECK(tensors[0].second.shape() == std::vector<int64_t>{2, 3});
  // Column-major storage 1..6 read as a 2x3: rows (1, 3, 5) and (2, 4, 6).
  CHECK(tensors[0].second.at({0, 1}) == 3.0);
  CHECK(tensors[0].second.at({1, 2}) == 6.0);
}

TEST_CASE("readTorchStateDict refuses truncated and corrupted files",
          "[torchpt]") {
  TempDir dir;
  std::string path = dir.file("cut.pt");
  std::vector<uint8_t> bytes = kiln::test::readRaw(fixture("strided.pt"));
  REQUIRE(bytes.size() > 1000);

  kiln::test::writeRaw(path, {bytes.begin(), bytes.begin() + 1000});
  CHECK_THROWS_WITH(kiln::readTorchStateDict(path),
                    Contains("cut.pt") && Contains("not a zip archive"));

  // Every cut and every flipped byte is refused or read, never a crash.
  // Each goes to a new file: ext4 flushes a truncated-and-rewritten file on
  // close, which would make this test take seconds.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string cutPath = dir.file("cut" + std::to_string(cut));
    kiln::test::writeRaw(cutPath, {bytes.begin(), bytes.begin() + cut});
    CHECK_THROWS_AS(kiln::readTorchStateDict(cutPath), kiln::Error);
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> flipped = bytes;
    flipped[i] ^= 0x5a;
    std::string flippedPath = dir.file("flip" + std::to_string(i));
    kiln::test::writeRaw(flippedPath, flipped);
    try {
      kiln::readTorchStateDict(flippedPath);
    } catch (const kiln::Error &) {
    }
  }

  CHECK_THROWS_WITH(kiln::readTorchStateDict(dir.file("missing.pt")),
                    Contains("missing.pt") && Contains("cannot open"));
}

TEST_CASE("readTorchStateDict refuses archives torch.save did not write",
          "[torchpt]") {
  CHECK_THAT(refusal({{"m/version", "3\n"}}),
             Contains("bad.pt") && Contains("0 '<name>/data.pkl' entries"));
  std::string pickle = statePickle({});
  CHECK_THAT(refusal({{"m/data.pkl", pickle},
                      {"m/data/0", kSixFloats},
                      {"m/data/0", kSixFloats}}),
             Contains("holds 'm/data/0' twice"));
}

TEST_CASE("readTorchStateDict never runs globals outside the whitelist",
          "[torchpt]") {
  std::string osSystem =
      "\x80\x02" + global("os", "system") + unicode("echo pwned") + "\x85R.";
  CHECK_THAT(refusal({{"m/data.pkl", osSystem}}), Contains("bad.pt") &&
                                                      Contains("'os.system'") &&
                                                      Contains("refuses"));
  // An allowed storage type is still not callable.
  std::string callStorage =
      "\x80\x02" + global("torch", "FloatStorage") + ")R.";
  CHECK_THAT(refusal({{"m/data.pkl", callStorage}}),
             Contains("calls 'torch.FloatStorage'"));
  TensorRecipe half;
  half.storageType = "HalfStorage";
  CHECK_THAT(refusal({{"m/data.pkl", statePickle(half)}}),
             Contains("'torch.HalfStorage'"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02I1\n."s}}),
             Contains("opcode 0x49"));
}

TEST_CASE("readTorchStateDict refuses tensors their storages cannot hold",
          "[torchpt]") {
  TensorRecipe missing;
  missing.key = "7";
  CHECK_THAT(
      refusal({{"m/data.pkl", statePickle(missing)}, {"m/data/0", kSixFloats}}),
      Contains("storage '7' (m/data/7) is missing"));

  TensorRecipe tooLong;
  tooLong.numel = 7;
  CHECK_THAT(
      refusal({{"m/data.pkl", statePickle(tooLong)}, {"m/data/0", kSixFloats}}),
      Contains("claims 7 elements of float32"));

  TensorRecipe pastEnd;
  pastEnd.offset = 1;
  CHECK_THAT(
      refusal({{"m/data.pkl", statePickle(pastEnd)}, {"m/data/0", kSixFloats}}),
      Contains("reaches past its storage of 6 elements"));

  // A huge stride-0 view would allocate far more than the file holds.
  TensorRecipe broadcast;
  broadcast.size = {1u << 30, 1u << 30};
  broadcast.stride = {0, 0};
  CHECK_THAT(refusal({{"m/data.pkl", statePickle(broadcast)},
                      {"m/data/0", kSixFloats}}),
             Contains("reaches past its storage"));

  // Views of one storage copied out many times over would outgrow the file.
  TensorRecipe whole;
  whole.numel = 1 << 14;
  whole.size = {whole.numel};
  whole.stride = {1};
  std::string zeros(whole.numel * sizeof(float), '\0');
  CHECK(refusal({{"m/data.pkl", statePickle(whole, 4)}, {"m/data/0", zeros}}) ==
        "accepted");
  CHECK_THAT(
      refusal({{"m/data.pkl", statePickle(whole, 20)}, {"m/data/0", zeros}}),
      Contains("more than 4 times the file's size"));

  TensorRecipe overflow;
  overflow.size = {2, 2};
  overflow.stride = {0x7fffffff, 0x7fffffff};
  CHECK_THAT(refusal({{"m/data.pkl", statePickle(overflow)},
                      {"m/data/0", kSixFloats}}),
             Contains("reaches past its storage"));
}

TEST_CASE("readTorchStateDict refuses pickles no state_dict has", "[torchpt]") {
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02K\x05."s}}),
             Contains("holds a int, not a state_dict"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02}X" + le32(1000) + "ab"}}),
             Contains("truncated inside a string"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02}"s}}),
             Contains("ends without STOP"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02h\x03."s}}),
             Contains("memo entry 3 is read before it is written"));
  // A million nested tuples would overflow the stack when destroyed.
  CHECK_THAT(refusal({{"m/data.pkl",
                       "\x80\x02)" + std::string(1000000, '\x85') + "."}}),
             Contains("nest deeper than 32"));
  // A list appended to itself, or changed once inside another, could form a
  // cycle or grow deeper than checked.
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02]q\x00"
                                     "h\x00"
                                     "a."s}}),
             Contains("changed after being put inside another"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02]q\x00]h\x00"
                                     "ah\x00]a."s}}),
             Contains("changed after being put inside another"));
  CHECK_THAT(refusal({{"m/data.pkl", "\x80\x02}K\x01K\x02s."s}}),
             Contains("state_dict has a int key"));
}
