// kiln compile (print a stage of the pipeline) and kiln summary.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"

#include <cstdio>

namespace kiln::cli {

int runCompile(const CompileArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  Stage stage;
  if (a.emit == "kiln")
    stage = Stage::Kiln;
  else if (a.emit == "loops" || a.emit == "linalg")
    stage = Stage::Loops;
  else if (a.emit == "llvm")
    stage = Stage::Llvm;
  else
    throw Error("unknown --emit '" + a.emit + "'; choose kiln, loops or llvm");
  auto model = models::makeModel(a.model, a.width);
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.sgd.lr = a.lr;
  spec.sgd.momentum = a.momentum;
  spec.train = a.train;
  spec.predictBatch = a.train ? 0 : a.batchSize;
  std::fputs(emitProgram(*model, spec, stage).c_str(), stdout);
  return 0;
}

int runSummary(const std::string &name, int64_t width) {
  auto model = models::makeModel(name, width);
  std::vector<int64_t> shape = models::modelInputShape(name);
  std::fputs(model->summary({1, shape[0], shape[1], shape[2]}).c_str(), stdout);
  return 0;
}

} // namespace kiln::cli
