// Test fixtures for the runtime: scratch directories, hand-built IDX files.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::test {

/// A fresh directory under $TMPDIR, removed with everything in it at scope
/// exit.
class TempDir {
public:
  TempDir() {
    // mkdtemp replaces the trailing six X's with a unique suffix.
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kiln-test-").string() +
        std::string(6, 'X');
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string &name) const {
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

/// Whether a temporary file of an atomic write of `path` was left behind.
inline bool hasTemporaryFile(const std::string &path) {
  std::filesystem::path target(path);
  std::string prefix = target.filename().string() + ".tmp";
  for (const auto &entry :
       std::filesystem::directory_iterator(target.parent_path())) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0)
      return true;
  }
  return false;
}

/// The bytes of an IDX file: big-endian magic, big-endian sizes, then data.
inline std::vector<uint8_t> idxBytes(uint32_t magic,
                                     const std::vector<uint32_t> &dims,
                                     const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<uint8_t>(v >> shift));
  };
  put32(magic);
  for (uint32_t d : dims)
    put32(d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline void writeGzip(const std::string &path,
                      const std::vector<uint8_t> &bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (!file)
    throw std::runtime_error("gzopen failed for " + path);
  if (!bytes.empty() &&
      gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) !=
          static_cast<int>(bytes.size()))
    throw std::runtime_error("gzwrite failed for " + path);
  gzclose(file);
}

inline void writeRaw(const std::string &path,
                     const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> readRaw(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace kiln::test
