// Zip central-directory reading, following PKWARE's APPNOTE.TXT (sections
// 4.3.7 local header, 4.3.12 central directory, 4.3.14-16 end records, 4.5.3
// zip64 extra field).
#include "Zip.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>
#include <zlib.h>

namespace kiln::detail {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kCentralHeaderBytes = 46;
constexpr size_t kEndBytes = 22;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kZip64EndBytes = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;

/// Little-endian reads that refuse to run past the archive.
class Reader {
public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  std::span<const uint8_t> span(uint64_t offset, uint64_t size,
                                const char *what) const {
    if (offset > bytes_.size() || size > bytes_.size() - offset)
      throw Error(fmt::format(
          "zip archive is truncated: {} ({} bytes at offset {}) runs past "
          "the end of the {}-byte file",
          what, size, offset, bytes_.size()));
    return bytes_.subspan(offset, size);
  }
  uint64_t le(uint64_t offset, unsigned width, const char *what) const {
    std::span<const uint8_t> field = span(offset, width, what);
    uint64_t value = 0;
    for (unsigned i = width; i-- > 0;)
      value = value << 8 | field[i];
    return value;
  }

private:
  std::span<const uint8_t> bytes_;
};

struct Directory {
  uint64_t entries, offset, size;
};

Directory findDirectory(const Reader &in, size_t fileSize) {
  // The end record sits before a comment of at most 65535 bytes.
  if (fileSize < kEndBytes)
    throw Error(fmt::format("not a zip archive: {} bytes is too short for "
                            "its end record",
                            fileSize));
  size_t lowest =
      fileSize - kEndBytes > 0xffff ? fileSize - kEndBytes - 0xffff : 0;
  for (size_t pos = fileSize - kEndBytes + 1; pos-- > lowest;) {
    if (in.le(pos, 4, "end record") != kEndSig)
      continue;
    Directory dir{in.le(pos + 10, 2, "entry count"),
                  in.le(pos + 16, 4, "directory offset"),
                  in.le(pos + 12, 4, "directory size")};
    if (in.le(pos + 4, 2, "disk number") != 0 ||
        in.le(pos + 6, 2, "directory disk") != 0)
      throw Error("zip archive spans several disks, which kiln does not read");
    // torch.save always adds the zip64 records; plain archives may not.
    if (pos < kZip64LocatorBytes ||
        in.le(pos - kZip64LocatorBytes, 4, "zip64 locator") != kZip64LocatorSig)
      return dir;
    uint64_t end64 = in.le(pos - kZip64LocatorBytes + 8, 8, "zip64 locator");
    in.span(end64, kZip64EndBytes, "zip64 end record");
    if (in.le(end64, 4, "zip64 end record") != kZip64EndSig)
      throw Error("zip archive is corrupt: the zip64 locator points at no "
                  "zip64 end record");
    return {in.le(end64 + 32, 8, "zip64 entry count"),
            in.le(end64 + 48, 8, "zip64 directory offset"),
            in.le(end64 + 40, 8, "zip64 directory size")};
  }
  throw Error("not a zip archive (no end-of-central-directory record); "
              "torch.save writes zip archives since PyTorch 1.6");
}

} // namespace

ZipArchive::ZipArchive(std::span<const uint8_t> bytes) {
  Reader in(bytes);
  Directory dir = findDirectory(in, bytes.size());
  in.span(dir.offset, dir.size, "central directory");
  uint64_t pos = dir.offset, end = dir.offset + dir.size;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (end - pos < kCentralHeaderBytes ||
        in.le(pos, 4, "central header") != kCentralHeaderSig)
      throw Error(fmt::format("zip archive is corrupt: central directory "
                              "entry {} of {} is missing or damaged",
                              i + 1, dir.entries));
    uint64_t flags = in.le(pos + 8, 2, "flags");
    uint64_t method = in.le(pos + 10, 2, "method");
    uint64_t crc = in.le(pos + 16, 4, "crc");
    uint64_t packedSize = in.le(pos + 20, 4, "compressed size");
    uint64_t size = in.le(pos + 24, 4, "size");
    uint64_t nameBytes = in.le(pos + 28, 2, "name length");
    uint64_t extraBytes = in.le(pos + 30, 2, "extra length");
    uint64_t commentBytes = in.le(pos + 32, 2, "comment length");
    uint64_t local = in.le(pos + 42, 4, "local header offset");
    uint64_t next =
        pos + kCentralHeaderBytes + nameBytes + extraBytes + commentBytes;
    if (next > end)
      throw Error("zip archive is corrupt: a central directory entry runs "
                  "past the directory");
    std::span<const uint8_t> nameField =
        in.span(pos + kCentralHeaderBytes, nameBytes, "entry name");
    std::string name(nameField.begin(), nameField.end());
    // Sizes too big for 32 bits move to the zip64 extra field, in this order.
    uint64_t extra = pos + kCentralHeaderBytes + nameBytes;
    for (uint64_t e = extra; e + 4 <= extra + extraBytes;) {
      uint64_t id = in.le(e, 2, "extra id"), len = in.le(e + 2, 2, "extra");
      uint64_t field = e + 4;
      e = field + len;
      if (id != kZip64ExtraId || e > extra + extraBytes)
        continue;
      for (uint64_t *value : {&size, &packedSize, &local}) {
        if (*value != 0xffffffff || field + 8 > e)
          continue;
        *value = in.le(field, 8, "zip64 extra field");
        field += 8;
      }
    }
    pos = next;
    if (flags & 1)
      throw Error(fmt::format("zip entry '{}' is encrypted", name));
    if (method != 0 || packedSize != size)
      throw Error(fmt::format(
          "zip entry '{}' is compressed (method {}); kiln reads the "
          "uncompressed entries torch.save writes",
          name, method));
    if (in.le(local, 4, "local header") != kLocalHeaderSig)
      throw Error(fmt::format("zip archive is corrupt: entry '{}' has no "
                              "local header at offset {}",
                              name, local));
    uint64_t dataOffset = local + kLocalHeaderBytes +
                          in.le(local + 26, 2, "local name length") +
                          in.le(local + 28, 2, "local extra length");
    std::span<const uint8_t> data = in.span(dataOffset, size, "entry data");
    if (crc32_z(0, data.data(), data.size()) != crc)
      throw Error(fmt::format("zip entry '{}' is corrupt: its CRC-32 does "
                              "not match its data",
                              name));
    if (!entries_.emplace(name, data).second)
      throw Error(fmt::format("zip archive holds '{}' twice", name));
  }
}

const std::span<const uint8_t> *
ZipArchive::find(const std::string &name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

} // namespace kiln::detail
