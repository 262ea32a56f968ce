// eval_step: the loss of train_step before its update, the logits of predict
// and the number of correct predictions, with no parameter changed; the same
// in the JIT, in an AOT bundle and through the C API.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/kiln_runtime.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <unistd.h>

using namespace kiln;

namespace {

std::map<std::string, Tensor> readGolden() {
  std::map<std::string, Tensor> golden;
  for (auto &[name, tensor] :
       readSafetensors(std::string(KILN_SOURCE_DIR) +
                       "/tests/golden/lenet1_batch4.safetensors"))
    golden[name] = tensor;
  return golden;
}

/// LeNet with PyTorch's initial parameters from the golden file.
void loadGolden(nn::Module &model,
                const std::map<std::string, Tensor> &golden) {
  for (auto &[name, tensor] : model.namedParameters())
    tensor.copyFrom(golden.at(name));
}

CompileSpec batchOf4() {
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = 4;
  spec.evalBatch = 4;
  return spec;
}

std::vector<std::pair<std::string, Tensor>>
cloned(const std::vector<std::pair<std::string, Tensor>> &params) {
  std::vector<std::pair<std::string, Tensor>> copies;
  for (const auto &[name, tensor] : params)
    copies.emplace_back(name, tensor.clone());
  return copies;
}

int64_t argmax(const Tensor &logits, int64_t row) {
  const int64_t classes = logits.size(1);
  const float *values = logits.data<float>() + row * classes;
  int64_t best = 0;
  for (int64_t c = 1; c < classes; ++c)
    best = values[c] > values[best] ? c : best;
  return best;
}

/// Labels with exactly `wrong` of the 4 images mislabelled, going by the
/// golden logits' argmax.
Tensor labelsWithMistakes(const Tensor &logits, int wrong) {
  Tensor labels = Tensor::empty({4}, DType::I64);
  for (int64_t i = 0; i < 4; ++i) {
    const int64_t predicted = argmax(logits, i);
    labels.data<int64_t>()[i] = i < wrong ? (predicted + 1) % 10 : predicted;
  }
  return labels;
}

} // namespace

// Both losses are the same float32 forward pass compiled in two functions;
// LLVM may vectorise their reductions differently, so they agree to float32
// rounding (a few ulps), far below any real difference between them.
constexpr double kSameForward = 1e-6;

TEST_CASE("eval_step returns train_step's loss before the update, and changes "
          "nothing") {
  auto golden = readGolden();
  models::LeNet model;
  loadGolden(model, golden);
  Program program = compile(model, batchOf4());
  REQUIRE(program.hasEntry("eval_step"));
  const Tensor &images = golden.at("input"), &labels = golden.at("labels");
  auto before = cloned(model.namedParameters());

  Program::Evaluation first = program.evalStep(images, labels);
  Program::Evaluation again = program.evalStep(images, labels);
  CHECK(again.loss == first.loss);
  for (size_t i = 0; i < before.size(); ++i) {
    INFO(before[i].first);
    CHECK(test::difference(model.namedParameters()[i].second, before[i].second)
              .worst == 0);
  }
  CHECK(program.stepsTaken() == 0);

  // PyTorch's loss and logits for the same batch (tests/golden/README.md).
  const double torchLoss = golden.at("loss").item();
  CHECK(first.loss == Approx(torchLoss).epsilon(1e-5));
  CHECK(test::difference(first.logits, golden.at("logits")).within(1e-4, 1e-6));

  double trainLoss = program.trainStep(images, labels);
  CHECK(first.loss == Approx(trainLoss).epsilon(kSameForward));
  // The update changed the parameters, so the loss is now another one.
  CHECK(program.evalStep(images, labels).loss !=
        Approx(first.loss).epsilon(1e-4));
}

TEST_CASE("eval_step counts the images whose largest logit is their label") {
  auto golden = readGolden();
  models::LeNet model;
  loadGolden(model, golden);
  Program program = compile(model, batchOf4());
  const Tensor &images = golden.at("input");
  Tensor logits = program.predict(images).clone();
  for (int wrong = 0; wrong <= 4; ++wrong) {
    INFO(wrong << " mislabelled");
    Program::Evaluation result =
        program.evalStep(images, labelsWithMistakes(logits, wrong));
    CHECK(result.correct == 4 - wrong);
    CHECK(test::difference(result.logits, logits).worst == 0);
  }
  Tensor outOfRange = labelsWithMistakes(logits, 0);
  outOfRange.data<int64_t>()[2] = 10;
  REQUIRE_THROWS_WITH(program.evalStep(images, outOfRange),
                      "label 10 at position 2 is outside [0, 10)");
}

TEST_CASE("eval_step of an AOT bundle matches the JIT's, also through the C "
          "API") {
  auto golden = readGolden();
  models::LeNet model;
  loadGolden(model, golden);
  CompileSpec spec = batchOf4();
  Program jit = compile(model, spec);
  const Tensor &images = golden.at("input");
  Tensor labels = labelsWithMistakes(jit.predict(images), 1);
  Program::Evaluation want = jit.evalStep(images, labels);

  AotBundle bundle = compileAot(model, spec, "lenet_");
  Program aot = loadAot(bundle, "lenet_", model.namedParameters());
  Program::Evaluation got = aot.evalStep(images, labels);
  CHECK(got.loss == Approx(want.loss).epsilon(kSameForward));
  CHECK(got.correct == 3);
  CHECK(test::difference(got.logits, want.logits).within(1e-6, 0));

  // The C API over the same compiled functions, as lenet.h binds them.
  std::vector<const char *> names;
  std::vector<kiln_entry_fn> functions;
  for (const EntryPoint &entry : bundle.entries) {
    names.push_back(entry.name.c_str());
    functions.push_back(aot.entry(entry.name).function);
  }
  std::string described = formatEntryPoints(bundle.entries);
  kiln_model *c = nullptr;
  REQUIRE(kiln_model_create(described.c_str(), names.data(), functions.data(),
                            static_cast<int>(names.size()), &c) == KILN_OK);
  // The golden file holds more than parameters; write just those.
  std::string path =
      (std::filesystem::temp_directory_path() /
       ("kiln_eval_step_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  writeSafetensors(path, model.namedParameters());
  REQUIRE(kiln_model_load_weights(c, path.c_str()) == KILN_OK);
  std::filesystem::remove(path);
  float loss = 0;
  int64_t correct = -1;
  Tensor logits = Tensor::zeros({4, 10});
  REQUIRE(kiln_model_eval_step(c, images.data<float>(), labels.data<int64_t>(),
                               &loss, &correct,
                               logits.data<float>()) == KILN_OK);
  CHECK(loss == Approx(want.loss).epsilon(kSameForward));
  CHECK(correct == 3);
  CHECK(test::difference(logits, want.logits).within(1e-6, 0));
  CHECK(kiln_model_num_classes(c) == 10);
  CHECK(kiln_model_batch_size(c, "eval_step") == 4);
  // Each result may be left out.
  CHECK(kiln_model_eval_step(c, images.data<float>(), labels.data<int64_t>(),
                             nullptr, nullptr, nullptr) == KILN_OK);
  CHECK(kiln_model_eval_step(c, images.data<float>(), nullptr, &loss, nullptr,
                             nullptr) == KILN_ERROR_ARGUMENT);
  CHECK(std::string(kiln_model_error(c)) ==
        "kiln_model_eval_step: images or labels is NULL");
  kiln_model_destroy(c);
}
