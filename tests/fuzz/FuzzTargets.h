// The parser entry points the fuzzers and the fuzz_regressions test drive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::fuzz {

struct FuzzTarget {
  /// The folder name under seeds/ and regressions/, and the fuzzer's suffix.
  const char *name;
  /// Feeds `size` bytes to the parser. A kiln::Error escapes: it is how a
  /// parser refuses a bad file. Anything else is a bug.
  void (*run)(const uint8_t *data, size_t size);
};

const std::vector<FuzzTarget> &fuzzTargets();
const FuzzTarget &fuzzTarget(const std::string &name);

} // namespace kiln::fuzz
