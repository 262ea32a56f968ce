// Tests for the C API of libkiln_runtime.so, with hand-written stand-ins for
// compiled entry points, so no compiler is involved.
#include "kiln/kiln_runtime.h"

#include "TestSupport.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <filesystem>

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using kiln::ArgRole;
using kiln::ArgSpec;
using kiln::DType;
using kiln::Tensor;
using kiln::test::TempDir;

namespace {

// A toy classifier: 2 images of 1x2x2 pixels, 3 classes, parameters w [2, 3]
// and b [3]. The stand-ins read their arguments the way compiled code does:
// args[i] points to the i-th buffer pointer.
template <typename T> T *arg(void **args, int i) {
  return *static_cast<T **>(args[i]);
}

// predict(w, b, images, logits, arena):
// logits[n][c] = (sum of image n) * w[0][c] + w[1][c] + b[c].
void fakePredict(void **args) {
  const float *w = arg<float>(args, 0), *b = arg<float>(args, 1);
  const float *images = arg<float>(args, 2);
  float *logits = arg<float>(args, 3);
  for (int n = 0; n < 2; ++n) {
    float sum = 0;
    for (int i = 0; i < 4; ++i)
      sum += images[n * 4 + i];
    for (int c = 0; c < 3; ++c)
      logits[n * 3 + c] = sum * w[c] + w[3 + c] + b[c];
  }
}

// train_step(w, b, momentum, step, images, labels, loss, arena):
// loss = sum(b) + labels[0] + 10 * labels[1] + 100 * step, then b -= 1 and
// the momentum buffer counts the steps.
void fakeTrainStep(void **args) {
  float *b = arg<float>(args, 1), *momentum = arg<float>(args, 2);
  const int64_t step = *arg<int64_t>(args, 3);
  const int64_t *labels = arg<int64_t>(args, 5);
  float *loss = arg<float>(args, 6);
  *loss = b[0] + b[1] + b[2] + static_cast<float>(labels[0]) +
          10.0f * static_cast<float>(labels[1]) +
          100.0f * static_cast<float>(step);
  for (int c = 0; c < 3; ++c)
    b[c] -= 1.0f;
  momentum[0] += 1.0f;
}

std::string describe(bool train) {
  ArgSpec w{ArgRole::Param, "w", {2, 3}};
  ArgSpec b{ArgRole::Param, "b", {3}};
  ArgSpec images{ArgRole::Input, "images", {2, 1, 2, 2}};
  ArgSpec arena{ArgRole::Arena, "arena", {256}};
  std::vector<kiln::EntryPoint> entries = {
      {"predict",
       nullptr,
       {w, b, images, {ArgRole::Output, "logits", {2, 3}}, arena}}};
  if (train)
    entries.push_back({"train_step",
                       nullptr,
                       {w,
                        b,
                        {ArgRole::State, "momentum_buffer.w", {2, 3}},
                        {ArgRole::Step, "step", {}, DType::I64},
                        images,
                        {ArgRole::Input, "labels", {2}, DType::I64, 3},
                        {ArgRole::Output, "loss", {}},
                        arena}});
  return kiln::formatEntryPoints(entries);
}

kiln_model *createToy(bool train) {
  const std::string entries = describe(train);
  const char *names[] = {"predict", "train_step"};
  const kiln_entry_fn functions[] = {fakePredict, fakeTrainStep};
  kiln_model *model = nullptr;
  REQUIRE(kiln_model_create(entries.c_str(), names, functions, train ? 2 : 1,
                            &model) == KILN_OK);
  REQUIRE(model != nullptr);
  return model;
}

/// The model's weights file: w = [[1, 2, 3], [4, 5, 6]], b = [0.5, 0.25, 0].
std::string writeToyWeights(const TempDir &dir,
                            std::map<std::string, std::string> metadata = {}) {
  Tensor w = Tensor::empty({2, 3});
  for (int i = 0; i < 6; ++i)
    w.data<float>()[i] = static_cast<float>(i + 1);
  Tensor b = Tensor::zeros({3});
  b.data<float>()[0] = 0.5f;
  b.data<float>()[1] = 0.25f;
  std::string path = dir.file("toy.safetensors");
  kiln::writeSafetensors(path, {{"w", w}, {"b", b}}, metadata);
  return path;
}

// Images whose pixels sum to 1 (first) and 2 (second).
const float kImages[8] = {0.25f, 0.25f, 0.25f, 0.25f, 1.0f, 0.5f, 0.5f, 0.0f};

} // namespace

