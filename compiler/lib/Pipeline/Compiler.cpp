// The public compile API: trace, transform, lower, print or JIT.
#include "kiln/Compiler.h"
#include "kiln/Cuda.h"

#include "../Cuda/EmitCuda.h"
#include "../Frontend/Importer.h"
#include "Cache.h"
#include "ObjectCode.h"
#include "Pipeline.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Parallel.h"
#include "kiln/runtime/ProgramFile.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"

#include <optional>
#include <set>

using namespace mlir;

namespace kiln {

namespace {
std::string print(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  module.print(stream);
  return text;
}

} // namespace

std::string emitProgram(nn::Module &model, const CompileSpec &spec,
                        Stage stage) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  if (stage == Stage::Kiln)
    return print(*module);
  lowerToLoops(*module, threadsOf(spec));
  if (stage == Stage::Loops)
    return print(*module);
  lowerToLlvm(*module);
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateModuleToLLVMIR(*module, llvmContext, "kiln");
  if (!llvmModule)
    throw Error("could not translate the program to LLVM IR");
  std::string text;
  llvm::raw_string_ostream stream(text);
  llvmModule->print(stream, nullptr);
  return text;
}

// A kiln-level module compiled to callable code, with the bytecode of the
// module it came from.
struct Compiled {
  std::vector<EntryPoint> entries;
  std::shared_ptr<void> code;
  std::string bytecode;
};

static std::string bytecodeOf(ModuleOp module) {
  std::string bytes;
  llvm::raw_string_ostream stream(bytes);
  BytecodeWriterConfig config("kiln");
  if (failed(writeBytecodeToFile(module, stream, config)))
    throw Error("could not write the program as MLIR bytecode; this is a bug "
                "in kiln, please report it with the model");
  return bytes;
}

// Lowers and compiles `module` (kiln level), or loads the same program from
// the on-disk cache.
static Compiled compileModule(std::unique_ptr<MLIRContext> context,
                              OwningOpRef<ModuleOp> module, int64_t threads) {
  // The loops, and so the object, depend on how work is split.
  std::string key =
      programKey(print(*module) + "\nthreads " + std::to_string(threads));
  Compiled compiled;
  compiled.bytecode = bytecodeOf(*module);
  std::optional<CachedProgram> cached = loadCachedProgram(key);
  if (!cached) {
    lowerToLoops(*module, threads);
    CachedProgram fresh;
    fresh.entries = describeEntryPoints(*module);
    lowerToLlvm(*module);
    fresh.object = compileToObject(*module, fresh.entries);
    storeCachedProgram(key, fresh);
    cached = std::move(fresh);
  }
  module = nullptr; // The module must die before its context.
  context.reset();
  compiled.code = loadObject(cached->object, cached->entries);
  compiled.entries = std::move(cached->entries);
  return compiled;
}

static Program finish(std::unique_ptr<MLIRContext> context,
                      OwningOpRef<ModuleOp> module,
                      std::vector<std::pair<std::string, Tensor>> params,
                      int64_t threads) {
  Compiled compiled =
      compileModule(std::move(context), std::move(module), threads);
  Program program(std::move(compiled.entries), std::move(params),
                  std::move(compiled.code));
  program.setGraphBytecode(std::move(compiled.bytecode));
  program.setThreads(static_cast<int>(threads));
  return program;
}

Program compile(nn::Module &model, const CompileSpec &spec) {
  spec.device.checkUsable(); // before any work: "no CUDA driver found ..."
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  Program program = finish(std::move(context), std::move(module),
                           model.namedParameters(), threadsOf(spec));
  if (!spec.device.isCpu())
    attachCuda(program, model, spec);
  return program;
}

AotBundle
compileAot(nn::Module &model, const CompileSpec &spec,
           const std::string &prefix, const std::string &cpu,
           const std::vector<std::pair<std::string, std::string>> &data) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  lowerToLoops(*module, threadsOf(spec));
  AotBundle bundle;
  bundle.entries = describeEntryPoints(*module);
  lowerToLlvm(*module);
  bundle.object = compileToObject(*module, bundle.entries, prefix,
                                  /*embedEntries=*/true, cpu, data);
  return bundle;
}

Program loadAot(const AotBundle &bundle, const std::string &prefix,
                std::vector<std::pair<std::string, Tensor>> params) {
  std::vector<EntryPoint> entries = bundle.entries;
  std::shared_ptr<void> code = loadObject(bundle.object, entries, prefix);
  return Program(std::move(entries), std::move(params), std::move(code));
}

Program compileFunction(Graph &graph, Var result, bool gradient, bool fuse) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&*context));
  importGraph(*module, graph, result, "f", gradient);
  if (gradient || fuse) {
    runPasses(
        *module,
        [&](OpPassManager &pm) {
          if (gradient)
            pm.addPass(createKilnAutodiff());
          if (!fuse)
            return;
          pm.addPass(createCanonicalizerPass());
          pm.addPass(createCSEPass());
          pm.addNestedPass<func::FuncOp>(createKilnFuse());
        },
        gradient ? "differentiate the function" : "fuse the function");
  }
  return finish(std::move(context), std::move(module), graph.params(),
                hardwareThreads());
}

