// writeFileAtomically: temporary file, fsync, rename.
#include "kiln/runtime/util/AtomicFile.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace kiln {

namespace {

std::string errnoText() { return errno ? std::strerror(errno) : "I/O error"; }

/// Forces the bytes to disk before the rename makes them visible, so a power
/// cut cannot leave an empty file under the final name.
void syncFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return;
  ::fsync(fd);
  ::close(fd);
}

} // namespace

void writeFileAtomically(const std::string &path,
                         const std::function<void(std::ostream &)> &write) {
  // Unique per process and call, so concurrent writers of one path (two
  // processes filling the program cache, say) never share a temporary file.
  static std::atomic<unsigned> counter{0};
  std::string temporary = fmt::format("{}.tmp.{}.{}", path, ::getpid(),
                                      counter.fetch_add(1));
  try {
    errno = 0;
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error(fmt::format("cannot create {}: {}; check that the directory "
                              "exists and is writable",
                              temporary, errnoText()));
    write(out);
    out.flush();
    if (!out)
      throw Error(fmt::format("cannot write {}: {}; check free disk space",
                              temporary, errnoText()));
    out.close();
    syncFile(temporary);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
      throw Error(fmt::format("cannot rename {} to {}: {}; check that {} is "
                              "not a directory and is writable",
                              temporary, path, errnoText(), path));
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
}

} // namespace kiln