TEST_CASE("the C API predicts with loaded weights", "[capi]") {
  TempDir dir;
  kiln_model *model = createToy(false);
  CHECK(kiln_model_batch_size(model, "predict") == 2);
  CHECK(kiln_model_batch_size(model, "train_step") == 0);
  CHECK(kiln_model_batch_size(model, nullptr) == 0);
  CHECK(kiln_model_num_classes(model) == 3);

  float logits[6];
  REQUIRE(kiln_model_predict(model, kImages, logits) == KILN_OK);
  // Fresh parameters are zero.
  for (float logit : logits)
    CHECK(logit == 0.0f);

  REQUIRE(kiln_model_load_weights(model, writeToyWeights(dir).c_str()) ==
          KILN_OK);
  REQUIRE(kiln_model_predict(model, kImages, logits) == KILN_OK);
  // sum * w[0][c] + w[1][c] + b[c], sums 1 and 2: exact in float.
  const float expected[6] = {5.5f, 7.25f, 9.0f, 6.5f, 9.25f, 12.0f};
  for (int i = 0; i < 6; ++i)
    CHECK(logits[i] == expected[i]);
  CHECK_THAT(kiln_model_error(model), Equals(""));
  // Fewer threads, same results.
  REQUIRE(kiln_model_set_threads(model, 1) == KILN_OK);
  REQUIRE(kiln_model_predict(model, kImages, logits) == KILN_OK);
  for (int i = 0; i < 6; ++i)
    CHECK(logits[i] == expected[i]);
  kiln_model_destroy(model);
}

TEST_CASE("the C API trains, and saved weights load back", "[capi]") {
  TempDir dir;
  kiln_model *model = createToy(true);
  CHECK(kiln_model_batch_size(model, "train_step") == 2);
  REQUIRE(kiln_model_load_weights(model, writeToyWeights(dir).c_str()) ==
          KILN_OK);
  const int64_t labels[2] = {2, 1};
  float loss = 0;
  REQUIRE(kiln_model_train_step(model, kImages, labels, &loss) == KILN_OK);
  // sum(b) 0.75 + 2 + 10 * 1 at step 0.
  CHECK(loss == 12.75f);
  REQUIRE(kiln_model_train_step(model, kImages, labels, nullptr) == KILN_OK);
  REQUIRE(kiln_model_train_step(model, kImages, labels, &loss) == KILN_OK);
  // Two updates took 6 from sum(b); the step counter reached 2.
  CHECK(loss == 0.75f - 6.0f + 12.0f + 200.0f);

  // predict shares the trained parameters: b fell by 3.
  float logits[6];
  REQUIRE(kiln_model_predict(model, kImages, logits) == KILN_OK);
  CHECK(logits[0] == 2.5f);
  CHECK(logits[5] == 9.0f);

  std::string saved = dir.file("trained.safetensors");
  REQUIRE(kiln_model_save_weights(model, saved.c_str()) == KILN_OK);
  kiln_model *reloaded = createToy(false);
  REQUIRE(kiln_model_load_weights(reloaded, saved.c_str()) == KILN_OK);
  float again[6];
  REQUIRE(kiln_model_predict(reloaded, kImages, again) == KILN_OK);
  for (int i = 0; i < 6; ++i)
    CHECK(again[i] == logits[i]);
  // The file holds parameters only, under their names.
  auto tensors = kiln::readSafetensors(saved);
  REQUIRE(tensors.size() == 2);
  CHECK(tensors[0].first == "w");
  CHECK(tensors[1].first == "b");
  kiln_model_destroy(reloaded);
  kiln_model_destroy(model);
}

TEST_CASE("a batch written where kiln_model_train_inputs says trains in place",
          "[capi]") {
  TempDir dir;
  kiln_model *model = createToy(true);
  REQUIRE(kiln_model_load_weights(model, writeToyWeights(dir).c_str()) ==
          KILN_OK);
  float *images = nullptr;
  int64_t *labels = nullptr;
  REQUIRE(kiln_model_train_inputs(model, &images, &labels) == KILN_OK);
  REQUIRE(images != nullptr);
  REQUIRE(labels != nullptr);
  std::copy(kImages, kImages + 8, images);
  labels[0] = 2, labels[1] = 1;
  REQUIRE(kiln_model_train_step_enqueue(model, images, labels) == KILN_OK);
  // On the CPU the same memory again, for the next batch.
  float *again = nullptr;
  int64_t *againLabels = nullptr;
  REQUIRE(kiln_model_train_inputs(model, &again, &againLabels) == KILN_OK);
  CHECK(again == images);
  labels[0] = 0, labels[1] = 2;
  REQUIRE(kiln_model_train_step_enqueue(model, images, labels) == KILN_OK);
  double sum = 0;
  int64_t steps = 0;
  REQUIRE(kiln_model_take_losses(model, &sum, &steps) == KILN_OK);
  CHECK(steps == 2);
  // 0.75 + 2 + 10 at step 0, then sum(b) fell by 3: -2.25 + 0 + 20 + 100.
  CHECK(sum == 12.75 + 117.75);

  CHECK(kiln_model_train_inputs(model, nullptr, &labels) == KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(model), Contains("images or labels is NULL"));
  kiln_model *predictOnly = createToy(false);
  CHECK(kiln_model_train_inputs(predictOnly, &images, &labels) != KILN_OK);
  CHECK_THAT(kiln_model_error(predictOnly), Contains("train_step"));
  kiln_model_destroy(predictOnly);
  kiln_model_destroy(model);
}

