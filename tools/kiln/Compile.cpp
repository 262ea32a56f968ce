// kiln compile (print a stage of the pipeline) and kiln summary.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/Cuda.h"
#include "kiln/Inspect.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Nvrtc.h"
#include "kiln/runtime/ProgramFile.h"

#include <algorithm>
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
// kiln compile --target cuda: the kernels, their launches, NVRTC's PTX or
// ptxas' resource report.
int runCudaCompile(const CompileArgs &a, const CompileSpec &spec,
                   nn::Module &model) {
  if (a.emit == "kiln") {
    std::fputs(emitProgram(model, spec, Stage::Kiln).c_str(), stdout);
    return 0;
  }
  if (a.emit != "cuda" && a.emit != "plan" && a.emit != "ptx" &&
      a.emit != "resources")
    throw Error("unknown --emit '" + a.emit +
                "' for --target cuda; choose kiln, cuda, plan, ptx or "
                "resources");
  cuda::CudaProgram program = generateCuda(model, spec);
  if (a.emit == "cuda") {
    std::fputs(program.source.c_str(), stdout);
    return 0;
  }
  if (a.emit == "plan") {
    std::fputs(cuda::formatCudaProgram(program).c_str(), stdout);
    return 0;
  }
  const std::string arch = a.arch.empty() ? "sm_80" : a.arch;
  cuda::CompiledImage image =
      cuda::compileCuda(program.source, arch, a.emit == "ptx");
  if (a.emit == "ptx") {
    std::fputs(image.image.c_str(), stdout);
    return 0;
  }
  if (image.kind == cuda::ImageKind::Ptx)
    throw Error("NVRTC compiles PTX only for " + arch +
                " (newer than it knows), so ptxas reports nothing; choose an "
                "older --arch");
  // In launch order, as the source lists them (ptxas reports them reversed).
  std::vector<cuda::KernelResources> kernels = image.resources;
  auto place = [&](const cuda::KernelResources &k) {
    return program.source.find(" " + k.kernel + "(");
  };
  std::stable_sort(
      kernels.begin(), kernels.end(),
      [&](const auto &a, const auto &b) { return place(a) < place(b); });
  std::printf("%-36s %9s %12s %11s %12s\n",
              ("kernel (" + image.arch + ")").c_str(), "registers",
              "spill bytes", "stack bytes", "shared bytes");
  for (const cuda::KernelResources &k : kernels)
    std::printf("%-36s %9d %12lld %11lld %12lld\n", k.kernel.c_str(),
                k.registers,
                static_cast<long long>(k.spillStoreBytes + k.spillLoadBytes),
                static_cast<long long>(k.stackBytes),
                static_cast<long long>(k.sharedBytes));
  return 0;
}
} // namespace

CompileSpec compileSpecOf(const CompileArgs &a) {
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.sgd.lr = a.lr;
  spec.sgd.momentum = a.momentum;
  spec.train = a.train;
  spec.fuse = !a.noFuse;
  spec.threads = static_cast<int>(a.threads);
  return spec;
}

int runCompile(const CompileArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  if (a.target != "cpu" && a.target != "cuda")
    throw Error("unknown --target '" + a.target + "'; choose cpu or cuda");
  if (a.aot)
    return runAot(a);
  if (a.program)
    return runSaveProgram(a);
  if (a.target == "cuda") {
    auto model = models::makeModel(a.model, a.width);
    CompileSpec spec = compileSpecOf(a);
    spec.predictBatch = a.train ? 0 : a.batchSize;
    return runCudaCompile(a, spec, *model);
  }
  Stage stage;
  if (a.emit == "kiln")
    stage = Stage::Kiln;
  else if (a.emit == "loops" || a.emit == "linalg")
    stage = Stage::Loops;
  else if (a.emit == "llvm")
    stage = Stage::Llvm;
  else
    throw Error("unknown --emit '" + a.emit + "'; choose kiln, loops or llvm" +
                (a.emit == "cuda" || a.emit == "ptx"
                     ? std::string(" (or add --target cuda)")
                     : std::string()));
  auto model = models::makeModel(a.model, a.width);
  CompileSpec spec = compileSpecOf(a);
  spec.predictBatch = a.train ? 0 : a.batchSize;
  if (a.memoryReport) {
    printMemoryReport(compile(*model, spec));
    return 0;
  }
  std::fputs(emitProgram(*model, spec, stage).c_str(), stdout);
  return 0;
}

int runSaveProgram(const CompileArgs &a) {
  if (a.outputDir.empty())
    throw Error("kiln compile --program needs -o FILE, the program file to "
                "write (e.g. -o lenet.kiln)");
  if (a.target != "cpu")
    throw Error("kiln compile --program writes a graph for any target; "
                "--target '" +
                a.target + "' is not needed, leave it out");
  auto model = models::makeModel(a.model, a.width);
  if (!a.weightsPath.empty())
    loadParameters(a.weightsPath, model->namedParameters());
  CompileSpec spec = compileSpecOf(a);
  spec.predictBatch = a.batchSize;
  spec.evalBatch = a.batchSize;
  Program program = compile(*model, spec);
  saveProgram(a.outputDir, program,
              {{"model", a.model}, {"width", std::to_string(a.width)}});
  std::string entries;
  for (const std::string &name : program.entryNames())
    entries += (entries.empty() ? "" : ", ") + name;
  std::printf("wrote %s: %s of '%s' for batches of %lld\n", a.outputDir.c_str(),
              entries.c_str(), a.model.c_str(),
              static_cast<long long>(a.batchSize));
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
  spec.fuse = !a.noFuse;
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
