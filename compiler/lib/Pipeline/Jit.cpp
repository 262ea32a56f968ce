// JIT compilation of LLVM-dialect modules with MLIR's ExecutionEngine.
#include "Pipeline.h"

#include "kiln/runtime/Error.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;

namespace kiln {

namespace {
struct JitState {
  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<ExecutionEngine> engine;
};

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
  options.transformer = makeOptimizingTransformer(3, 0, machine->get());
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
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
  auto state = std::make_shared<JitState>();
  state->engine = std::move(*engine);
  module = nullptr; // The module must die before its context.
  state->context = std::move(context);
  return state;
}

} // namespace kiln
