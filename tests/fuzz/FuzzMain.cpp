// libFuzzer entry for one parser, chosen at build time by KILN_FUZZ_TARGET.
#include "FuzzTargets.h"

#include "kiln/runtime/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const kiln::fuzz::FuzzTarget &target =
      kiln::fuzz::fuzzTarget(KILN_FUZZ_TARGET);
  try {
    target.run(data, size);
  } catch (const kiln::Error &) {
    // A refused file is the expected outcome; any other exception escapes
    // and libFuzzer reports it as a crash.
  }
  return 0;
}
