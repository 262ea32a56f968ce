// Checkpoints: training resumed from one matches an uninterrupted run bit for
// bit, and files that do not fit the model are refused by name.
#include "kiln/runtime/Checkpoint.h"
#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>

using namespace kiln;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

constexpr int64_t kBatch = 4;
constexpr int64_t kHalf = 20;

fs::path scratchFile(const std::string &name) {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln_checkpoint_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

bool sameBits(const Tensor &a, const Tensor &b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().rawData(), b.contiguous().rawData(),
                     a.nbytes()) == 0;
}

/// Deep copies, so later steps do not change what was captured.
NamedTensors snapshot(const NamedTensors &tensors) {
  NamedTensors copies;
  for (const auto &[name, tensor] : tensors)
    copies.emplace_back(name, tensor.clone());
  return copies;
}

void requireSameBits(const NamedTensors &got, const NamedTensors &want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("tensor " << want[i].first);
    REQUIRE(got[i].first == want[i].first);
    CHECK(sameBits(got[i].second, want[i].second));
  }
}

Program compileLeNet(models::LeNet &model) {
  CompileSpec spec;
  spec.inputShape = {kBatch, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  return compile(model, spec);
}

/// Trains on batches [first, first + count): batch k depends only on k, so
/// any split of the sequence sees the same data.
void train(Program &program, int64_t first, int64_t count) {
  Tensor images = Tensor::empty({kBatch, 1, 32, 32});
  Tensor labels = Tensor::empty({kBatch}, DType::I64);
  for (int64_t k = first; k < first + count; ++k) {
    Generator gen(1000 + k);
    for (int64_t i = 0; i < kBatch; ++i)
      labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    float *pixels = images.data<float>();
    for (int64_t p = 0; p < images.numel(); ++p)
      pixels[p] = static_cast<float>(gen.normal());
    program.trainStep(images, labels);
  }
}

void truncateCopy(const fs::path &from, const fs::path &to, uintmax_t size) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::resize_file(to, size);
}

} // namespace

TEST_CASE("Training resumed from a checkpoint matches an uninterrupted run "
          "bit for bit") {
  const fs::path path = scratchFile("resume.safetensors");

  manualSeed(0);
  models::LeNet first;
  Program before = compileLeNet(first);
  train(before, 0, kHalf);
  saveCheckpoint(path.string(), before, {{"lr", "0.01"}, {"momentum", "0.9"}});

  const auto metadata = readSafetensorsMetadata(path.string());
  CHECK(metadata.at("lr") == "0.01");
  CHECK(metadata.at("momentum") == "0.9");
  CHECK(metadata.at("kiln_version") == "0.1.0");
  NamedTensors written = readSafetensors(path.string());
  REQUIRE(written.size() == 2 * 10 + 1);
  CHECK(written[0].first == "conv1.weight");
  CHECK(written[10].first == "optimizer.momentum_buffer.conv1.weight");
  CHECK(written.back().first == "optimizer.step");
  CHECK(written.back().second.shape().empty());
  CHECK(written.back().second.dtype() == DType::I64);
  CHECK(written.back().second.item() == kHalf);

  // Different initial weights, so only a working load can make them agree.
  manualSeed(1);
  models::LeNet second;
  Program resumed = compileLeNet(second);
  const NamedTensors fresh = snapshot(resumed.namedParameters());
  CHECK_FALSE(sameBits(fresh[0].second, written[0].second));

  // A truncated file is refused and changes nothing.
  const fs::path truncated = scratchFile("truncated.safetensors");
  truncateCopy(path, truncated, fs::file_size(path) - 1);
  CHECK_THROWS_AS(loadCheckpoint(truncated.string(), resumed), Error);
  requireSameBits(resumed.namedParameters(), fresh);
  CHECK(resumed.stepsTaken() == 0);

  loadCheckpoint(path.string(), resumed);
  CHECK(resumed.stepsTaken() == kHalf);
  requireSameBits(resumed.namedParameters(), before.namedParameters());
  requireSameBits(resumed.namedState(), before.namedState());
  // The model's own tensors, not copies, were updated.
  requireSameBits(second.namedParameters(), first.namedParameters());
  train(resumed, kHalf, kHalf);

  manualSeed(0);
  models::LeNet third;
  Program uninterrupted = compileLeNet(third);
  train(uninterrupted, 0, 2 * kHalf);

  CHECK(resumed.stepsTaken() == 2 * kHalf);
  requireSameBits(resumed.namedParameters(), uninterrupted.namedParameters());
  requireSameBits(resumed.namedState(), uninterrupted.namedState());

  // The comparison can fail: resuming from the parameters alone (a plain
  // state dict: no momentum, step 0) ends somewhere else.
  manualSeed(2);
  models::LeNet fourth;
  Program paramsOnly = compileLeNet(fourth);
  saveStateDict(path.string(), before.namedParameters());
  CHECK_THROWS_WITH(loadCheckpoint(path.string(), paramsOnly),
                    Contains("the file has no tensor "
                             "'optimizer.momentum_buffer.conv1.weight'"));
  loadStateDict(path.string(), paramsOnly.namedParameters());
  train(paramsOnly, kHalf, kHalf);
  CHECK_FALSE(sameBits(paramsOnly.namedParameters()[0].second,
                       uninterrupted.namedParameters()[0].second));
}

