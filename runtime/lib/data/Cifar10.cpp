// loadCifar10: 3073-byte records to normalised [N,3,32,32] tensors.
#include "kiln/runtime/data/Cifar10.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCifar10Classes = {
    "plane", "car",  "bird",  "cat",  "deer",
    "dog",   "frog", "horse", "ship", "truck"};

constexpr int64_t kChannels = 3, kSide = 32;
constexpr int64_t kPixels = kChannels * kSide * kSide;
constexpr int64_t kRecordBytes = 1 + kPixels;
constexpr int64_t kClasses = 10;
// Files are read in pieces of this many records, so memory beyond the output
// tensor stays small whatever the file size.
constexpr int64_t kRecordsPerChunk = 1024;

std::vector<std::string> splitFiles(bool train) {
  if (!train)
    return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i)
    names.push_back(fmt::format("data_batch_{}.bin", i));
  return names;
}

/// `dir` itself when it holds the split's first file, else the
/// cifar-10-batches-bin/ folder inside it when that does; the archive unpacks
/// into that folder and people pass either.
fs::path findSplitDir(const std::string &dir, const std::string &firstFile) {
  std::error_code ignored;
  fs::path nested = fs::path(dir) / "cifar-10-batches-bin";
  if (!fs::exists(fs::path(dir) / firstFile, ignored) &&
      fs::exists(nested / firstFile, ignored))
    return nested;
  return dir;
}

Error missingFile(const fs::path &path, const std::string &dir) {
  return Error(fmt::format(
      "cannot open {}: {}; download CIFAR-10's binary version "
      "(cifar-10-binary.tar.gz from "
      "https://www.cs.toronto.edu/~kriz/cifar.html)"
      " and unpack it into {}, so that the .bin files are in {} or in its "
      "cifar-10-batches-bin/ folder",
      path.string(), std::strerror(ENOENT), dir, dir));
}

/// The number of records in `path`, checking the size before anything is
/// allocated for it.
int64_t countRecords(const fs::path &path, const std::string &dir) {
  std::error_code error;
  if (!fs::exists(path, error))
    throw missingFile(path, dir);
  if (!fs::is_regular_file(path, error))
    throw Error(fmt::format("{} is not a regular file; pass the folder that "
                            "holds CIFAR-10's .bin files",
                            path.string()));
  uintmax_t size = fs::file_size(path, error);
  if (error)
    throw Error(fmt::format("cannot read the size of {}: {}", path.string(),
                            error.message()));
  if (size == 0 || size % kRecordBytes != 0)
    throw Error(fmt::format(
        "{} is {} bytes, not a whole number of {}-byte records (1 label byte "
        "and {} pixel bytes); the file is truncated or is not CIFAR-10's "
        "binary version, download it again",
        path.string(), size, kRecordBytes, kPixels));
  return static_cast<int64_t>(size / kRecordBytes);
}

/// Reads `count` records of `path` into labels[0, count) and the uint8 pixels
/// of images [0, count), checking labels.
void readRecords(const fs::path &path, int64_t count, int64_t *labels,
                 uint8_t *images) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open {}: {}", path.string(),
                            std::strerror(errno ? errno : EIO)));
  std::vector<uint8_t> chunk(kRecordsPerChunk * kRecordBytes);
  for (int64_t first = 0; first < count; first += kRecordsPerChunk) {
    int64_t records = std::min(kRecordsPerChunk, count - first);
    in.read(reinterpret_cast<char *>(chunk.data()), records * kRecordBytes);
    if (in.gcount() != records * kRecordBytes)
      throw Error(fmt::format("{} ended at record {} of {} while being read; "
                              "was it changed meanwhile?",
                              path.string(), first + in.gcount() / kRecordBytes,
                              count));
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t *record = chunk.data() + r * kRecordBytes;
      int64_t index = first + r;
      if (record[0] >= kClasses)
        throw Error(fmt::format(
            "{}: label {} of record {} is not a class index in [0, {}); the "
            "file is corrupt or is not CIFAR-10 (CIFAR-100 has 2 label bytes)",
            path.string(), record[0], index, kClasses));
      labels[index] = record[0];
      std::memcpy(images + index * kPixels, record + 1, kPixels);
    }
  }
}

} // namespace

Dataset loadCifar10(const std::string &dir, bool train, PixelStorage storage) {
  std::vector<std::string> names = splitFiles(train);
  fs::path splitDir = findSplitDir(dir, names.front());
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string &name : names) {
    counts.push_back(countRecords(splitDir / name, dir));
    total += counts.back();
  }

  Dataset result;
  result.classNames = kCifar10Classes;
  result.labels = Tensor::empty({total}, DType::I64);
  result.decoding = {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0};
  result.images = Tensor::empty({total, kChannels, kSide, kSide}, DType::U8);
  int64_t offset = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    readRecords(splitDir / names[i], counts[i],
                result.labels.data<int64_t>() + offset,
                result.images.data<uint8_t>() + offset * kPixels);
    offset += counts[i];
  }
  return storage == PixelStorage::Uint8 ? result : result.decoded();
}

} // namespace kiln
