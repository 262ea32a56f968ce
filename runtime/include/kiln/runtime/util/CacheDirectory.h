// Where kiln caches compiled code: the CPU program cache and the CUDA images.
#pragma once

#include <string>

namespace kiln {

/// The cache folder: $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else
/// ~/.cache/kiln; empty when KILN_CACHE_DIR is "off" or no home is known.
std::string cacheDirectory();

} // namespace kiln