Program compileTrainStep(Graph &graph, Var loss, const CompileSpec &spec) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&*context));
  importGraph(*module, graph, loss, "loss", /*differentiate=*/true);
  runPasses(
      *module,
      [&](OpPassManager &pm) {
        pm.addPass(createKilnAutodiff());
        addOptimizerStep(pm, spec);
        pm.addPass(createCanonicalizerPass());
        pm.addPass(createCSEPass());
      },
      "derive the training step");
  for (StringRef name : {"loss", "loss_grad"})
    module->lookupSymbol<func::FuncOp>(name).erase();
  return finish(std::move(context), std::move(module), graph.params(),
                threadsOf(spec));
}

namespace {

// The module in a program file's graph section, read and verified.
OwningOpRef<ModuleOp> parseGraph(MLIRContext &context, const std::string &bytes,
                                 const std::string &path) {
  auto refuse = [&](const std::string &why) {
    return Error(path + ": its graph " + why +
                 "; the file is corrupt or was not written by kiln, save the "
                 "program again");
  };
  llvm::MemoryBufferRef buffer(bytes, path);
  if (!isBytecode(buffer))
    throw refuse("is not MLIR bytecode");
  std::string diagnostics;
  llvm::raw_string_ostream stream(diagnostics);
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    stream << d << "; ";
    return success();
  });
  Block block;
  if (failed(readBytecodeFile(buffer, &block, ParserConfig(&context))))
    throw refuse("cannot be read (" + stream.str() + ")");
  auto module = dyn_cast<ModuleOp>(&block.front());
  if (block.getOperations().size() != 1 || !module)
    throw refuse("is not one module");
  if (failed(verify(module)))
    throw refuse("is not valid (" + stream.str() + ")");
  for (auto fn : module.getOps<func::FuncOp>()) {
    for (Type type : fn.getArgumentTypes()) {
      if (!isa<RankedTensorType>(type))
        throw refuse(
            "has a function '" + fn.getName().str() +
            "' that is not kiln-level (its arguments are not tensors)");
    }
  }
  module->remove();
  return OwningOpRef<ModuleOp>(module);
}

std::string describeArg(const ArgSpec &arg) {
  return "'" + arg.name + "' " + dtypeName(arg.dtype) + " " +
         shapeString(arg.shape);
}

// The file's entry description must be what its graph compiles to, up to the
// arena's size (a matter of this kiln's memory planner).
void checkEntries(const std::string &path, const std::vector<EntryPoint> &saved,
                  const std::vector<EntryPoint> &compiled) {
  auto disagree = [&](const std::string &what) {
    return Error(path + ": its 'entries' section disagrees with its graph (" +
                 what + "); the file was altered, save the program again");
  };
  if (saved.size() != compiled.size())
    throw disagree(std::to_string(saved.size()) + " entries described, " +
                   std::to_string(compiled.size()) + " compiled");
  for (size_t e = 0; e < saved.size(); ++e) {
    const EntryPoint &want = saved[e], &got = compiled[e];
    if (want.name != got.name || want.args.size() != got.args.size())
      throw disagree("entry '" + want.name + "' is '" + got.name + "' with " +
                     std::to_string(got.args.size()) + " arguments");
    for (size_t i = 0; i < want.args.size(); ++i) {
      const ArgSpec &a = want.args[i], &b = got.args[i];
      bool arena = a.role == ArgRole::Arena && b.role == ArgRole::Arena;
      if (!arena &&
          (a.role != b.role || a.name != b.name || a.dtype != b.dtype ||
           a.shape != b.shape || a.bound != b.bound))
        throw disagree("entry '" + want.name + "' argument " +
                       std::to_string(i) + ": described " + describeArg(a) +
                       ", compiled " + describeArg(b));
    }
  }
}

} // namespace

Program loadProgram(const std::string &path, const Device &device) {
  device.checkUsable(); // before any work, as compile()
  ProgramFile file = readProgramFile(path);
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = parseGraph(*context, file.graph, path);
  // The kernels come from the graph as it is, before it is lowered for the CPU.
  std::optional<cuda::CudaProgram> plan;
  if (!device.isCpu())
    plan = cudagen::generateCudaProgram(*module);
  // A program file keeps the graph, not how to split it: every core here.
  Compiled compiled =
      compileModule(std::move(context), std::move(module), hardwareThreads());
  checkEntries(path, file.entries, compiled.entries);
  // Fresh parameters, then the file's values checked and copied in.
  std::vector<std::pair<std::string, Tensor>> params;
  std::set<std::string> seen;
  for (const EntryPoint &entry : compiled.entries) {
    for (const ArgSpec &arg : entry.args) {
      if (arg.role == ArgRole::Param && seen.insert(arg.name).second)
        params.emplace_back(arg.name, Tensor::zeros(arg.shape, arg.dtype));
    }
  }
  Program program(std::move(compiled.entries), std::move(params),
                  std::move(compiled.code));
  program.setGraphBytecode(std::move(file.graph));
  restoreCheckpoint(path, file.tensors, program);
  if (plan)
    attachCudaPlan(program, std::move(*plan), device); // with those values
  return program;
}

} // namespace kiln
