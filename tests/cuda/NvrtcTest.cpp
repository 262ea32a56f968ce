// NVRTC compiles every kernel kiln generates for LeNet (train step and
// predict; 1 and 3 channels; batch 4 and 256) for sm_80 and sm_90, and
// ptxas reports no spills. Plus NVRTC's errors, the PTX fallback and the
// cache of compiled images.
#include "kiln/runtime/Nvrtc.h"
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

using namespace kiln;

namespace {

cuda::CudaProgram lenetPlan(const std::string &name, int64_t batch,
                            OptimizerKind optimizer = OptimizerKind::Sgd) {
  auto model = models::makeModel(name);
  std::vector<int64_t> shape = models::modelInputShape(name);
  CompileSpec spec;
  spec.inputShape = {batch, shape[0], shape[1], shape[2]};
  spec.optimizer = optimizer;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = batch;
  return generateCuda(*model, spec);
}

/// Points KILN_CACHE_DIR at a fresh folder for the test's lifetime.
class ScratchCache {
public:
  ScratchCache() {
    static int count = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("kiln-nvrtc-cache-" + std::to_string(::getpid()) + "-" +
             std::to_string(count++));
    std::filesystem::remove_all(path_);
    if (const char *old = std::getenv("KILN_CACHE_DIR"))
      old_ = old;
    setenv("KILN_CACHE_DIR", path_.c_str(), 1);
  }
  ~ScratchCache() {
    if (old_)
      setenv("KILN_CACHE_DIR", old_->c_str(), 1);
    else
      unsetenv("KILN_CACHE_DIR");
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

private:
  std::filesystem::path path_;
  std::optional<std::string> old_;
};

const char *kBrokenSource = R"(// two kernels, the second broken
extern "C" __global__ void __launch_bounds__(32) fine_0(float *x) {
  x[threadIdx.x] = 1.0f;
}

extern "C" __global__ void __launch_bounds__(32) broken_1(float *x) {
  x[threadIdx.x] = no_such_value;
}
)";

} // namespace

TEST_CASE("NVRTC is found where the CUDA toolkit was at configure time") {
  const cuda::NvrtcInfo &info = cuda::nvrtcInfo();
  INFO(info.error);
  REQUIRE(info.available);
  CHECK(info.major >= 11);
  CHECK(std::count(info.archs.begin(), info.archs.end(), 80) == 1);
  CHECK(std::count(info.archs.begin(), info.archs.end(), 90) == 1);
}

TEST_CASE("Every LeNet kernel compiles for sm_80 and sm_90 without spills") {
  ScratchCache cache;
  for (const char *model : {"lenet", "lenet-cifar"}) {
    for (int64_t batch : {4, 256}) {
      cuda::CudaProgram plan = lenetPlan(model, batch);
      std::set<std::string> launched;
      for (const cuda::CudaEntry &entry : plan.entries)
        for (const cuda::KernelLaunch &launch : entry.launches)
          launched.insert(launch.kernel);
      for (const char *arch : {"sm_80", "sm_90"}) {
        INFO(model << ", batch " << batch << ", " << arch);
        cuda::CompiledImage image = cuda::compileCuda(plan.source, arch);
        CHECK(image.kind == cuda::ImageKind::Cubin);
        CHECK(image.arch == arch);
        CHECK(image.image.size() > 1000);
        std::set<std::string> reported;
        for (const cuda::KernelResources &k : image.resources) {
          INFO("kernel " << k.kernel << ": " << k.registers << " registers, "
                         << k.spillStoreBytes << "+" << k.spillLoadBytes
                         << " spill bytes");
          reported.insert(k.kernel);
          CHECK(k.registers > 0);
          CHECK(k.spillStoreBytes == 0);
          CHECK(k.spillLoadBytes == 0);
          CHECK(k.stackBytes == 0);
        }
        // ptxas reported on exactly the kernels the plan launches.
        CHECK(reported == launched);
      }
    }
  }
}

