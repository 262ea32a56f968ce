// Replays every seed, every golden file of a parser's format and every input
// the fuzzers found a bug with: each must parse or be refused by kiln::Error.
#include "FuzzTargets.h"

#include "kiln/runtime/Error.h"

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <typeinfo>

namespace fs = std::filesystem;

namespace {

const fs::path kSourceDir = KILN_SOURCE_DIR;

/// The golden fixtures' extension for parsers that have some.
std::string goldenExtension(const std::string &target) {
  if (target == "safetensors")
    return ".safetensors";
  if (target == "torch_pt")
    return ".pt";
  if (target == "npy")
    return ".npy";
  if (target == "program_file")
    return ".kiln";
  return "";
}

std::vector<fs::path> inputsOf(const std::string &target) {
  std::vector<fs::path> inputs;
  for (const char *folder : {"seeds", "regressions"}) {
    fs::path dir = kSourceDir / "tests/fuzz" / folder / target;
    if (fs::is_directory(dir))
      for (const fs::directory_entry &entry : fs::directory_iterator(dir))
        inputs.push_back(entry.path());
  }
  std::string extension = goldenExtension(target);
  if (!extension.empty())
    for (const fs::directory_entry &entry :
         fs::recursive_directory_iterator(kSourceDir / "tests/golden"))
      if (entry.path().extension() == extension)
        inputs.push_back(entry.path());
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

std::vector<uint8_t> readBytes(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

TEST_CASE("every fuzz input is parsed or refused with kiln::Error") {
  for (const kiln::fuzz::FuzzTarget &target : kiln::fuzz::fuzzTargets()) {
    std::vector<fs::path> inputs = inputsOf(target.name);
    // Every parser has at least one seed, so an empty list is a wrong path.
    CHECK(!inputs.empty());
    for (const fs::path &input : inputs) {
      DYNAMIC_SECTION(target.name << ": " << input.filename().string()) {
        std::vector<uint8_t> bytes = readBytes(input);
        try {
          target.run(bytes.data(), bytes.size());
        } catch (const kiln::Error &) {
          SUCCEED("refused with kiln::Error");
        } catch (const std::exception &error) {
          FAIL(input.string() << " threw a " << typeid(error).name()
                              << ", not kiln::Error: " << error.what());
        }
      }
    }
  }
}
