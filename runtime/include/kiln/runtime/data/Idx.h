// Reading IDX files (MNIST's format), gzipped or not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// The contents of one IDX file: its dimensions and its row-major bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

/// Reads an IDX file of unsigned bytes (magic 0x00000801 for labels,
/// 0x00000803 for images, any rank 1..4), gzip-compressed or not. Throws
/// kiln::Error for a missing, truncated or corrupt file, naming the file.
IdxArray readIdx(const std::string &path);

} // namespace kiln