TEST_CASE("Adam and RMSProp steps compile without spills") {
  ScratchCache cache;
  for (OptimizerKind optimizer :
       {OptimizerKind::Adam, OptimizerKind::RmsProp}) {
    cuda::CompiledImage image =
        cuda::compileCuda(lenetPlan("lenet", 256, optimizer).source, "sm_90");
    REQUIRE_FALSE(image.resources.empty());
    for (const cuda::KernelResources &k : image.resources) {
      INFO("kernel " << k.kernel);
      CHECK(k.spillStoreBytes + k.spillLoadBytes == 0);
    }
  }
}

TEST_CASE("Losses with every reduction and their gradients compile") {
  ScratchCache cache;
  Generator gen(1);
  Graph graph;
  Var w = graph.param("w", normalTensor({3, 5}, gen));
  Var h = matmul(graph.input("x", {8, 3}), w);
  Var labels = graph.input("labels", {8}, DType::I64);
  Var target = graph.input("target", {8, 5});
  Var y = sum(crossEntropy(h, labels, Reduction::None), {0}) +
          mean(mseLoss(h, target, Reduction::None), {0, 1}) +
          crossEntropy(h, labels, Reduction::Sum) +
          mseLoss(h, target, Reduction::Sum) + crossEntropy(h, labels) +
          mseLoss(h, target);
  cuda::CompiledImage image = cuda::compileCuda(
      generateCudaFunction(graph, y, /*gradient=*/true).source, "sm_80");
  CHECK(image.resources.size() > 5);
  for (const cuda::KernelResources &k : image.resources) {
    INFO("kernel " << k.kernel);
    CHECK(k.spillStoreBytes + k.spillLoadBytes == 0);
  }
}

TEST_CASE("An NVRTC error names the kernel and quotes NVRTC's log") {
  ScratchCache cache;
  try {
    cuda::compileCuda(kBrokenSource, "sm_80");
    FAIL("compiled a broken source");
  } catch (const Error &e) {
    std::string message = e.what();
    INFO(message);
    CHECK(message.find("kernel 'broken_1'") != std::string::npos);
    CHECK(message.find("no_such_value") != std::string::npos);
    CHECK(message.find("sm_80") != std::string::npos);
  }
}

TEST_CASE("Architectures NVRTC does not know") {
  ScratchCache cache;
  const cuda::NvrtcInfo &info = cuda::nvrtcInfo();
  REQUIRE(info.available);
  std::string source = lenetPlan("lenet", 4).source;
  // Newer than NVRTC knows: PTX for the newest it knows, for the driver to
  // compile.
  int newest = info.archs.back();
  cuda::CompiledImage ptx =
      cuda::compileCuda(source, "sm_" + std::to_string(newest + 10));
  CHECK(ptx.kind == cuda::ImageKind::Ptx);
  CHECK(ptx.arch == "compute_" + std::to_string(newest));
  CHECK(ptx.image.find(".entry conv2d_relu_pool_0") != std::string::npos);
  // Older than it supports, or not an architecture at all: clear errors.
  CHECK_THROWS_WITH(cuda::compileCuda(source, "sm_30"),
                    Catch::Contains("cannot compile for sm_30"));
  CHECK_THROWS_WITH(cuda::compileCuda(source, "gfx90a"),
                    Catch::Contains("not a CUDA architecture"));
}

TEST_CASE("Compiled images are cached by source, architecture and version") {
  ScratchCache cache;
  std::string source = lenetPlan("lenet", 4).source;
  cuda::CompiledImage first = cuda::compileCuda(source, "sm_80");
  cuda::CompiledImage again = cuda::compileCuda(source, "sm_80");
  CHECK_FALSE(first.fromCache);
  CHECK(again.fromCache);
  CHECK(again.image == first.image);
  CHECK(again.resources.size() == first.resources.size());
  CHECK_FALSE(cuda::compileCuda(source, "sm_90").fromCache);
  CHECK_FALSE(cuda::compileCuda(source + "\n// changed\n", "sm_80").fromCache);
  CHECK_FALSE(cuda::compileCuda(source, "sm_80", /*ptx=*/true).fromCache);
}
