// Program files: a header with a checksummed section table, then the
// sections (docs/program-file.md).
#include "kiln/runtime/ProgramFile.h"

#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace kiln {

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'R', 'O', 'G'};
constexpr size_t kFixedHeader = 16; // magic, version, section count
constexpr size_t kTableEntry = 32;  // name, offset, size, CRC-32, zero
constexpr uint32_t kMaxSections = 64;
const char *const kRequired[] = {"meta", "graph", "entries", "weights"};

uint64_t readLittle(const std::string &bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

void appendLittle(std::string &bytes, uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    bytes.push_back(static_cast<char>(value >> (8 * i)));
}

uint32_t crc32Of(const char *data, size_t size) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef *>(data), size));
}

Error corrupt(const std::string &path, const std::string &reason) {
  return Error(fmt::format("{}: {}; the program file is truncated or "
                           "corrupt, save it again",
                           path, reason));
}

std::string readWholeFile(const std::string &path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open {}: {}; check the path", path,
                            errno ? std::strerror(errno) : "unknown error"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Section {
  std::string name;
  uint64_t offset, size;
  uint32_t crc;
};

// The section table, checked: within the file, in order, no overlaps, the
// last one ending the file, every checksum right.
std::vector<Section> readSections(const std::string &bytes,
                                  const std::string &path) {
  if (bytes.size() < kFixedHeader)
    throw corrupt(path, fmt::format("it has {} bytes, too few for the {}-byte "
                                    "header",
                                    bytes.size(), kFixedHeader));
  const uint32_t version = static_cast<uint32_t>(readLittle(bytes, 8, 4));
  if (version != kProgramFileVersion)
    throw Error(fmt::format("{}: program file format version {}, but this "
                            "kiln ({}) reads version {}; save the program "
                            "again with this kiln",
                            path, version, KILN_VERSION, kProgramFileVersion));
  const uint32_t count = static_cast<uint32_t>(readLittle(bytes, 12, 4));
  if (count == 0 || count > kMaxSections)
    throw corrupt(path, fmt::format("its header lists {} sections, not 1 to "
                                    "{}",
                                    count, kMaxSections));
  const size_t headerEnd = kFixedHeader + kTableEntry * count;
  if (bytes.size() < headerEnd + 4)
    throw corrupt(path, fmt::format("it has {} bytes, too few for its "
                                    "{}-byte header and section table",
                                    bytes.size(), headerEnd + 4));
  const uint32_t headerCrc =
      static_cast<uint32_t>(readLittle(bytes, headerEnd, 4));
  if (crc32Of(bytes.data(), headerEnd) != headerCrc)
    throw corrupt(path, "its header fails its checksum");

  std::vector<Section> sections;
  std::set<std::string> names;
  uint64_t previousEnd = headerEnd + 4;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t at = kFixedHeader + kTableEntry * i;
    Section section;
    section.name =
        std::string(bytes.data() + at, strnlen(bytes.data() + at, 8));
    section.offset = readLittle(bytes, at + 8, 8);
    section.size = readLittle(bytes, at + 16, 8);
    section.crc = static_cast<uint32_t>(readLittle(bytes, at + 24, 4));
    if (section.name.empty() || !names.insert(section.name).second)
      throw corrupt(path, fmt::format("section {} has an empty or repeated "
                                      "name",
                                      i));
    // Each section starts at the first multiple of 8 after the one before,
    // and the padding is zero: no byte of the file escapes a checksum.
    const uint64_t expected = (previousEnd + 7) / 8 * 8;
    if (section.offset != expected)
      throw corrupt(path, fmt::format("section '{}' starts at byte {}, not {}",
                                      section.name, section.offset, expected));
    if (section.offset > bytes.size() ||
        section.size > bytes.size() - section.offset)
      throw corrupt(path,
                    fmt::format("section '{}' claims bytes [{}, {}) but "
                                "the file has {} bytes",
                                section.name, section.offset,
                                section.offset + section.size, bytes.size()));
    for (uint64_t at = previousEnd; at < section.offset; ++at) {
      if (bytes[at] != 0)
        throw corrupt(path, fmt::format("padding byte {} before section '{}' "
                                        "is not zero",
                                        at, section.name));
    }
    previousEnd = section.offset + section.size;
    sections.push_back(section);
  }
  if (previousEnd != bytes.size())
    throw corrupt(path, fmt::format("{} bytes follow its last section",
                                    bytes.size() - previousEnd));
  for (const Section &section : sections) {
    const uint32_t actual =
        crc32Of(bytes.data() + section.offset, section.size);
    if (actual != section.crc)
      throw corrupt(path, fmt::format("section '{}' fails its checksum "
                                      "(stored {:08x}, computed {:08x})",
                                      section.name, section.crc, actual));
  }
  for (const char *required : kRequired) {
    if (!names.count(required))
      throw corrupt(path, fmt::format("it has no '{}' section", required));
  }
  return sections;
}

