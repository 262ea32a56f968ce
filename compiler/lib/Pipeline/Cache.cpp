// The on-disk program cache: an object file and a text description of its
// entry points per key.
#include "Cache.h"

#include "ObjectCode.h"
#include "kiln/runtime/util/AtomicFile.h"

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
constexpr const char *kFormat = "kiln-program-entries 1";

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

std::string describe(const std::vector<EntryPoint> &entries) {
  std::ostringstream out;
  out << kFormat << "\n";
  for (const EntryPoint &entry : entries) {
    out << "entry " << entry.name << " " << entry.args.size() << "\n";
    for (const ArgSpec &arg : entry.args) {
      out << "arg " << static_cast<int>(arg.role) << " "
          << static_cast<int>(arg.dtype) << " " << arg.bound << " "
          << arg.shape.size();
      for (int64_t size : arg.shape)
        out << " " << size;
      out << " " << arg.name << "\n";
    }
  }
  return out.str();
}

std::optional<std::vector<EntryPoint>> parse(std::istream &in) {
  std::string line;
  if (!std::getline(in, line) || line != kFormat)
    return std::nullopt;
  std::vector<EntryPoint> entries;
  std::string word;
  while (in >> word) {
    size_t count = 0;
    EntryPoint entry;
    if (word != "entry" || !(in >> entry.name >> count) || count > 10000)
      return std::nullopt;
    for (size_t i = 0; i < count; ++i) {
      ArgSpec arg;
      int role = 0, dtype = 0;
      size_t rank = 0;
      if (!(in >> word >> role >> dtype >> arg.bound >> rank) ||
          word != "arg" || role < 0 || role > 5 || dtype < 0 || dtype > 2 ||
          rank > 8)
        return std::nullopt;
      arg.role = static_cast<ArgRole>(role);
      arg.dtype = static_cast<DType>(dtype);
      arg.shape.resize(rank);
      for (int64_t &size : arg.shape) {
        if (!(in >> size) || size < 0)
          return std::nullopt;
      }
      if (!(in >> arg.name))
        return std::nullopt;
      entry.args.push_back(std::move(arg));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
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

std::string cacheDirectory() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"))
    return std::string(dir) == "off" ? "" : dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/kiln";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/kiln";
  return "";
}

std::optional<CachedProgram> loadCachedProgram(const std::string &key) {
  std::string dir = cacheDirectory();
  if (dir.empty())
    return std::nullopt;
  std::ifstream entriesFile(dir + "/" + key + ".entries");
  std::ifstream objectFile(dir + "/" + key + ".o", std::ios::binary);
  if (!entriesFile || !objectFile)
    return std::nullopt;
  std::optional<std::vector<EntryPoint>> entries = parse(entriesFile);
  if (!entries)
    return std::nullopt;
  std::ostringstream object;
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
      out << describe(program.entries);
    });
    writeFileAtomically(dir + "/" + key + ".o", [&](std::ostream &out) {
      out << program.object;
    });
  } catch (const std::exception &) {
    // A read-only or full disk only costs the next compile its time.
  }
}

} // namespace kiln
