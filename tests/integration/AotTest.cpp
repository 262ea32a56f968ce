// AOT bundles compute what the JIT computes: the same pipeline for this CPU
// gives the same logits, and a bundle for a lower x86-64 level (no AVX-512)
// differs only by float reassociation.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

using namespace kiln;

namespace {
Tensor aotLogits(models::LeNet &model, const CompileSpec &spec,
                 const std::string &cpu, const Tensor &images) {
  AotBundle bundle = compileAot(model, spec, "lenet_", cpu);
  Program program = loadAot(bundle, "lenet_", model.namedParameters());
  return program.predict(images).clone();
}
} // namespace

TEST_CASE("AOT predict matches the JIT for this CPU and for x86-64-v2") {
  manualSeed(5);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {8, 1, 32, 32};
  spec.train = false;
  spec.predictBatch = 8;
  Generator gen(9);
  Tensor images = normalTensor({8, 1, 32, 32}, gen);
  Tensor jit = compile(model, spec).predict(images).clone();

  test::Difference same = test::difference(aotLogits(model, spec, "", images), jit);
  INFO("host CPU: max difference " << same.worst << " of " << same.scale);
  CHECK(same.within(1e-6, 0));

  // SSE-only vector code sums in another order: float32 rounding only.
  test::Difference portable =
      test::difference(aotLogits(model, spec, "x86-64-v2", images), jit);
  INFO("x86-64-v2: max difference " << portable.worst << " of " << portable.scale);
  CHECK(portable.within(1e-5, 1e-7));
}

TEST_CASE("compileAot refuses a CPU LLVM does not know") {
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {1, 1, 32, 32};
  spec.train = false;
  spec.predictBatch = 1;
  REQUIRE_THROWS_WITH(compileAot(model, spec, "lenet_", "pentium9000"),
                      Catch::Contains("'pentium9000' is not a CPU"));
}
