// CUDA bundles, the GPU half of `kiln compile --aot --target cuda`: their
// byte form, the choice of image for a GPU, and kiln_model_create_cuda
// running an AOT model's entry points through the fake driver
// (FakeDriver.cpp), whose one GPU is an sm_90.
#include "kiln/runtime/cuda/Bundle.h"

#include "FakePlan.h"
#include "kiln/kiln_runtime.h"
#include "kiln/runtime/Error.h"

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::Contains;
using namespace kiln;
using kiln::test::plan;

namespace {

cuda::CudaBundle bundleOf(std::vector<cuda::BundleImage> images) {
  cuda::CudaBundle bundle;
  bundle.plan = plan();
  // The plan's source is CUDA C++ naming each kernel; the fake driver's
  // images are plan().source.
  bundle.plan.source = "void fake_add4(); void fake_sum4(); void fake_step();";
  bundle.images = std::move(images);
  return bundle;
}

std::string selected(const cuda::CudaBundle &bundle, int major, int minor) {
  return cuda::selectImage(bundle, major, minor).arch;
}

/// Compiled CPU code for the plan's entries: never called, since the GPU
/// runs them all.
int cpuCalls = 0;
void cpuEntry(void **) { ++cpuCalls; }

/// The entry description an AOT object carries, with the arena argument
/// compiled code takes last; `wShape` is the parameter's shape.
std::string entriesText(std::vector<int64_t> wShape = {4}) {
  std::vector<EntryPoint> entries;
  for (const cuda::CudaEntry &e : plan().entries) {
    if (e.name == "probe")
      continue;
    EntryPoint entry{e.name, nullptr, e.args};
    for (ArgSpec &arg : entry.args) {
      if (arg.name == "w")
        arg.shape = wShape;
    }
    entry.args.push_back(ArgSpec{ArgRole::Arena, "arena", {256}});
    entries.push_back(entry);
  }
  return formatEntryPoints(entries);
}

kiln_status create(const std::string &entries, const std::string &bundle,
                   kiln_model **out) {
  static const char *const names[] = {"train_step", "predict"};
  static const kiln_entry_fn functions[] = {cpuEntry, cpuEntry};
  return kiln_model_create_cuda(
      entries.c_str(), names, functions, 2,
      reinterpret_cast<const unsigned char *>(bundle.data()),
      static_cast<int64_t>(bundle.size()), 0, out);
}

} // namespace

TEST_CASE("A CUDA bundle reads back as written and refuses damaged bytes",
          "[cuda]") {
  cuda::CudaBundle bundle =
      bundleOf({{"sm_90", std::string("\x7f"
                                      "ELF\0\n\1",
                                      7)},
                {"compute_80", ".version 8.0\n.target sm_80\n"}});
  std::string bytes = cuda::formatCudaBundle(bundle);
  cuda::CudaBundle back = cuda::parseCudaBundle(bytes);
  CHECK(cuda::formatCudaProgram(back.plan) ==
        cuda::formatCudaProgram(bundle.plan));
  CHECK(back.images == bundle.images);
  CHECK(back.images[1].isPtx());

  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1})
    CHECK_THROWS_WITH(cuda::parseCudaBundle(bytes.substr(0, cut)),
                      Contains("not a kiln CUDA bundle"));
  std::string wrongArch = bytes;
  wrongArch.replace(wrongArch.find("image sm_90"), 11, "image xx_90");
  CHECK_THROWS_WITH(cuda::parseCudaBundle(wrongArch),
                    Contains("unknown architecture 'xx_90'"));
  CHECK_THROWS_WITH(cuda::parseCudaBundle(cuda::formatCudaBundle(bundleOf({}))),
                    Contains("holds no compiled kernels"));
}

TEST_CASE("The image for a GPU: a cubin of its major version, else PTX",
          "[cuda]") {
  cuda::CudaBundle bundle = bundleOf(
      {{"sm_80", "a"}, {"sm_86", "b"}, {"sm_90", "c"}, {"compute_80", "d"}});
  CHECK(selected(bundle, 8, 0) == "sm_80");
  CHECK(selected(bundle, 8, 6) == "sm_86");
  CHECK(selected(bundle, 8, 9) == "sm_86"); // Ada runs Ampere's 8.6 cubins
  CHECK(selected(bundle, 9, 0) == "sm_90");
  CHECK(selected(bundle, 10, 0) == "compute_80"); // the driver compiles PTX
  CHECK_THROWS_WITH(selected(bundle, 7, 5),
                    Contains("compiled for sm_80, sm_86, sm_90, compute_80") &&
                        Contains("(sm_75)") && Contains("--arch sm_75"));
  // sm_90a code runs on 9.0 alone.
  cuda::CudaBundle hopper = bundleOf({{"sm_90a", "a"}, {"compute_90", "b"}});
  CHECK(selected(hopper, 9, 0) == "sm_90a");
  CHECK(selected(hopper, 12, 0) == "compute_90");
}

