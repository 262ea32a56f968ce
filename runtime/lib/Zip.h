// Reading the uncompressed (STORED) entries of a zip archive held in memory,
// as torch.save writes them.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

namespace kiln::detail {

/// The entries of a zip archive whose bytes the caller keeps alive. Every
/// offset and size is checked against the bytes, and each entry's CRC-32
/// against its data, so a truncated or altered archive is refused.
class ZipArchive {
public:
  /// Parses the central directory; throws kiln::Error saying what is wrong.
  explicit ZipArchive(std::span<const uint8_t> bytes);

  /// Every entry's data, by name.
  const std::map<std::string, std::span<const uint8_t>> &entries() const {
    return entries_;
  }
  /// The data of `name`, or nullptr when there is no such entry.
  const std::span<const uint8_t> *find(const std::string &name) const;

private:
  std::map<std::string, std::span<const uint8_t>> entries_;
};

} // namespace kiln::detail
