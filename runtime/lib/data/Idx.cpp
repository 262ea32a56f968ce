// readIdx: a defensive IDX reader on top of zlib's gz* functions.
#include "kiln/runtime/data/Idx.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace kiln {

namespace {

// The largest Fashion-MNIST file is 47 MB unpacked; anything past 1 GiB is a
// corrupt header, and refusing it avoids a huge allocation.
constexpr int64_t kMaxIdxBytes = int64_t(1) << 30;
// Data is read and the buffer grown in pieces, so a header that claims more
// data than the file holds costs at most one chunk beyond the real size.
constexpr int64_t kChunkBytes = int64_t(1) << 20;
constexpr uint8_t kUnsignedByteType = 0x08;

struct GzCloser {
  void operator()(gzFile_s *file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

class IdxReader {
public:
  IdxReader(const std::string &path) : path_(path) {
    errno = 0;
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_)
      throw Error(fmt::format("cannot open {}: {}; check the path", path,
                              errno ? std::strerror(errno) : "out of memory"));
  }

  /// Reads up to `size` bytes, returning how many arrived before end of file.
  int64_t read(void *dest, int64_t size) {
    int got = gzread(file_.get(), dest, static_cast<unsigned>(size));
    if (got < 0)
      throw corrupt(gzErrorText());
    return got;
  }

  void readExactly(void *dest, int64_t size, const char *what) {
    int64_t got = read(dest, size);
    if (got != size)
      throw corrupt(fmt::format("file ends inside the {}", what));
  }

  uint32_t readBigEndian32(const char *what) {
    uint8_t b[4];
    readExactly(b, 4, what);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 |
           uint32_t(b[3]);
  }

  Error corrupt(const std::string &reason) const {
    return Error(fmt::format("{} is not a valid IDX file: {}; the file is "
                             "truncated or corrupt, download it again",
                             path_, reason));
  }

private:
  std::string gzErrorText() {
    int code = 0;
    const char *message = gzerror(file_.get(), &code);
    if (code == Z_ERRNO)
      return std::strerror(errno);
    return message ? message : "unknown zlib error";
  }

  std::string path_;
  GzFile file_;
};

} // namespace

IdxArray readIdx(const std::string &path) {
  IdxReader reader(path);
  uint32_t magic = reader.readBigEndian32("header");
  uint8_t type = (magic >> 8) & 0xff;
  uint8_t rank = magic & 0xff;
  if ((magic >> 16) != 0)
    throw reader.corrupt(fmt::format("magic number 0x{:08x} does not start "
                                     "with two zero bytes",
                                     magic));
  if (type != kUnsignedByteType)
    throw reader.corrupt(fmt::format("element type 0x{:02x} is not 0x08 "
                                     "(unsigned byte), the only type kiln "
                                     "reads",
                                     type));
  if (rank < 1 || rank > 4)
    throw reader.corrupt(
        fmt::format("rank {} is outside the supported 1..4", rank));

  IdxArray result;
  int64_t expected = 1;
  for (uint8_t d = 0; d < rank; ++d) {
    int64_t size = reader.readBigEndian32("dimension sizes");
    result.dims.push_back(size);
    expected *= size;
    // Checked per dimension so the product cannot overflow before the check.
    if (expected > kMaxIdxBytes)
      throw reader.corrupt(fmt::format("dimensions claim more than {} bytes "
                                       "of data",
                                       kMaxIdxBytes));
  }

  while (static_cast<int64_t>(result.bytes.size()) < expected) {
    int64_t have = static_cast<int64_t>(result.bytes.size());
    int64_t want = std::min(kChunkBytes, expected - have);
    result.bytes.resize(have + want);
    int64_t got = reader.read(result.bytes.data() + have, want);
    if (got < want)
      throw reader.corrupt(fmt::format("header promises {} data bytes but the "
                                       "file holds only {}",
                                       expected, have + got));
  }
  uint8_t extra;
  if (reader.read(&extra, 1) != 0)
    throw reader.corrupt(fmt::format("file has data after the {} bytes the "
                                     "header promises",
                                     expected));
  return result;
}

} // namespace kiln
