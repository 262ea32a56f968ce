// Safetensors reading, as strict as the Rust crate, and atomic writing.
#include "kiln/runtime/Safetensors.h"

#include "TensorInternal.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

namespace kiln {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian and kiln copies it verbatim");

namespace {

// The reference implementation's limit; a larger header means a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char *kMetadataKey = "__metadata__";

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

struct Header {
  std::vector<Entry> entries; // sorted by data offset
  std::map<std::string, std::string> metadata;
  uint64_t dataStart;
};

const char *safetensorsDType(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F64:
    return "F64";
  case DType::I64:
    return "I64";
  case DType::U8:
    return "U8";
  }
  return "?";
}

Error corrupt(const std::string &path, const std::string &reason) {
  return Error(fmt::format("{}: {}; the file is truncated or corrupt, write it "
                           "again",
                           path, reason));
}

Error badTensor(const std::string &path, const std::string &name,
                const std::string &reason) {
  return corrupt(path, fmt::format("tensor '{}' {}", name, reason));
}

std::ifstream openForReading(const std::string &path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open {}: {}; check the path", path,
                            errno ? std::strerror(errno) : "unknown error"));
  return in;
}

Entry parseEntry(const std::string &path, const std::string &name,
                 const nlohmann::json &value) {
  if (!value.is_object())
    throw badTensor(path, name, "is not described by a JSON object");
  Entry entry{name, DType::F32, {}, 0, 0};

  auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string())
    throw badTensor(path, name, "has no \"dtype\" string");
  std::string dtypeText = dtype->get<std::string>();
  if (dtypeText == "F32")
    entry.dtype = DType::F32;
  else if (dtypeText == "F64")
    entry.dtype = DType::F64;
  else if (dtypeText == "I64")
    entry.dtype = DType::I64;
  else if (dtypeText == "U8")
    entry.dtype = DType::U8;
  else
    throw Error(fmt::format("{}: tensor '{}' has dtype {}, which kiln cannot "
                            "read; convert it to F32, F64, I64 or U8 when saving",
                            path, name, dtypeText));

  auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array())
    throw badTensor(path, name, "has no \"shape\" array");
  for (const nlohmann::json &size : *shape) {
    if (!size.is_number_unsigned())
      throw badTensor(path, name, "has a shape entry that is not a size >= 0");
    entry.shape.push_back(size.get<int64_t>());
  }

  auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    throw badTensor(path, name,
                    "has no \"data_offsets\" pair of unsigned integers");
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  if (entry.end < entry.begin)
    throw badTensor(path, name,
                    fmt::format("has data_offsets [{}, {}] that end before "
                                "they begin",
                                entry.begin, entry.end));

  int64_t count;
  try {
    count = detail::checkedNumel(entry.shape, "shape");
  } catch (const Error &) {
    throw badTensor(path, name, "has a shape too large to address");
  }
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(count),
                             dtypeSize(entry.dtype), &bytes) ||
      bytes != entry.end - entry.begin)
    throw badTensor(path, name,
                    fmt::format("has shape {} of {} but data_offsets [{}, {}] "
                                "span {} bytes",
                                shapeToString(entry.shape), dtypeText,
                                entry.begin, entry.end,
                                entry.end - entry.begin));
  return entry;
}

