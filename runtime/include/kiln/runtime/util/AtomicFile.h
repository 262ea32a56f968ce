// Writing files so readers see the old file or the complete new one.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace kiln {

/// Streams `write`'s output to `path + ".tmp"`, syncs it, and renames it over
/// `path`. If `write` throws or the disk fills up, the temporary is removed and
/// `path` is left untouched. Throws kiln::Error when the file cannot be
/// written.
void writeFileAtomically(const std::string &path,
                         const std::function<void(std::ostream &)> &write);

} // namespace kiln