std::map<std::string, std::string> parseMetadata(const std::string &text,
                                                 const std::string &path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception &e) {
    throw corrupt(path,
                  fmt::format("its 'meta' section is not JSON ({})", e.what()));
  }
  if (!json.is_object())
    throw corrupt(path, "its 'meta' section is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto &[key, value] : json.items()) {
    if (!value.is_string())
      throw corrupt(path,
                    fmt::format("'meta' entry '{}' is not a string", key));
    metadata[key] = value.get<std::string>();
  }
  auto version = metadata.find("kiln_version");
  if (version == metadata.end())
    throw corrupt(path, "its 'meta' section has no kiln_version");
  checkFileVersion(path, version->second);
  return metadata;
}

} // namespace

bool isProgramFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kMagic] = {};
  in.read(magic, sizeof magic);
  return in && std::memcmp(magic, kMagic, sizeof kMagic) == 0;
}

ProgramFile readProgramFile(const std::string &path) {
  const std::string bytes = readWholeFile(path);
  if (bytes.size() < sizeof kMagic ||
      std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw Error(fmt::format("{}: not a kiln program file (it does not start "
                            "with \"KILNPROG\"); write one with kiln compile "
                            "--program or kiln::saveProgram",
                            path));
  std::map<std::string, std::string> contents;
  for (const Section &section : readSections(bytes, path))
    contents[section.name] = bytes.substr(section.offset, section.size);

  ProgramFile file;
  file.metadata = parseMetadata(contents["meta"], path);
  file.graph = std::move(contents["graph"]);
  if (file.graph.empty())
    throw corrupt(path, "its 'graph' section is empty");
  try {
    file.entries = parseEntryPoints(contents["entries"]);
  } catch (const Error &e) {
    throw corrupt(path,
                  fmt::format("its 'entries' section is bad ({})", e.what()));
  }
  std::istringstream weights(contents["weights"]);
  file.tensors = readSafetensors(weights, path + " (weights section)");
  return file;
}

void writeProgramFile(const std::string &path, const ProgramFile &file) {
  nlohmann::json meta(file.metadata);
  std::ostringstream weights;
  writeSafetensors(weights, file.tensors, {}, path);
  const std::vector<std::pair<std::string, std::string>> sections = {
      {"meta", meta.dump(1)},
      {"graph", file.graph},
      {"entries", formatEntryPoints(file.entries)},
      {"weights", weights.str()}};

  std::string bytes(kMagic, sizeof kMagic);
  appendLittle(bytes, kProgramFileVersion, 4);
  appendLittle(bytes, sections.size(), 4);
  // Each section starts 8-byte aligned, so the weights' tensors stay aligned.
  uint64_t offset = kFixedHeader + kTableEntry * sections.size() + 4;
  std::vector<uint64_t> offsets;
  for (const auto &[name, content] : sections) {
    offset = (offset + 7) / 8 * 8;
    offsets.push_back(offset);
    std::string padded = name;
    padded.resize(8, '\0');
    bytes += padded;
    appendLittle(bytes, offset, 8);
    appendLittle(bytes, content.size(), 8);
    appendLittle(bytes, crc32Of(content.data(), content.size()), 4);
    appendLittle(bytes, 0, 4);
    offset += content.size();
  }
  appendLittle(bytes, crc32Of(bytes.data(), bytes.size()), 4);
  for (size_t i = 0; i < sections.size(); ++i) {
    bytes.resize(offsets[i], '\0');
    bytes += sections[i].second;
  }
  writeFileAtomically(path, [&](std::ostream &out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

void saveProgram(const std::string &path, const Program &program,
                 const std::map<std::string, std::string> &metadata) {
  if (program.graphBytecode().empty())
    throw Error("saveProgram " + path +
                ": this program has no graph to save (an AOT bundle or a C "
                "API model); save its weights with saveStateDict instead");
  ProgramFile file;
  file.metadata = metadata;
  file.metadata["kiln_version"] = KILN_VERSION;
  file.graph = program.graphBytecode();
  for (const std::string &name : program.entryNames()) {
    file.entries.push_back(program.entry(name));
    file.entries.back().function = nullptr;
  }
  file.tensors = checkpointTensors(program);
  writeProgramFile(path, file);
}

} // namespace kiln
