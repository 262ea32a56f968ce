// The public compile API: trace, transform, lower, print or JIT.
#include "kiln/Compiler.h"

#include "../Frontend/Importer.h"
#include "Pipeline.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/runtime/Error.h"

#include "mlir/Target/LLVMIR/Export.h"
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

int64_t labelBoundOf(nn::Module &model, const CompileSpec &spec) {
  if (spec.loss != LossKind::CrossEntropy)
    return 0;
  Graph graph;
  Var logits = model(graph.input("input", spec.inputShape));
  return logits.dim() == 2 ? logits.size(1) : 0;
}
} // namespace

std::string emitProgram(nn::Module &model, const CompileSpec &spec,
                        Stage stage) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  if (stage == Stage::Kiln)
    return print(*module);
  lowerToLoops(*module);
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

static Program finish(std::unique_ptr<MLIRContext> context,
                      OwningOpRef<ModuleOp> module,
                      std::vector<std::pair<std::string, Tensor>> params,
                      int64_t labelBound) {
  lowerToLoops(*module);
  std::vector<EntryPoint> entries = describeEntryPoints(*module, labelBound);
  lowerToLlvm(*module);
  std::shared_ptr<void> keepAlive =
      jitCompile(std::move(context), std::move(module), entries);
  return Program(std::move(entries), std::move(params), std::move(keepAlive));
}

Program compile(nn::Module &model, const CompileSpec &spec) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  return finish(std::move(context), std::move(module), model.namedParameters(),
                labelBoundOf(model, spec));
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
  return finish(std::move(context), std::move(module), graph.params(), 0);
}

} // namespace kiln
