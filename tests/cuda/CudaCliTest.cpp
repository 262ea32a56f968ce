// kiln compile --target cuda prints the kernels, the plan, NVRTC's PTX and
// ptxas' report; --aot --target cuda embeds them in an object; kiln
// --version says what CUDA support there is.
#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Nvrtc.h"

#include "../unit/runtime/TestSupport.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct CliResult {
  int code = -1;
  std::string out;
};

// Runs the kiln CLI with `args`; stderr joins stdout.
CliResult runKiln(const std::string &args) {
  std::string command = std::string("'") + KILN_CLI + "' " + args + " 2>&1";
  CliResult result;
  FILE *pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("kiln compile --target cuda --emit cuda prints named kernels") {
  CliResult r = runKiln("compile --target cuda --emit cuda --train");
  INFO(r.out.substr(0, 2000));
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "extern \"C\" __global__ void __launch_bounds__(256) "
                        "conv2d_relu_pool_0("));
  CHECK(contains(r.out, "conv2d_relu_pool_backward_filter_"));
  CHECK(contains(r.out, "bias_relu_backward_"));
  CHECK(contains(r.out, "linear_bias_relu_warp_"));
  CHECK(contains(r.out, "softmax_cross_entropy_backward_"));
  CHECK(contains(r.out, "sgd_update_"));
  CHECK(contains(r.out, "constexpr int N = 4, C = 1, H = 32, W = 32"));
}

TEST_CASE("kiln compile --target cuda --emit plan prints a plan that parses") {
  CliResult r = runKiln("compile --target cuda --emit plan --batch-size 8");
  REQUIRE(r.code == 0);
  kiln::cuda::CudaProgram plan = kiln::cuda::parseCudaProgram(r.out);
  REQUIRE(plan.entries.size() == 1);
  const kiln::cuda::CudaEntry &predict = plan.entry("predict");
  CHECK(predict.args.back().role == kiln::ArgRole::Output);
  CHECK(predict.args.back().shape == std::vector<int64_t>{8, 10});
  CHECK(predict.launches.front().kernel == "conv2d_relu_pool_0");
}

TEST_CASE("kiln compile --target cuda refuses what it cannot do") {
  CliResult r = runKiln("compile --target tpu");
  CHECK(r.code == 1);
  CHECK(contains(r.out, "unknown --target 'tpu'; choose cpu or cuda"));
  r = runKiln("compile --emit cuda");
  CHECK(r.code == 1);
  CHECK(contains(r.out, "(or add --target cuda)"));
  r = runKiln("compile --target cuda --emit llvm");
  CHECK(r.code == 1);
  CHECK(contains(r.out, "choose kiln, cuda, plan, ptx or resources"));
}

TEST_CASE("kiln --version says whether CUDA and NVRTC are there") {
  CliResult r = runKiln("--version");
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "kiln 0.1.0"));
  if (!kiln::cuda::builtWithCuda()) {
    CHECK(contains(r.out, "built without CUDA support"));
    return;
  }
  CHECK(contains(r.out, "CUDA support"));
  CHECK(contains(r.out, kiln::cuda::nvrtcInfo().available ? "NVRTC 1"
                                                          : "NVRTC not found"));
}

TEST_CASE("kiln compile --target cuda --emit ptx and resources use NVRTC") {
  if (!kiln::cuda::builtWithCuda()) {
    CHECK(runKiln("compile --target cuda --emit ptx").code == 1);
    return;
  }
  CliResult r = runKiln("compile --target cuda --emit ptx --arch sm_90");
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, ".target sm_90"));
  CHECK(contains(r.out, ".entry conv2d_relu_pool_0("));
  r = runKiln("compile --target cuda --emit resources --train --arch sm_80");
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "kernel (sm_80)"));
  CHECK(contains(r.out, "conv2d_relu_pool_backward_input_"));
  r = runKiln("compile --target cuda --emit ptx --arch sm80");
  CHECK(r.code == 1);
  CHECK(contains(r.out, "'sm80' is not a CUDA architecture"));
}

namespace {
std::string readFile(const std::string &path) {
  std::string text;
  if (FILE *f = std::fopen(path.c_str(), "rb")) {
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;)
      text.append(buffer, n);
    std::fclose(f);
  }
  return text;
}
} // namespace

TEST_CASE("kiln compile --aot --target cuda embeds a CUDA bundle") {
  kiln::test::TempDir dir;
  const std::string out = dir.path();
  if (!kiln::cuda::builtWithCuda() || !kiln::cuda::nvrtcInfo().available) {
    CHECK(runKiln("compile --aot --target cuda -o '" + out + "'").code == 1);
    return;
  }
  CliResult r = runKiln("compile --aot --target cuda --arch sm_90 --prefix "
                        "net -o '" +
                        out + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "CUDA kernels for sm_90, compute_90"));
  std::string header = readFile(out + "/net.h");
  CHECK(contains(header, "#define NET_CUDA 1"));
  CHECK(contains(header, "extern const unsigned char net_cuda[];"));
  CHECK(contains(header,
                 "static inline kiln_status net_create_cuda(kiln_model **out, "
                 "int device)"));
  std::string object = readFile(out + "/net.o");
  CHECK(contains(object, "kiln-cuda-bundle 1\n"));
  CHECK(contains(object, ".target sm_90"));

  // A bad architecture fails before anything is written.
  r = runKiln("compile --aot --target cuda --arch sm90 --prefix bad -o '" +
              out + "'");
  CHECK(r.code == 1);
  CHECK(contains(r.out, "unknown GPU architecture 'sm90'"));
  CHECK(readFile(out + "/bad.o").empty());
}