Header readHeader(std::istream &in, const std::string &path) {
  in.seekg(0, std::ios::end);
  uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char lengthBytes[8];
  if (fileSize < 8 || !in.read(reinterpret_cast<char *>(lengthBytes), 8))
    throw corrupt(path, fmt::format("it has {} bytes, too few for the 8-byte "
                                    "header length",
                                    fileSize));
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = headerLength << 8 | lengthBytes[i];
  if (headerLength > kMaxHeaderBytes)
    throw corrupt(path, fmt::format("its header claims {} bytes, more than "
                                    "the {} allowed",
                                    headerLength, kMaxHeaderBytes));
  if (headerLength > fileSize - 8)
    throw corrupt(path, fmt::format("its header claims {} bytes but only {} "
                                    "follow the length",
                                    headerLength, fileSize - 8));
  std::string text(headerLength, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(headerLength)))
    throw corrupt(path, "reading the header failed");

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception &e) {
    // parse_error for bad syntax, out_of_range for a number like 1E999.
    throw corrupt(path,
                  fmt::format("its header is not valid JSON ({})", e.what()));
  }
  if (!json.is_object())
    throw corrupt(path, "its header is not a JSON object");

  Header header;
  header.dataStart = 8 + headerLength;
  for (const auto &[key, value] : json.items()) {
    if (key != kMetadataKey) {
      header.entries.push_back(parseEntry(path, key, value));
      continue;
    }
    if (!value.is_object())
      throw corrupt(path, "its __metadata__ is not a JSON object");
    for (const auto &[metaKey, metaValue] : value.items()) {
      if (!metaValue.is_string())
        throw corrupt(path, fmt::format("__metadata__ entry '{}' is not a "
                                        "string",
                                        metaKey));
      header.metadata[metaKey] = metaValue.get<std::string>();
    }
  }

  // Like the Rust crate: the tensors must tile the data region exactly, with
  // no gaps, no overlaps and nothing left over.
  std::sort(header.entries.begin(), header.entries.end(),
            [](const Entry &a, const Entry &b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t dataSize = fileSize - header.dataStart;
  uint64_t expectedBegin = 0;
  for (const Entry &entry : header.entries) {
    if (entry.begin != expectedBegin)
      throw badTensor(path, entry.name,
                      fmt::format("starts at data byte {}, expected {} (the "
                                  "end of the previous tensor): offsets "
                                  "overlap or leave a gap",
                                  entry.begin, expectedBegin));
    if (entry.end > dataSize)
      throw badTensor(path, entry.name,
                      fmt::format("ends at data byte {} but the file holds "
                                  "only {} data bytes",
                                  entry.end, dataSize));
    expectedBegin = entry.end;
  }
  if (expectedBegin != dataSize)
    throw corrupt(path, fmt::format("its tensors cover {} data bytes but the "
                                    "file holds {}",
                                    expectedBegin, dataSize));
  return header;
}

} // namespace

std::vector<std::pair<std::string, Tensor>>
readSafetensors(std::istream &in, const std::string &name) {
  Header header = readHeader(in, name);
  std::vector<std::pair<std::string, Tensor>> result;
  result.reserve(header.entries.size());
  for (const Entry &entry : header.entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
    in.seekg(static_cast<std::streamoff>(header.dataStart + entry.begin));
    if (!in.read(static_cast<char *>(tensor.rawData()),
                 static_cast<std::streamsize>(entry.end - entry.begin)))
      throw badTensor(name, entry.name, "could not be read");
    result.emplace_back(entry.name, std::move(tensor));
  }
  return result;
}

std::vector<std::pair<std::string, Tensor>>
readSafetensors(const std::string &path) {
  std::ifstream in = openForReading(path);
  return readSafetensors(in, path);
}

std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path) {
  std::ifstream in = openForReading(path);
  return readHeader(in, path).metadata;
}

void writeSafetensors(
    std::ostream &out,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata,
    const std::string &name) {
  // ordered_json keeps the header in the order tensors were given.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header[kMetadataKey] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto &[tensorName, tensor] : tensors) {
    if (tensorName.empty() || tensorName == kMetadataKey ||
        !seen.insert(tensorName).second)
      throw Error(fmt::format("writeSafetensors {}: tensor name '{}' is empty, "
                              "reserved or repeated; give every tensor a "
                              "unique name",
                              name, tensorName));
    if (!tensor.defined())
      throw Error(fmt::format("writeSafetensors {}: tensor '{}' is undefined; "
                              "pass an allocated tensor",
                              name, tensorName));
    uint64_t end = offset + tensor.nbytes();
    header[tensorName] = {{"dtype", safetensorsDType(tensor.dtype())},
                          {"shape", tensor.shape()},
                          {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text = header.dump();
  // Spaces are valid JSON padding; aligning the data to 8 bytes lets readers
  // that map the file use the tensors in place.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  uint64_t length = text.size();
  unsigned char lengthBytes[8];
  for (int i = 0; i < 8; ++i)
    lengthBytes[i] = static_cast<unsigned char>(length >> (8 * i));
  out.write(reinterpret_cast<const char *>(lengthBytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto &[tensorName, tensor] : tensors) {
    Tensor data = tensor.contiguous();
    out.write(static_cast<const char *>(data.rawData()),
              static_cast<std::streamsize>(data.nbytes()));
  }
}

void writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata) {
  writeFileAtomically(path, [&](std::ostream &out) {
    writeSafetensors(out, tensors, metadata, path);
  });
}

} // namespace kiln
