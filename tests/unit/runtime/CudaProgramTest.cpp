// The CUDA plan's text form round-trips and rejects what it did not write;
// ptxas' report is read per kernel.
#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Nvrtc.h"

#include <catch2/catch.hpp>

using namespace kiln;
using namespace kiln::cuda;

namespace {

CudaProgram sample() {
  CudaProgram program;
  program.source = "// two kernels\nextern \"C\" __global__ void scale_0(float "
                   "*x) {}\nextern \"C\" __global__ void "
                   "__launch_bounds__(64) sum_1(const float *x, float *y) {}\n";
  CudaEntry entry;
  entry.name = "f";
  entry.args = {{ArgRole::Param, "w", {3, 5}, DType::F32, 0},
                {ArgRole::Input, "labels", {4}, DType::I64, 10},
                {ArgRole::Output, "output0", {}, DType::F32, 0}};
  entry.arenaBytes = 512;
  entry.launches = {
      {"scale_0", {2, 1, 1}, {256, 1, 1}, 0, {KernelArg::argument(0)}},
      {"sum_1",
       {1, 1, 1},
       {64, 1, 1},
       128,
       {KernelArg::arena(256), KernelArg::argument(2)}}};
  program.entries.push_back(entry);
  return program;
}

} // namespace

TEST_CASE("A CUDA plan round-trips through its text form") {
  CudaProgram program = sample();
  CudaProgram back = parseCudaProgram(formatCudaProgram(program));
  CHECK(back.source == program.source);
  REQUIRE(back.entries.size() == 1);
  const CudaEntry &entry = back.entry("f");
  CHECK(entry.arenaBytes == 512);
  CHECK(entry.launches == program.entries[0].launches);
  REQUIRE(entry.args.size() == 3);
  CHECK(entry.args[1].role == ArgRole::Input);
  CHECK(entry.args[1].dtype == DType::I64);
  CHECK(entry.args[1].bound == 10);
  CHECK(entry.args[0].shape == std::vector<int64_t>{3, 5});
  CHECK(entry.args[2].shape.empty());
  CHECK(argumentBytes(entry.args[0]) == 60);
  CHECK(argumentBytes(entry.args[1]) == 32);
  CHECK_THROWS_WITH(back.entry("predict"),
                    Catch::Contains("no entry point 'predict' (it has: f)"));
}

TEST_CASE("A damaged CUDA plan is refused with a reason") {
  std::string text = formatCudaProgram(sample());
  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string damaged = text;
    size_t at = damaged.find(from);
    REQUIRE(at != std::string::npos);
    return damaged.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH(parseCudaProgram("kiln-cuda-program 0\n"),
                    Catch::Contains("the first line"));
  CHECK_THROWS_WITH(parseCudaProgram(text.substr(0, 60)),
                    Catch::Contains("cut short"));
  CHECK_THROWS_WITH(parseCudaProgram(replaced("launch sum_1", "launch sum_9")),
                    Catch::Contains("the source has no such kernel"));
  CHECK_THROWS_WITH(parseCudaProgram(replaced(" a256", " a1024")),
                    Catch::Contains("outside the arena"));
  CHECK_THROWS_WITH(parseCudaProgram(replaced(" a256", " a100")),
                    Catch::Contains("unaligned"));
  CHECK_THROWS_WITH(parseCudaProgram(replaced(" p2", " p3")),
                    Catch::Contains("no argument #3"));
  CHECK_THROWS_WITH(parseCudaProgram(replaced("64 1 1 128", "0 1 1 128")),
                    Catch::Contains("empty grid or block"));
}

TEST_CASE("ptxas' verbose report is read per kernel") {
  // As NVRTC 13 logs it with --ptxas-options=-v.
  std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'sum_1' for 'sm_80'\n"
      "ptxas info    : Function properties for sum_1\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 "
      "bytes spill loads\n"
      "ptxas info    : Used 10 registers, used 1 barriers, 128 bytes smem, "
      "360 bytes cmem[0]\n"
      "ptxas info    : Compile time = 2.296 ms\n"
      "ptxas info    : Compiling entry function 'conv_0' for 'sm_80'\n"
      "ptxas info    : Function properties for conv_0\n"
      "ptxas         .     40 bytes stack frame, 24 bytes spill stores, 16 "
      "bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 0 barriers, 368 bytes "
      "cmem[0]\n";
  std::vector<KernelResources> kernels = parsePtxasReport(log);
  REQUIRE(kernels.size() == 2);
  CHECK(kernels[0].kernel == "sum_1");
  CHECK(kernels[0].registers == 10);
  CHECK(kernels[0].sharedBytes == 128);
  CHECK(kernels[0].spillStoreBytes == 0);
  CHECK(kernels[1].kernel == "conv_0");
  CHECK(kernels[1].registers == 255);
  CHECK(kernels[1].stackBytes == 40);
  CHECK(kernels[1].spillStoreBytes == 24);
  CHECK(kernels[1].spillLoadBytes == 16);
  CHECK(kernels[1].sharedBytes == 0);
  CHECK(parsePtxasReport("").empty());
}