TEST_CASE("kiln_model_create refuses bad arguments with a message", "[capi]") {
  const std::string entries = describe(true);
  const char *names[] = {"predict", "train_step"};
  const kiln_entry_fn functions[] = {fakePredict, fakeTrainStep};
  kiln_model *model = reinterpret_cast<kiln_model *>(&model);

  CHECK(kiln_model_create(entries.c_str(), names, functions, 2, nullptr) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_last_error(), Equals("kiln_model_create: out is NULL"));

  CHECK(kiln_model_create(nullptr, names, functions, 2, &model) ==
        KILN_ERROR_ARGUMENT);
  CHECK(model == nullptr);
  CHECK_THAT(kiln_last_error(), Contains("entries is NULL"));

  const char *unknown[] = {"predict", "eval_step"};
  CHECK(kiln_model_create(entries.c_str(), unknown, functions, 2, &model) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_last_error(), Contains("unknown entry 'eval_step'"));

  // The description has train_step, but no function was given for it.
  CHECK(kiln_model_create(entries.c_str(), names, functions, 1, &model) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_last_error(),
             Contains("no function given for entry 'train_step'"));

  const kiln_entry_fn missing[] = {fakePredict, nullptr};
  CHECK(kiln_model_create(entries.c_str(), names, missing, 2, &model) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_last_error(),
             Contains("entry 1 has a NULL name or function"));

  CHECK(kiln_model_create("lenet v2\n", names, functions, 2, &model) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_last_error(), Contains("not a kiln entry-point description"));
  CHECK(model == nullptr);
}

TEST_CASE("kiln_model_load_weights refuses the wrong file and changes nothing",
          "[capi]") {
  TempDir dir;
  kiln_model *model = createToy(false);
  std::string good = writeToyWeights(dir);
  REQUIRE(kiln_model_load_weights(model, good.c_str()) == KILN_OK);
  float before[6];
  REQUIRE(kiln_model_predict(model, kImages, before) == KILN_OK);

  auto refuse = [&](const std::string &path, kiln_status status,
                    const std::string &message) {
    CHECK(kiln_model_load_weights(model, path.c_str()) == status);
    CHECK_THAT(kiln_model_error(model), Contains(message));
    CHECK_THAT(kiln_last_error(), Equals(kiln_model_error(model)));
  };

  SECTION("a missing file") {
    refuse(dir.file("absent.safetensors"), KILN_ERROR_FILE,
           "absent.safetensors: cannot open: No such file or directory");
  }
  SECTION("a tensor missing") {
    std::string path = dir.file("missing.safetensors");
    kiln::writeSafetensors(path, {{"w", Tensor::zeros({2, 3})}});
    refuse(path, KILN_ERROR_WEIGHTS, "the file has no tensor 'b'");
  }
  SECTION("a tensor of another shape") {
    std::string path = dir.file("shape.safetensors");
    kiln::writeSafetensors(
        path, {{"w", Tensor::zeros({3, 2})}, {"b", Tensor::zeros({3})}});
    refuse(path, KILN_ERROR_WEIGHTS,
           "tensor 'w' has shape [3, 2] in the file but [2, 3] in the model");
  }
  SECTION("another model's extra tensor") {
    std::string path = dir.file("extra.safetensors");
    kiln::writeSafetensors(path, {{"w", Tensor::zeros({2, 3})},
                                  {"b", Tensor::zeros({3})},
                                  {"fc3.bias", Tensor::zeros({10})}});
    refuse(path, KILN_ERROR_WEIGHTS,
           "the file has a tensor 'fc3.bias' that the model does not have");
  }
  SECTION("a truncated file") {
    std::vector<uint8_t> bytes = kiln::test::readRaw(good);
    bytes.resize(bytes.size() - 4);
    std::string path = dir.file("truncated.safetensors");
    kiln::test::writeRaw(path, bytes);
    CHECK(kiln_model_load_weights(model, path.c_str()) == KILN_ERROR_WEIGHTS);
    CHECK_THAT(kiln_model_error(model), Contains("truncated.safetensors"));
  }
  SECTION("a file of another kiln version") {
    std::string path = writeToyWeights(dir, {{"kiln_version", "9.3.0"}});
    refuse(path, KILN_ERROR_WEIGHTS,
           "written by kiln 9.3.0, but this is kiln ");
  }
  SECTION("no path") {
    refuse(std::string(), KILN_ERROR_FILE, "cannot open");
    CHECK(kiln_model_load_weights(model, nullptr) == KILN_ERROR_ARGUMENT);
    CHECK(kiln_model_load_weights(nullptr, good.c_str()) ==
          KILN_ERROR_ARGUMENT);
    CHECK_THAT(kiln_last_error(), Contains("model is NULL"));
  }

  float after[6];
  REQUIRE(kiln_model_predict(model, kImages, after) == KILN_OK);
  for (int i = 0; i < 6; ++i)
    CHECK(after[i] == before[i]);
  kiln_model_destroy(model);
}

