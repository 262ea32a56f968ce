// One function per file parser: write the bytes where the parser reads them,
// parse, then touch every byte of what came back so a result larger than its
// buffer shows up under AddressSanitizer.
#include "FuzzTargets.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Image.h"
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Tensor.h"
#include "kiln/runtime/TorchPt.h"
#include "kiln/runtime/data/Cifar10.h"
#include "kiln/runtime/data/Idx.h"

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace kiln::fuzz {

namespace {

namespace fs = std::filesystem;

/// A folder of this process's own, so parallel fuzzers and tests never share
/// a file; /dev/shm keeps the many writes off the disk.
const fs::path &scratchDir() {
  static const fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm")
                                           : fs::temp_directory_path();
    fs::path path = base / ("kiln-fuzz-" + std::to_string(getpid()));
    fs::create_directories(path);
    return path;
  }();
  return dir;
}

std::string writeInput(const uint8_t *data, size_t size,
                       const std::string &fileName) {
  fs::path path = scratchDir() / fileName;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data),
            static_cast<std::streamsize>(size));
  if (!out.flush())
    throw std::runtime_error("cannot write the fuzz input " + path.string());
  return path.string();
}

/// Reads every byte so an undersized buffer is an AddressSanitizer report.
volatile uint8_t sink;
void touch(const void *bytes, size_t size) {
  const auto *p = static_cast<const uint8_t *>(bytes);
  uint8_t sum = 0;
  for (size_t i = 0; i < size; ++i)
    sum ^= p[i];
  sink = sum;
}
void touch(const Tensor &tensor) {
  if (tensor.defined())
    touch(tensor.rawData(), tensor.nbytes());
}

void runIdx(const uint8_t *data, size_t size) {
  IdxArray array = readIdx(writeInput(data, size, "input.idx"));
  touch(array.bytes.data(), array.bytes.size());
}

void runSafetensors(const uint8_t *data, size_t size) {
  std::string path = writeInput(data, size, "input.safetensors");
  readSafetensorsMetadata(path);
  for (const auto &[name, tensor] : readSafetensors(path))
    touch(tensor);
}

void runTorchPt(const uint8_t *data, size_t size) {
  for (const auto &[name, tensor] :
       readTorchStateDict(writeInput(data, size, "input.pt")))
    touch(tensor);
}

void putLe(std::string &out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    out.push_back(static_cast<char>(value >> (8 * i)));
}

/// A stored (uncompressed) zip archive of `entries`, as torch.save lays it
/// out, minus the zip64 records it does not need.
std::string zipArchive(
    const std::vector<std::pair<std::string, std::string>> &entries) {
  std::string out, directory;
  for (const auto &[name, data] : entries) {
    uint32_t crc = crc32_z(0, reinterpret_cast<const Bytef *>(data.data()),
                           data.size());
    std::string common;
    putLe(common, 0, 2);           // flags
    putLe(common, 0, 2);           // method: stored
    putLe(common, 0, 4);           // time and date
    putLe(common, crc, 4);
    putLe(common, data.size(), 4); // compressed size
    putLe(common, data.size(), 4); // size
    putLe(common, name.size(), 2);
    putLe(common, 0, 2);           // extra length
    putLe(directory, 0x02014b50, 4);
    putLe(directory, 20, 2); // made by
    putLe(directory, 20, 2); // needed
    directory += common;
    putLe(directory, 0, 6); // comment length, disk, internal attributes
    putLe(directory, 0, 4); // external attributes
    putLe(directory, out.size(), 4);
    directory += name;
    putLe(out, 0x04034b50, 4);
    putLe(out, 20, 2);
    out += common + name + data;
  }
  size_t directoryOffset = out.size();
  out += directory;
  putLe(out, 0x06054b50, 4);
  putLe(out, 0, 4); // disk numbers
  putLe(out, entries.size(), 2);
  putLe(out, entries.size(), 2);
  putLe(out, directory.size(), 4);
  putLe(out, directoryOffset, 4);
  putLe(out, 0, 2); // comment length
  return out;
}

/// The input as data.pkl of a valid archive with storages "0" to "9" of 1 KiB
/// each, so the fuzzer reaches the unpickler instead of stopping at the zip
/// CRC check.
void runTorchPickle(const uint8_t *data, size_t size) {
  std::vector<std::pair<std::string, std::string>> entries = {
      {"archive/data.pkl",
       std::string(reinterpret_cast<const char *>(data), size)},
      {"archive/version", "3\n"}};
  for (int key = 0; key < 10; ++key)
    entries.emplace_back("archive/data/" + std::to_string(key),
                         std::string(1024, static_cast<char>(key)));
  std::string archive = zipArchive(entries);
  for (const auto &[name, tensor] : readTorchStateDict(writeInput(
           reinterpret_cast<const uint8_t *>(archive.data()), archive.size(),
           "pickle.pt")))
    touch(tensor);
}

void runNpy(const uint8_t *data, size_t size) {
  touch(readNpy(writeInput(data, size, "input.npy")));
}

void runCifar10(const uint8_t *data, size_t size) {
  writeInput(data, size, "test_batch.bin");
  Dataset dataset = loadCifar10(scratchDir().string(), /*train=*/false);
  touch(dataset.images);
  touch(dataset.labels);
}

void runPng(const uint8_t *data, size_t size) {
  Image image = readPng(writeInput(data, size, "input.png"));
  touch(image.pixels.data(), image.pixels.size());
}

void runProgramFile(const uint8_t *data, size_t size) {
  ProgramFile file = readProgramFile(writeInput(data, size, "input.kiln"));
  touch(file.graph.data(), file.graph.size());
  for (const auto &[name, tensor] : file.tensors)
    touch(tensor);
}

void runEntries(const uint8_t *data, size_t size) {
  parseEntryPoints(std::string(reinterpret_cast<const char *>(data), size));
}

} // namespace

const std::vector<FuzzTarget> &fuzzTargets() {
  static const std::vector<FuzzTarget> targets = {
      {"idx", runIdx},         {"safetensors", runSafetensors},
      {"torch_pt", runTorchPt}, {"torch_pickle", runTorchPickle},
      {"npy", runNpy},
      {"cifar10", runCifar10}, {"png", runPng},
      {"entries", runEntries}, {"program_file", runProgramFile}};
  return targets;
}

const FuzzTarget &fuzzTarget(const std::string &name) {
  for (const FuzzTarget &target : fuzzTargets())
    if (name == target.name)
      return target;
  throw std::invalid_argument("no fuzz target named " + name);
}

} // namespace kiln::fuzz
