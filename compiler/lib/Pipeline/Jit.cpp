// JIT compilation of LLVM-dialect modules with MLIR's ExecutionEngine.
#include "Pipeline.h"

#include "kiln/runtime/Error.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>

using namespace mlir;

namespace kiln {

namespace {
struct JitState {
  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<ExecutionEngine> engine;
};

// LLVM's -O3 pipeline with loop and SLP vectorisation, tuned for `target`.
// (mlir::makeOptimizingTransformer left the module unchanged with Debian's
// LLVM 19, so the pipeline is built here as opt builds it.)
void optimizeModule(llvm::Module &module, llvm::TargetMachine *target,
                    const std::string &cpu, const std::string &features) {
  // The vectoriser's cost model reads the CPU from each function.
  for (llvm::Function &function : module) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", cpu);
    function.addFnAttr("target-features", features);
  }
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder builder(target, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::ModulePassManager pipeline =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  pipeline.run(module, modules);
}

std::string errorText(llvm::Error error) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  stream << error;
  return text;
}
} // namespace

std::shared_ptr<void> jitCompile(std::unique_ptr<MLIRContext> context,
                                 OwningOpRef<ModuleOp> module,
                                 std::vector<EntryPoint> &entries) {
  static bool initialised = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // KILN_LLVM_ARGS passes options to LLVM, e.g. -pass-remarks=loop-vectorize.
    const char *argv[] = {"kiln"};
    llvm::cl::ParseCommandLineOptions(1, argv, "", nullptr, "KILN_LLVM_ARGS");
    return true;
  }();
  (void)initialised;

  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    throw Error("cannot describe this CPU to LLVM: " +
                errorText(builder.takeError()));
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto machine = builder->createTargetMachine();
  if (!machine)
    throw Error("LLVM has no code generator for this CPU: " +
                errorText(machine.takeError()));

  ExecutionEngineOptions options;
  llvm::TargetMachine *target = machine->get();
  std::string cpu = builder->getCPU();
  std::string features = builder->getFeatures().getString();
  // ExecutionEngineOptions::transformer is a function_ref: the callable must
  // outlive create(), so it is a named local, not a temporary.
  auto transformer = [target, cpu, features](llvm::Module *m) -> llvm::Error {
    optimizeModule(*m, target, cpu, features);
    if (const char *path = std::getenv("KILN_DUMP_LLVM")) {
      std::error_code ec;
      llvm::raw_fd_ostream out(path, ec);
      m->print(out, nullptr);
    }
    return llvm::Error::success();
  };
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  // KILN_DUMP_OBJECT=FILE writes the machine code for profiling.
  const char *dumpPath = std::getenv("KILN_DUMP_OBJECT");
  options.enableObjectDump = dumpPath != nullptr;
  auto engine = ExecutionEngine::create(*module, options);
  if (!engine)
    throw Error("JIT compilation failed: " + errorText(engine.takeError()));

  for (EntryPoint &entry : entries) {
    auto function = (*engine)->lookupPacked(entry.name);
    if (!function)
      throw Error("compiled code has no function '" + entry.name +
                  "': " + errorText(function.takeError()));
    entry.function = *function;
  }
  if (dumpPath) {
    (*engine)->dumpToObjectFile(dumpPath);
    for (EntryPoint &entry : entries) {
      auto address = (*engine)->lookup(entry.name);
      if (address)
        llvm::errs() << "kiln: " << entry.name << " at " << *address << "\n";
      else
        llvm::consumeError(address.takeError());
    }
  }
  auto state = std::make_shared<JitState>();
  state->engine = std::move(*engine);
  module = nullptr; // The module must die before its context.
  state->context = std::move(context);
  return state;
}

} // namespace kiln