TEST_CASE("kiln_model_create_cuda runs an AOT model's entries on the GPU",
          "[cuda]") {
  cpuCalls = 0;
  std::string bundle = cuda::formatCudaBundle(
      bundleOf({{"sm_80", "not for this GPU"}, {"sm_90", plan().source}}));
  kiln_model *m = nullptr;
  REQUIRE(create(entriesText(), bundle, &m) == KILN_OK);
  CHECK(std::string(kiln_model_device(m)) == "cuda:0 (kiln fake GPU, sm_90)");
  REQUIRE(kiln_model_parameter_count(m) == 1);
  CHECK(std::string(kiln_model_parameter_name(m, 0)) == "w");
  CHECK(kiln_model_parameter_name(m, 1) == nullptr);
  CHECK(kiln_model_parameter_size(m, "w") == 4);

  const float ones[] = {1, 1, 1, 1}, x[] = {1, 2, 3, 4};
  const int64_t labels[] = {0};
  REQUIRE(kiln_model_set_parameter(m, "w", ones, 4) == KILN_OK);
  // loss = sum(w + x) = 14, then w = w + x on the device.
  float loss = 0;
  REQUIRE(kiln_model_train_step(m, x, labels, &loss) == KILN_OK);
  CHECK(loss == 14.0f);
  float w[4] = {};
  REQUIRE(kiln_model_get_parameter(m, "w", w, 4) == KILN_OK);
  CHECK(w[0] == 2.0f);
  CHECK(w[3] == 5.0f);
  // Two enqueued steps: sum(w + x) = 24, then 34; w ends at 1 + 3x.
  REQUIRE(kiln_model_train_step_enqueue(m, x, labels) == KILN_OK);
  REQUIRE(kiln_model_train_step_enqueue(m, x, labels) == KILN_OK);
  double sum = 0;
  int64_t steps = 0;
  REQUIRE(kiln_model_take_losses(m, &sum, &steps) == KILN_OK);
  CHECK(steps == 2);
  CHECK(sum == 58.0);
  REQUIRE(kiln_model_get_parameter(m, "w", w, 4) == KILN_OK);
  CHECK(w[3] == 13.0f);
  CHECK(cpuCalls == 0);

  CHECK(kiln_model_get_parameter(m, "w", w, 3) == KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(m), Contains("has 4 float32 values, not 3"));
  CHECK(kiln_model_get_parameter(m, "bias", w, 4) == KILN_ERROR_ARGUMENT);
  CHECK_THAT(kiln_model_error(m), Contains("no parameter 'bias' (it has: w)"));
  kiln_model_destroy(m);
}

TEST_CASE("kiln_model_create_cuda refuses bundles that cannot run here",
          "[cuda]") {
  kiln_model *m = reinterpret_cast<kiln_model *>(1);
  std::string good =
      cuda::formatCudaBundle(bundleOf({{"sm_90", plan().source}}));
  CHECK(create(entriesText(), good.substr(0, good.size() - 5), &m) ==
        KILN_ERROR_ARGUMENT);
  CHECK(m == nullptr);
  CHECK_THAT(kiln_last_error(), Contains("not a kiln CUDA bundle"));

  std::string ampere =
      cuda::formatCudaBundle(bundleOf({{"sm_80", plan().source}}));
  CHECK(create(entriesText(), ampere, &m) == KILN_ERROR_DEVICE);
  CHECK_THAT(kiln_last_error(),
             Contains("compiled for sm_80") && Contains("--arch sm_90"));

  CHECK(create(entriesText({5}), good, &m) == KILN_ERROR_DEVICE);
  CHECK_THAT(kiln_last_error(),
             Contains("entry 'train_step' takes other arguments"));
  CHECK(m == nullptr);
}