TEST_CASE("saveStateDict writes PyTorch's names and shapes") {
  manualSeed(0);
  models::LeNet model;
  const fs::path path = scratchFile("lenet.safetensors");
  saveStateDict(path.string(), model.namedParameters(), {{"format", "pt"}});

  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"conv1.weight", {6, 1, 5, 5}},  {"conv1.bias", {6}},
      {"conv2.weight", {16, 6, 5, 5}}, {"conv2.bias", {16}},
      {"fc1.weight", {120, 400}},      {"fc1.bias", {120}},
      {"fc2.weight", {84, 120}},       {"fc2.bias", {84}},
      {"fc3.weight", {10, 84}},        {"fc3.bias", {10}}};
  NamedTensors read = readSafetensors(path.string());
  REQUIRE(read.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("tensor " << expected[i].first);
    CHECK(read[i].first == expected[i].first);
    CHECK(read[i].second.shape() == expected[i].second);
    CHECK(read[i].second.dtype() == DType::F32);
  }
  requireSameBits(read, model.namedParameters());
  CHECK(readSafetensorsMetadata(path.string()).at("format") == "pt");

  // And it loads back into another model.
  manualSeed(1);
  models::LeNet other;
  loadStateDict(path.string(), other.namedParameters());
  requireSameBits(other.namedParameters(), model.namedParameters());
}

TEST_CASE("loadStateDict refuses a file that does not fit and names the "
          "tensor") {
  const Tensor weight = Tensor::full({2, 3}, 1.5);
  const Tensor bias = Tensor::full({4}, -2.0);
  const NamedTensors model = {{"conv1.weight", weight}, {"fc3.bias", bias}};
  const std::string path = scratchFile("crafted.safetensors").string();

  SECTION("a missing tensor") {
    writeSafetensors(path, {{"conv1.weight", Tensor::zeros({2, 3})}});
    CHECK_THROWS_WITH(loadStateDict(path, model),
                      Contains("the file has no tensor 'fc3.bias'"));
  }
  SECTION("an extra tensor") {
    writeSafetensors(path, {{"conv1.weight", Tensor::zeros({2, 3})},
                            {"fc3.bias", Tensor::zeros({4})},
                            {"fc4.weight", Tensor::zeros({1})}});
    CHECK_THROWS_WITH(loadStateDict(path, model),
                      Contains("the file has a tensor 'fc4.weight' that the "
                               "model does not have"));
  }
  SECTION("a mis-shaped tensor") {
    writeSafetensors(path, {{"conv1.weight", Tensor::zeros({2, 3})},
                            {"fc3.bias", Tensor::zeros({5})}});
    CHECK_THROWS_WITH(loadStateDict(path, model),
                      Contains("tensor 'fc3.bias' has shape [5] in the file "
                               "but [4] in the model"));
  }
  SECTION("a mis-typed tensor") {
    writeSafetensors(path, {{"conv1.weight", Tensor::zeros({2, 3})},
                            {"fc3.bias", Tensor::zeros({4}, DType::F64)}});
    CHECK_THROWS_WITH(loadStateDict(path, model),
                      Contains("tensor 'fc3.bias' is float64 in the file but "
                               "float32 in the model"));
  }
  SECTION("a truncated file") {
    const fs::path whole = scratchFile("whole.safetensors");
    saveStateDict(whole.string(), {{"conv1.weight", Tensor::zeros({2, 3})},
                                   {"fc3.bias", Tensor::zeros({4})}});
    const uintmax_t size = fs::file_size(whole);
    for (uintmax_t keep : {uintmax_t{0}, uintmax_t{7}, uintmax_t{8},
                           uintmax_t{20}, size - 16, size - 1}) {
      INFO("first " << keep << " of " << size << " bytes");
      truncateCopy(whole, path, keep);
      CHECK_THROWS_AS(loadStateDict(path, model), Error);
    }
  }
  // Nothing was copied before the refusal, not even the tensor that fit.
  CHECK(weight.at({1, 2}) == 1.5);
  CHECK(bias.at({3}) == -2.0);
}
