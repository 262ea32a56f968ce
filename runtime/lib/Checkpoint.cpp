// Saving and loading state dicts and checkpoints through safetensors files.
#include "kiln/runtime/Checkpoint.h"

#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/TorchPt.h"

#include <fstream>

#include <fmt/format.h>

namespace kiln {

namespace {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

constexpr const char *kOptimizerPrefix = "optimizer.";
constexpr const char *kStepName = "optimizer.step";

// The file's tensor for each destination, in the destinations' order, after
// checking all of them: callers copy only once nothing can be refused, so a
// refused file leaves the model (and a program sharing its tensors) untouched.
NamedTensors matchTensors(const std::string &path, const NamedTensors &file,
                          const NamedTensors &destinations,
                          bool skipOptimizerState) {
  std::map<std::string, const Tensor *> byName;
  for (const auto &[name, tensor] : file) {
    if (skipOptimizerState && name.rfind(kOptimizerPrefix, 0) == 0)
      continue;
    byName.emplace(name, &tensor);
  }
  NamedTensors sources;
  for (const auto &[name, destination] : destinations) {
    auto found = byName.find(name);
    if (found == byName.end())
      throw Error(fmt::format("{}: the file has no tensor '{}'", path, name));
    const Tensor &source = *found->second;
    if (source.shape() != destination.shape())
      throw Error(fmt::format("{}: tensor '{}' has shape {} in the file but {} "
                              "in the model",
                              path, name, shapeToString(source.shape()),
                              shapeToString(destination.shape())));
    if (source.dtype() != destination.dtype())
      throw Error(fmt::format("{}: tensor '{}' is {} in the file but {} in the "
                              "model",
                              path, name, dtypeName(source.dtype()),
                              dtypeName(destination.dtype())));
    sources.emplace_back(name, source);
    byName.erase(found);
  }
  if (!byName.empty())
    throw Error(fmt::format("{}: the file has a tensor '{}' that the model "
                            "does not have",
                            path, byName.begin()->first));
  return sources;
}

NamedTensors matchFile(const std::string &path,
                       const NamedTensors &destinations,
                       bool skipOptimizerState = false) {
  NamedTensors file = readSafetensors(path);
  auto metadata = readSafetensorsMetadata(path);
  if (auto version = metadata.find("kiln_version"); version != metadata.end())
    checkFileVersion(path, version->second);
  return matchTensors(path, file, destinations, skipOptimizerState);
}

// Whether `path` starts like a zip archive, as torch.save's files do.
bool isZipFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in && std::string(magic, 4) == std::string("PK\x03\x04", 4);
}

void copyAll(const NamedTensors &destinations, const NamedTensors &sources) {
  for (size_t i = 0; i < destinations.size(); ++i) {
    Tensor destination = destinations[i].second;
    destination.copyFrom(sources[i].second);
  }
}

NamedTensors checkpointTensors(const Program &program, const Tensor &step) {
  NamedTensors tensors = program.namedParameters();
  for (const auto &[name, tensor] : program.namedState())
    tensors.emplace_back(kOptimizerPrefix + name, tensor);
  tensors.emplace_back(kStepName, step);
  return tensors;
}

// Checks every tensor of `file` against the program's, then copies them and
// sets the step count.
void restoreFrom(const std::string &source, const NamedTensors &file,
                 Program &program) {
  NamedTensors destinations =
      checkpointTensors(program, Tensor::zeros({}, DType::I64));
  NamedTensors sources = matchTensors(source, file, destinations,
                                      /*skipOptimizerState=*/false);
  // checkpointTensors puts the step last.
  const int64_t steps = sources.back().second.data<int64_t>()[0];
  if (steps < 0)
    throw Error(fmt::format("{}: '{}' is {}, but a step count cannot be "
                            "negative",
                            source, kStepName, steps));
  copyAll(destinations, sources);
  program.setStepsTaken(steps);
  program.pushToDevice(); // on a GPU the values go on training there
}

} // namespace

void checkFileVersion(const std::string &path, const std::string &version) {
  // "0.1" of "0.1.0".
  auto majorMinor = [](const std::string &v) {
    return v.substr(0, v.rfind('.'));
  };
  if (majorMinor(version) != majorMinor(KILN_VERSION))
    throw Error(fmt::format("{}: written by kiln {}, but this is kiln {}; "
                            "save it again with this version",
                            path, version, KILN_VERSION));
}

NamedTensors checkpointTensors(const Program &program) {
  Tensor step = Tensor::zeros({}, DType::I64);
  step.data<int64_t>()[0] = program.stepsTaken();
  return checkpointTensors(program, step);
}

void restoreCheckpoint(const std::string &source, const NamedTensors &file,
                       Program &program) {
  restoreFrom(source, file, program);
}

void restoreParameters(const std::string &source, const NamedTensors &file,
                       const NamedTensors &params) {
  copyAll(params, matchTensors(source, file, params,
                               /*skipOptimizerState=*/true));
}

void saveStateDict(const std::string &path, const NamedTensors &params,
                   const std::map<std::string, std::string> &metadata) {
  writeSafetensors(path, params, metadata);
}

void loadStateDict(const std::string &path, const NamedTensors &params) {
  copyAll(params, matchFile(path, params));
}

void loadParameters(const std::string &path, const NamedTensors &params) {
  if (isProgramFile(path)) {
    restoreParameters(path, readProgramFile(path).tensors, params);
    return;
  }
  if (isZipFile(path)) {
    copyAll(params, matchTensors(path, readTorchStateDict(path), params,
                                 /*skipOptimizerState=*/false));
    return;
  }
  copyAll(params, matchFile(path, params, /*skipOptimizerState=*/true));
}

void saveCheckpoint(const std::string &path, const Program &program,
                    const std::map<std::string, std::string> &hyperParameters) {
  std::map<std::string, std::string> metadata = hyperParameters;
  metadata.emplace("kiln_version", KILN_VERSION);
  writeSafetensors(path, checkpointTensors(program), metadata);
}

void loadCheckpoint(const std::string &path, Program &program) {
  auto metadata = readSafetensorsMetadata(path);
  if (auto version = metadata.find("kiln_version"); version != metadata.end())
    checkFileVersion(path, version->second);
  restoreFrom(path, readSafetensors(path), program);
}

} // namespace kiln
