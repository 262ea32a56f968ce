// kiln compile (print a stage of the pipeline) and kiln summary.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/Inspect.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"

#include <cstdio>

namespace kiln::cli {

namespace {
// Bytes of every buffer an entry point touches, by role, and their total:
// the program's whole footprint, since a step allocates nothing.
void printMemoryReport(const Program &program) {
  auto mib = [](int64_t bytes) { return bytes / (1024.0 * 1024.0); };
  for (const std::string &name : program.entryNames()) {
    int64_t params = 0, state = 0, io = 0, arena = 0;
    for (const ArgSpec &arg : program.entry(name).args) {
      int64_t bytes = static_cast<int64_t>(dtypeSize(arg.dtype));
      for (int64_t size : arg.shape)
        bytes *= size;
      switch (arg.role) {
      case ArgRole::Param:
        params += bytes;
        break;
      case ArgRole::State:
      case ArgRole::Step:
        state += bytes;
        break;
      case ArgRole::Input:
      case ArgRole::Output:
        io += bytes;
        break;
      case ArgRole::Arena:
        arena += arg.shape[0];
        break;
      }
    }
    std::printf("%s\n", name.c_str());
    std::printf("  parameters        %10lld bytes  %8.3f MiB\n",
                static_cast<long long>(params), mib(params));
    std::printf("  optimizer state   %10lld bytes  %8.3f MiB\n",
                static_cast<long long>(state), mib(state));
    std::printf("  inputs, outputs   %10lld bytes  %8.3f MiB\n",
                static_cast<long long>(io), mib(io));
    std::printf("  arena (activations and scratch, liveness-planned)\n"
                "                    %10lld bytes  %8.3f MiB\n",
                static_cast<long long>(arena), mib(arena));
    int64_t peak = params + state + io + arena;
    std::printf("  peak              %10lld bytes  %8.3f MiB\n",
                static_cast<long long>(peak), mib(peak));
  }
}
} // namespace

int runCompile(const CompileArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  if (a.aot)
    return runAot(a);
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
  spec.threads = static_cast<int>(a.threads);
  if (a.memoryReport) {
    printMemoryReport(compile(*model, spec));
    return 0;
  }
  std::fputs(emitProgram(*model, spec, stage).c_str(), stdout);
  return 0;
}

int runGraph(const GraphArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  auto model = models::makeModel(a.model, a.width);
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.train = a.train;
  spec.sgd.momentum = 0.9; // the blitz recipe, as kiln train uses it
  spec.predictBatch = a.train ? 0 : a.batchSize;
  std::fputs(describeProgram(*model, spec,
                             a.dot ? GraphFormat::Dot : GraphFormat::Text)
                 .c_str(),
             stdout);
  return 0;
}

int runSummary(const std::string &name, int64_t width) {
  auto model = models::makeModel(name, width);
  std::vector<int64_t> shape = models::modelInputShape(name);
  std::fputs(model->summary({1, shape[0], shape[1], shape[2]}).c_str(), stdout);
  return 0;
}

} // namespace kiln::cli
