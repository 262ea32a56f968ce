// The on-disk program cache: an object file and a text description of its
// entry points per key.
#include "Cache.h"

#include "ObjectCode.h"
#include "kiln/runtime/util/AtomicFile.h"
#include "kiln/runtime/util/CacheDirectory.h"

#include "llvm/Support/xxhash.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace kiln {

namespace {

// Identifies the binary holding this code: any rebuild changes it.
std::string buildIdentity() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&buildIdentity), &info) ||
      !info.dli_fname)
    return "unknown";
  struct stat status;
  if (stat(info.dli_fname, &status) != 0)
    return info.dli_fname;
  return std::string(info.dli_fname) + " " + std::to_string(status.st_size) +
         " " + std::to_string(status.st_mtim.tv_sec) + "." +
         std::to_string(status.st_mtim.tv_nsec);
}

} // namespace

std::string programKey(const std::string &programText) {
  static const std::string context =
      hostTargetDescription() + "\n" + buildIdentity() + "\n";
  std::string text = context + programText;
  uint64_t hash = llvm::xxh3_64bits(llvm::StringRef(text));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(hash));
  return hex;
}

std::optional<CachedProgram> loadCachedProgram(const std::string &key) {
  std::string dir = cacheDirectory();
  if (dir.empty())
    return std::nullopt;
  std::ifstream entriesFile(dir + "/" + key + ".entries");
  std::ifstream objectFile(dir + "/" + key + ".o", std::ios::binary);
  if (!entriesFile || !objectFile)
    return std::nullopt;
  std::ostringstream text, object;
  text << entriesFile.rdbuf();
  std::optional<std::vector<EntryPoint>> entries;
  try {
    entries = parseEntryPoints(text.str());
  } catch (const std::exception &) {
    return std::nullopt; // A damaged cache entry is compiled again.
  }
  object << objectFile.rdbuf();
  if (object.str().empty())
    return std::nullopt;
  return CachedProgram{object.str(), std::move(*entries)};
}

void storeCachedProgram(const std::string &key, const CachedProgram &program) {
  std::string dir = cacheDirectory();
  if (dir.empty())
    return;
  try {
    std::filesystem::create_directories(dir);
    // The object goes last: a key with both files is complete.
    writeFileAtomically(dir + "/" + key + ".entries", [&](std::ostream &out) {
      out << formatEntryPoints(program.entries);
    });
    writeFileAtomically(dir + "/" + key + ".o", [&](std::ostream &out) {
      out << program.object;
    });
  } catch (const std::exception &) {
    // A read-only or full disk only costs the next compile its time.
  }
}

} // namespace kiln
