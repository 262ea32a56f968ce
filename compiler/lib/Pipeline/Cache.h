// Compiled programs cached on disk, so a second compile of the same program
// for the same CPU with the same kiln build only loads an object file.
#ifndef KILN_PIPELINE_CACHE_H
#define KILN_PIPELINE_CACHE_H

#include "kiln/runtime/Program.h"
#include "kiln/runtime/util/CacheDirectory.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln {

struct CachedProgram {
  std::string object;
  std::vector<EntryPoint> entries;
};

/// The key of a program: a hash of its kiln-level IR, the host CPU and this
/// kiln binary (path, size and modification time), so rebuilding kiln never
/// reuses stale code.
std::string programKey(const std::string &programText);

std::optional<CachedProgram> loadCachedProgram(const std::string &key);
/// Best effort: a cache that cannot be written is skipped silently.
void storeCachedProgram(const std::string &key, const CachedProgram &program);

} // namespace kiln

#endif // KILN_PIPELINE_CACHE_H