TEST_CASE("predict and train_step refuse bad calls with a message", "[capi]") {
  TempDir dir;
  kiln_model *predictOnly = createToy(false);
  float logits[6];
  const int64_t labels[2] = {0, 1};
  float loss = -1;

  CHECK(kiln_model_predict(predictOnly, nullptr, logits) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(predictOnly),
             Equals("kiln_model_predict: images or logits is NULL"));
  CHECK(kiln_model_predict(nullptr, kImages, logits) == KILN_ERROR_ARGUMENT);
  CHECK(kiln_model_train_step(predictOnly, kImages, labels, &loss) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(predictOnly),
             Equals("this model has no 'train_step' entry; compile it with "
                    "kiln compile --aot --train"));
  CHECK(loss == -1);
  CHECK(kiln_model_set_threads(predictOnly, 0) == KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(predictOnly),
             Equals("kiln_model_set_threads: threads must be 1 or more, "
                    "got 0"));
  CHECK(kiln_model_set_threads(nullptr, 2) == KILN_ERROR_ARGUMENT);

  kiln_model *model = createToy(true);
  const int64_t outOfRange[2] = {0, 3};
  CHECK(kiln_model_train_step(model, kImages, outOfRange, &loss) ==
        KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(model),
             Equals("label 3 at position 1 is outside [0, 3)"));
  CHECK(kiln_model_train_step(model, kImages, nullptr, &loss) ==
        KILN_ERROR_ARGUMENT);
  CHECK(kiln_model_save_weights(model, nullptr) == KILN_ERROR_ARGUMENT);
  CHECK(kiln_model_save_weights(
            model, dir.file("no/such/dir/w.safetensors").c_str()) ==
        KILN_ERROR_FILE);
  // A refused step does not count.
  REQUIRE(kiln_model_train_step(model, kImages, labels, &loss) == KILN_OK);
  CHECK(loss == 10.0f);
  kiln_model_destroy(model);
  kiln_model_destroy(predictOnly);
  kiln_model_destroy(nullptr);
}

TEST_CASE("the C API loads Fashion-MNIST or says why not", "[capi]") {
  TempDir dir;
  kiln_dataset *dataset = nullptr;
  CHECK(kiln_dataset_load_fashion_mnist(dir.path().c_str(), 0, &dataset) ==
        KILN_ERROR_FILE);
  CHECK(dataset == nullptr);
  CHECK_THAT(kiln_last_error(), Contains("t10k-images-idx3-ubyte"));
  CHECK(kiln_dataset_size(nullptr) == 0);
  kiln_dataset_destroy(nullptr);

  const uint32_t imageMagic = 0x803, labelMagic = 0x801;
  std::vector<uint8_t> pixels(2 * 28 * 28, 0);
  pixels[0] = 255;
  kiln::test::writeRaw(dir.file("t10k-images-idx3-ubyte"),
                       kiln::test::idxBytes(imageMagic, {2, 28, 28}, pixels));
  kiln::test::writeRaw(dir.file("t10k-labels-idx1-ubyte"),
                       kiln::test::idxBytes(labelMagic, {2}, {7, 3}));
  REQUIRE(kiln_dataset_load_fashion_mnist(dir.path().c_str(), 0, &dataset) ==
          KILN_OK);
  CHECK(kiln_dataset_size(dataset) == 2);
  CHECK(kiln_dataset_labels(dataset)[1] == 3);
  const float *images = kiln_dataset_images(dataset);
  // Padded to 32x32 with -1; pixel (0, 0) of the first image lands at (2, 2).
  CHECK(images[0] == -1.0f);
  CHECK(images[2 * 32 + 2] == 1.0f);
  CHECK(images[2 * 32 + 3] == -1.0f);
  kiln_dataset_destroy(dataset);
}
