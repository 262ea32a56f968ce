// The public compile API: trace, transform, lower, print or JIT.
#include "kiln/Compiler.h"

#include "../Frontend/Importer.h"
#include "Cache.h"
#include "ObjectCode.h"
#include "Pipeline.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Parallel.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

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

// Lowers and compiles `module` (kiln level), or loads the same program from
// the on-disk cache.
static Program finish(std::unique_ptr<MLIRContext> context,
                      OwningOpRef<ModuleOp> module,
                      std::vector<std::pair<std::string, Tensor>> params,
                      int64_t threads) {
  // The loops, and so the object, depend on how work is split.
  std::string key =
      programKey(print(*module) + "\nthreads " + std::to_string(threads));
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
  std::shared_ptr<void> code = loadObject(cached->object, cached->entries);
  Program program(std::move(cached->entries), std::move(params),
                  std::move(code));
  program.setThreads(static_cast<int>(threads));
  return program;
}

Program compile(nn::Module &model, const CompileSpec &spec) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  return finish(std::move(context), std::move(module), model.namedParameters(),
                threadsOf(spec));
}

AotBundle compileAot(nn::Module &model, const CompileSpec &spec,
                     const std::string &prefix, const std::string &cpu) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  lowerToLoops(*module, threadsOf(spec));
  AotBundle bundle;
  bundle.entries = describeEntryPoints(*module);
  lowerToLlvm(*module);
  bundle.object = compileToObject(*module, bundle.entries, prefix,
                                  /*embedEntries=*/true, cpu);
  return bundle;
}

Program loadAot(const AotBundle &bundle, const std::string &prefix,
                std::vector<std::pair<std::string, Tensor>> params) {
  std::vector<EntryPoint> entries = bundle.entries;
  std::shared_ptr<void> code = loadObject(bundle.object, entries, prefix);
  return Program(std::move(entries), std::move(params), std::move(code));
}

Program compileFunction(Graph &graph, Var result, bool gradient) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&*context));
  importGraph(*module, graph, result, "f", gradient);
  if (gradient) {
    runPasses(
        *module, [](OpPassManager &pm) { pm.addPass(createKilnAutodiff()); },
        "differentiate the function");
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

} // namespace kiln
