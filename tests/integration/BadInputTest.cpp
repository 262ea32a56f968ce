// Weights and program files that do not fit, are truncated or were altered:
// the C API (kiln_model_load_weights) answers with a status and a message
// naming what differs, the C++ API (loadParameters, loadProgram) with a
// kiln::Error saying the same, and neither changes the model or crashes.
#include "kiln/Compiler.h"
#include "kiln/kiln_runtime.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/Random.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace kiln;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

fs::path scratchDir() {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln_bad_input_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string writeBytes(const std::string &name, const std::string &bytes) {
  std::string path = (scratchDir() / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

uint64_t little(const std::string &bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

/// A LeNet compiled once for the whole file: its JIT program, a C API model
/// over the same compiled functions, its weights as a state dict and as a
/// program file, and LeNet-CIFAR's weights.
struct Fixture {
  std::unique_ptr<nn::Module> model = makeSeeded("lenet");
  Program program = compileFor(*model);
  kiln_model *c = createCModel(program);
  std::string weights = (scratchDir() / "lenet.safetensors").string();
  std::string programFile = (scratchDir() / "lenet.kiln").string();
  std::string cifarWeights =
      (scratchDir() / "lenet-cifar.safetensors").string();
  std::string cifarProgram = (scratchDir() / "lenet-cifar.kiln").string();
  Tensor images;
  std::vector<float> logitsBefore;

  Fixture() {
    saveStateDict(weights, model->namedParameters(),
                  {{"model", "lenet"}, {"kiln_version", KILN_VERSION}});
    saveProgram(programFile, program, {{"model", "lenet"}});
    auto cifar = makeSeeded("lenet-cifar");
    saveStateDict(cifarWeights, cifar->namedParameters(),
                  {{"model", "lenet-cifar"}});
    CompileSpec spec;
    spec.inputShape = {4, 3, 32, 32};
    spec.train = false;
    spec.predictBatch = 4;
    saveProgram(cifarProgram, compile(*cifar, spec),
                {{"model", "lenet-cifar"}});
    REQUIRE(kiln_model_load_weights(c, weights.c_str()) == KILN_OK);
    Generator gen(2);
    images = normalTensor({4, 1, 32, 32}, gen);
    logitsBefore = predictC();
  }
  ~Fixture() { kiln_model_destroy(c); }

  static std::unique_ptr<nn::Module> makeSeeded(const std::string &name) {
    manualSeed(7);
    return models::makeModel(name);
  }
  static Program compileFor(nn::Module &model) {
    CompileSpec spec;
    spec.inputShape = {4, 1, 32, 32};
    spec.train = false;
    spec.predictBatch = 4;
    spec.evalBatch = 4;
    return compile(model, spec);
  }
  static kiln_model *createCModel(const Program &program) {
    std::vector<EntryPoint> entries;
    std::vector<const char *> names;
    std::vector<kiln_entry_fn> functions;
    for (const std::string &name : program.entryNames())
      entries.push_back(program.entry(name));
    for (const EntryPoint &entry : entries) {
      names.push_back(entry.name.c_str());
      functions.push_back(entry.function);
    }
    kiln_model *model = nullptr;
    REQUIRE(kiln_model_create(formatEntryPoints(entries).c_str(), names.data(),
                              functions.data(), static_cast<int>(names.size()),
                              &model) == KILN_OK);
    return model;
  }

  std::vector<float> predictC() {
    std::vector<float> logits(40);
    REQUIRE(kiln_model_predict(c, images.data<float>(), logits.data()) ==
            KILN_OK);
    return logits;
  }
};

Fixture &fixture() {
  static Fixture f;
  return f;
}

/// Fresh parameters of LeNet's shapes, for the C++ API to load into.
NamedTensors freshParameters() {
  NamedTensors params;
  for (const auto &[name, tensor] : fixture().model->namedParameters())
    params.emplace_back(name, Tensor::zeros(tensor.shape(), tensor.dtype()));
  return params;
}

/// What the C++ API says about `path`: loadParameters, or loadProgram for a
/// program file; "" if it accepted the file.
std::string cppRefusal(const std::string &path, bool asProgram) {
  try {
    if (asProgram)
      loadProgram(path);
    else
      loadParameters(path, freshParameters());
    return "";
  } catch (const Error &e) {
    return e.what();
  }
}

/// Both APIs refuse `path`, each with a message containing `part` (and the
/// path), and the C API model still predicts what it did.
void requireRefused(const std::string &path, const std::string &part,
                    bool asProgram) {
  Fixture &f = fixture();
  INFO("file " << path << " (" << fs::file_size(path) << " bytes)");
  const kiln_status status = kiln_model_load_weights(f.c, path.c_str());
  const std::string message = kiln_model_error(f.c);
  INFO("C API: status " << status << ", " << message);
  CHECK(status == KILN_ERROR_WEIGHTS);
  CHECK_THAT(message, Contains(path) && Contains(part));
  const std::string refusal = cppRefusal(path, asProgram);
  INFO("C++ API: " << refusal);
  CHECK_THAT(refusal, Contains(path) && Contains(part));
  CHECK(f.predictC() == f.logitsBefore);
}

/// The sections of a program file, from its table: name, offset, size.
struct Section {
  std::string name;
  uint64_t offset, size;
};
std::vector<Section> sectionsOf(const std::string &bytes) {
  std::vector<Section> sections;
  for (uint64_t i = 0; i < little(bytes, 12, 4); ++i) {
    const size_t at = 16 + 32 * i;
    sections.push_back(
        {std::string(bytes.data() + at, strnlen(bytes.data() + at, 8)),
         little(bytes, at + 8, 8), little(bytes, at + 16, 8)});
  }
  return sections;
}

} // namespace

TEST_CASE("good weights and program files load through both APIs") {
  Fixture &f = fixture();
  for (const std::string &path : {f.weights, f.programFile}) {
    INFO(path);
    CHECK(kiln_model_load_weights(f.c, path.c_str()) == KILN_OK);
    CHECK(cppRefusal(path, false).empty());
  }
  CHECK(cppRefusal(f.programFile, true).empty());
  CHECK(f.predictC() == f.logitsBefore);
}

TEST_CASE("truncated weights files are refused by both APIs") {
  const std::string bytes = readBytes(fixture().weights);
  const size_t headerEnd = 8 + little(bytes, 0, 8);
  for (size_t length :
       {size_t{0}, size_t{1}, size_t{7}, size_t{8}, headerEnd - 1, headerEnd,
        bytes.size() / 2, bytes.size() - 1}) {
    INFO("truncated to " << length << " of " << bytes.size() << " bytes");
    requireRefused(writeBytes("cut.safetensors", bytes.substr(0, length)),
                   "the file is truncated or corrupt", false);
  }
  requireRefused(writeBytes("empty.safetensors", ""),
                 "it has 0 bytes, too few for the 8-byte header length", false);
}

TEST_CASE("truncated program files are refused by both APIs") {
  const std::string bytes = readBytes(fixture().programFile);
  std::vector<size_t> lengths = {0, 1, 7, 8, 15, 16};
  const size_t tableEnd = 16 + 32 * little(bytes, 12, 4);
  lengths.insert(lengths.end(), {tableEnd - 1, tableEnd + 3, tableEnd + 4});
  for (const Section &section : sectionsOf(bytes))
    lengths.insert(lengths.end(),
                   {section.offset, section.offset + section.size / 2});
  lengths.insert(lengths.end(), {bytes.size() / 2, bytes.size() - 1});
  for (size_t length : lengths) {
    INFO("truncated to " << length << " of " << bytes.size() << " bytes");
    const std::string path = writeBytes("cut.kiln", bytes.substr(0, length));
    // Under 8 bytes there is no magic: the C API reads it as safetensors and
    // loadProgram says it is not a program file.
    if (length < 8) {
      requireRefused(path, "truncated or corrupt", false);
      CHECK_THAT(cppRefusal(path, true), Contains("not a kiln program file"));
      continue;
    }
    requireRefused(path, "the program file is truncated or corrupt", true);
  }
}

TEST_CASE("every flipped byte of a program file's header, and a sample of its "
          "sections, is refused naming what failed") {
  const std::string bytes = readBytes(fixture().programFile);
  const std::vector<Section> sections = sectionsOf(bytes);
  const size_t headerEnd = 16 + 32 * sections.size() + 4;
  std::vector<size_t> positions;
  for (size_t i = 0; i < headerEnd; ++i)
    positions.push_back(i);
  // Every 997th byte after it, and the padding before each section.
  for (size_t i = headerEnd; i < bytes.size(); i += 997)
    positions.push_back(i);
  for (const Section &section : sections) {
    if (section.offset > headerEnd && bytes[section.offset - 1] == 0)
      positions.push_back(section.offset - 1);
  }
  for (size_t at : positions) {
    std::string altered = bytes;
    altered[at] = static_cast<char>(altered[at] ^ 0x10);
    INFO("byte " << at << " flipped");
    const std::string path = writeBytes("flipped.kiln", altered);
    std::string expected = "the program file is truncated or corrupt";
    if (at < 8) {
      // Not a program file any more: the C API reads it as safetensors.
      CHECK_THAT(cppRefusal(path, true), Contains("not a kiln program file"));
      requireRefused(path, "truncated or corrupt", false);
      continue;
    }
    if (at >= 8 && at < 12)
      expected = "program file format version " +
                 std::to_string(little(altered, 8, 4)) + ", but this kiln (" +
                 KILN_VERSION + ") reads version 1";
    else if (at >= 16 && at < headerEnd)
      expected = "its header fails its checksum";
    for (const Section &section : sections) {
      if (at >= section.offset && at < section.offset + section.size)
        expected = "section '" + section.name + "' fails its checksum";
    }
    requireRefused(path, expected, true);
  }
}

TEST_CASE("weights of another model, shape, dtype or version are refused "
          "naming what differs") {
  Fixture &f = fixture();
  const std::string cifarShape = "tensor 'conv1.weight' has shape [6, 3, 5, 5] "
                                 "in the file but [6, 1, 5, 5] in the model";
  requireRefused(f.cifarWeights, cifarShape, false);
  // LeNet-CIFAR's program file, given to LeNet: the same tensor differs.
  CHECK(kiln_model_load_weights(f.c, f.cifarProgram.c_str()) ==
        KILN_ERROR_WEIGHTS);
  CHECK_THAT(kiln_model_error(f.c), Contains(cifarShape));
  CHECK_THAT(cppRefusal(f.cifarProgram, false), Contains(cifarShape));

  NamedTensors params = f.model->namedParameters();
  SECTION("a dtype") {
    params[1].second = params[1].second.to(DType::F64);
    const std::string path = (scratchDir() / "f64.safetensors").string();
    saveStateDict(path, params);
    requireRefused(path,
                   "tensor 'conv1.bias' is float64 in the file but "
                   "float32 in the model",
                   false);
  }
  SECTION("a missing tensor") {
    params.pop_back();
    const std::string path = (scratchDir() / "short.safetensors").string();
    saveStateDict(path, params);
    requireRefused(path, "the file has no tensor 'fc3.bias'", false);
  }
  SECTION("a kiln version") {
    const std::string path = (scratchDir() / "v2.safetensors").string();
    saveStateDict(path, params, {{"kiln_version", "0.2.0"}});
    requireRefused(
        path, "written by kiln 0.2.0, but this is kiln " KILN_VERSION, false);
  }
  SECTION("a safetensors header with a byte flipped") {
    std::string bytes = readBytes(f.weights);
    std::string lengthFlipped = bytes, braceFlipped = bytes;
    lengthFlipped[5] ^= 0x01; // the header length, now 2^40 bytes too large
    braceFlipped[8] ^= 0x01;  // '{' becomes 'z'
    requireRefused(writeBytes("length.safetensors", lengthFlipped),
                   "more than the 100000000 allowed", false);
    requireRefused(writeBytes("brace.safetensors", braceFlipped),
                   "its header is not valid JSON", false);
  }
}

TEST_CASE("program files of another version, or whose sections disagree, are "
          "refused naming what differs") {
  Fixture &f = fixture();
  ProgramFile good = readProgramFile(f.programFile);
  auto rewrite = [](const std::string &name, const ProgramFile &file) {
    const std::string path = (scratchDir() / name).string();
    writeProgramFile(path, file);
    return path;
  };

  SECTION("another kiln version") {
    ProgramFile file = good;
    file.metadata["kiln_version"] = "0.2.0";
    requireRefused(rewrite("v2.kiln", file),
                   "written by kiln 0.2.0, but this is kiln " KILN_VERSION,
                   true);
  }
  SECTION("a later format version, with a valid checksum") {
    std::string bytes = readBytes(f.programFile);
    bytes[8] = 2;
    const size_t tableEnd = 16 + 32 * little(bytes, 12, 4);
    const uint32_t crc = static_cast<uint32_t>(crc32_z(
        0, reinterpret_cast<const unsigned char *>(bytes.data()), tableEnd));
    for (int i = 0; i < 4; ++i)
      bytes[tableEnd + i] = static_cast<char>(crc >> (8 * i));
    requireRefused(writeBytes("format2.kiln", bytes),
                   "program file format version 2, but this kiln (" KILN_VERSION
                   ") reads version 1",
                   true);
  }
  SECTION("weights that lack a tensor") {
    ProgramFile file = good;
    file.tensors.erase(file.tensors.begin() + 9); // fc3.bias
    requireRefused(rewrite("short.kiln", file),
                   "the file has no tensor 'fc3.bias'", true);
  }
  SECTION("a graph that is not MLIR bytecode, or is damaged") {
    // The C API takes only the weights, so these load there.
    ProgramFile file = good;
    file.graph = "func.func @predict() { }";
    std::string path = rewrite("text.kiln", file);
    CHECK_THAT(cppRefusal(path, true),
               Contains("its graph is not MLIR bytecode"));
    CHECK(kiln_model_load_weights(f.c, path.c_str()) == KILN_OK);
    file.graph = good.graph.substr(0, good.graph.size() / 2);
    path = rewrite("half-graph.kiln", file);
    CHECK_THAT(cppRefusal(path, true), Contains("its graph cannot be read"));
  }
  SECTION("entries that disagree with the graph") {
    ProgramFile file = good;
    for (ArgSpec &arg : file.entries.back().args) {
      if (arg.role == ArgRole::Output)
        arg.shape = {5, 10};
    }
    std::string path = rewrite("entries.kiln", file);
    CHECK_THAT(cppRefusal(path, true),
               Contains("its 'entries' section disagrees with its graph"));
  }
  CHECK(fixture().predictC() == fixture().logitsBefore);
}
