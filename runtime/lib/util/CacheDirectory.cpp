// Where kiln caches compiled code.
#include "kiln/runtime/util/CacheDirectory.h"

#include <cstdlib>

namespace kiln {

std::string cacheDirectory() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"))
    return std::string(dir) == "off" ? "" : dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/kiln";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/kiln";
  return "";
}

} // namespace kiln
