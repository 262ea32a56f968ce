// Labels out of range are refused before compiled code runs, whichever API
// compiled the cross-entropy: the bound travels with the labels argument.
#include "kiln/Compiler.h"
#include "kiln/runtime/Error.h"

#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("compileFunction checks labels against the logits' class count") {
  Graph graph;
  Tensor weights = Tensor::full({3, 5}, 0.1);
  Var x = graph.input("x", {2, 5});
  Var labels = graph.input("labels", {2}, DType::I64);
  Var loss = crossEntropy(matmul(x, graph.param("w", weights), false, true),
                          labels);
  Program program = compileFunction(graph, loss, /*gradient=*/true);
  Tensor input = Tensor::full({2, 5}, 1.0);
  Tensor good = Tensor::zeros({2}, DType::I64);
  good.data<int64_t>()[1] = 2;
  // Equal logits: the loss is log(3) whatever the labels.
  CHECK(program.run("f", {input, good})[0].item() == Approx(std::log(3.0)));
  Tensor bad = Tensor::zeros({2}, DType::I64);
  bad.data<int64_t>()[1] = 3;
  REQUIRE_THROWS_WITH(program.run("f_grad", {input, bad}),
                      Catch::Contains("label 3 at position 1 is outside [0, 3)"));
}
