// The named pipelines: trace → kiln (autodiff, optimizer) → loops → LLVM.
#include "Pipeline.h"

#include "../Frontend/Importer.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Parallel.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln {

std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registry.insert<KilnDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, cf::ControlFlowDialect,
                  LLVM::LLVMDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  auto context = std::make_unique<MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

void runPasses(ModuleOp module,
               const std::function<void(OpPassManager &)> &populate,
               const char *what) {
  std::string diagnostics;
  llvm::raw_string_ostream stream(diagnostics);
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    stream << d.getLocation() << ": " << d << "\n";
    for (Diagnostic &note : d.getNotes())
      stream << "  note: " << note << "\n";
    return success();
  });
  PassManager pm(module.getContext());
  populate(pm);
  if (failed(pm.run(module)))
    throw Error(std::string("kiln could not ") + what + ":\n" + stream.str() +
                "this is a bug in kiln if the model traced without error; "
                "please report it with the model");
}

void addOptimizerStep(OpPassManager &pm, const CompileSpec &spec) {
  KilnOptimizerStepOptions options;
  switch (spec.optimizer) {
  case OptimizerKind::Sgd:
    options.optimizer = "sgd";
    options.lr = spec.sgd.lr;
    options.momentum = spec.sgd.momentum;
    options.dampening = spec.sgd.dampening;
    options.weightDecay = spec.sgd.weightDecay;
    options.nesterov = spec.sgd.nesterov;
    break;
  case OptimizerKind::Adam:
    options.optimizer = "adam";
    options.lr = spec.adam.lr;
    options.beta1 = spec.adam.beta1;
    options.beta2 = spec.adam.beta2;
    options.eps = spec.adam.eps;
    options.weightDecay = spec.adam.weightDecay;
    options.amsgrad = spec.adam.amsgrad;
    break;
  case OptimizerKind::RmsProp:
    options.optimizer = "rmsprop";
    options.lr = spec.rmsprop.lr;
    options.alpha = spec.rmsprop.alpha;
    options.eps = spec.rmsprop.eps;
    options.weightDecay = spec.rmsprop.weightDecay;
    options.momentum = spec.rmsprop.momentum;
    options.centered = spec.rmsprop.centered;
    break;
  }
  pm.addPass(createKilnOptimizerStep(options));
}

OwningOpRef<ModuleOp> buildKilnModule(MLIRContext &context, nn::Module &model,
                                      const CompileSpec &spec) {
  if (spec.inputShape.size() != 4)
    throw Error("the input shape must be [batch, channels, height, width], "
                "got " +
                shapeString(spec.inputShape));
  if ((spec.train || spec.gradient || spec.evalBatch > 0) &&
      spec.lossReduction == Reduction::None)
    throw Error("CompileSpec::lossReduction is None, which gives one loss per "
                "sample, but train_step, eval_step and loss_grad need a scalar "
                "loss: use Reduction::Mean or Reduction::Sum, or trace "
                "crossEntropy/mseLoss with Reduction::None yourself and "
                "compile it with compileFunction");
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  // The model's output and its loss on a batch of `batch` inputs.
  auto traceLoss = [&](Graph &graph, int64_t batch) -> std::pair<Var, Var> {
    std::vector<int64_t> shape = spec.inputShape;
    shape[0] = batch;
    Var logits = model(graph.input("input", shape));
    if (spec.loss == LossKind::CrossEntropy)
      return {logits,
              crossEntropy(logits, graph.input("labels", {batch}, DType::I64),
                           spec.lossReduction)};
    return {logits, mseLoss(logits, graph.input("target", logits.shape()),
                            spec.lossReduction)};
  };
  if (spec.train || spec.gradient) {
    Graph graph;
    Var loss = traceLoss(graph, spec.inputShape[0]).second;
    importGraph(*module, graph, loss, "loss", /*differentiate=*/true);
  }
  if (spec.evalBatch > 0) {
    // eval_step(params, input, labels) -> (loss, logits): the forward pass
    // of train_step without its update.
    Graph graph;
    auto [logits, loss] = traceLoss(graph, spec.evalBatch);
    importGraph(*module, graph, {loss, logits}, "eval_step",
                /*differentiate=*/false);
  }
  if (spec.predictBatch > 0) {
    Graph graph;
    std::vector<int64_t> shape = spec.inputShape;
    shape[0] = spec.predictBatch;
    Var logits = model(graph.input("input", shape));
    importGraph(*module, graph, logits, "predict", /*differentiate=*/false);
  }
  runPasses(
      *module,
      [&](OpPassManager &pm) {
        pm.addPass(createKilnAutodiff());
        if (spec.train)
          addOptimizerStep(pm, spec); // train_step = loss_grad + update
        pm.addPass(createCanonicalizerPass());
        pm.addPass(createCSEPass());
        if (spec.fuse)
          pm.addNestedPass<func::FuncOp>(createKilnFuse());
      },
      "derive the training program");
  if (!spec.gradient) {
    for (StringRef name : {"loss", "loss_grad"}) {
      if (auto fn = module->lookupSymbol<func::FuncOp>(name))
        fn.erase();
    }
  }
  return module;
}

void buildLoopsPipeline(OpPassManager &pm, int64_t threads) {
  pm.addPass(createKilnLowerToLoops({threads})); // kiln ops → scf loops
  pm.addPass(createCanonicalizerPass());         // fold index arithmetic
  pm.addPass(createCSEPass());                   // share constants, loads
  pm.addNestedPass<func::FuncOp>(createKilnPlanMemory()); // allocs → one arena
  pm.addPass(createKilnOutlineParallel()); // scf.parallel → calls of bodies
}

void buildLlvmPipeline(OpPassManager &pm) {
  pm.addPass(createConvertSCFToCFPass()); // loops → branches
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.reassociateFPReductions = true;             // sums across lanes
  pm.addPass(createConvertVectorToLLVMPass(vectorOptions)); // register tiles
  pm.addPass(arith::createArithExpandOpsPass());            // ceildiv, max, min
  pm.addPass(createConvertMathToLLVMPass());                // exp, log, pow
  pm.addPass(createArithToLLVMConversionPass());            // arithmetic
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());   // buffers
  ConvertFuncToLLVMPassOptions funcOptions;
  funcOptions.useBarePtrCallConv = true; // one pointer per buffer
  pm.addPass(createConvertFuncToLLVMPass(funcOptions));
  pm.addPass(createConvertControlFlowToLLVMPass()); // branches
  pm.addPass(createReconcileUnrealizedCastsPass()); // tidy casts
}

void registerKilnPipelines() {
  PassPipelineRegistration<>(
      "kiln-to-loops",
      "Lower kiln to loops over buffers placed in one arena per function",
      [](OpPassManager &pm) { buildLoopsPipeline(pm); });
  PassPipelineRegistration<>(
      "kiln-loops-to-llvm",
      "Lower kiln's loop programs to the LLVM dialect (bare-pointer calls)",
      buildLlvmPipeline);
}

void lowerToLoops(ModuleOp module, int64_t threads) {
  runPasses(
      module, [&](OpPassManager &pm) { buildLoopsPipeline(pm, threads); },
      "lower the program to loops");
}

int64_t threadsOf(const CompileSpec &spec) {
  if (spec.threads < 0)
    throw Error("CompileSpec::threads must be 0 (every hardware thread) or "
                "more, got " +
                std::to_string(spec.threads));
  return spec.threads > 0 ? spec.threads : hardwareThreads();
}

void lowerToLlvm(ModuleOp module) {
  runPasses(module, buildLlvmPipeline, "lower the program to LLVM");
}

ArgSpec describeArgument(func::FuncOp fn, unsigned i) {
  auto type = cast<ShapedType>(fn.getArgumentTypes()[i]);
  ArgSpec arg;
  arg.shape.assign(type.getShape().begin(), type.getShape().end());
  Type element = type.getElementType();
  arg.dtype = element.isF64()   ? DType::F64
              : element.isF32() ? DType::F32
                                : DType::I64;
  auto stringAttr = [&](StringRef key) -> std::string {
    if (auto attr = fn.getArgAttrOfType<StringAttr>(i, key))
      return attr.getValue().str();
    return "";
  };
  if (fn.getArgAttr(i, "kiln.arena")) {
    arg.role = ArgRole::Arena;
    arg.name = "arena";
  } else if (auto output = fn.getArgAttrOfType<IntegerAttr>(i, "kiln.output")) {
    arg.role = ArgRole::Output;
    arg.name = "output" + std::to_string(output.getInt());
  } else if (!stringAttr(kParamAttr).empty()) {
    arg.role = ArgRole::Param;
    arg.name = stringAttr(kParamAttr);
  } else if (stringAttr("kiln.state") == "step") {
    arg.role = ArgRole::Step;
    arg.name = "step";
  } else if (!stringAttr("kiln.state").empty()) {
    arg.role = ArgRole::State;
    arg.name = stringAttr("kiln.state");
  } else {
    arg.role = ArgRole::Input;
    arg.name = stringAttr("kiln.input");
    if (auto bound = fn.getArgAttrOfType<IntegerAttr>(i, "kiln.label_bound"))
      arg.bound = bound.getInt();
  }
  return arg;
}

std::vector<EntryPoint> describeEntryPoints(ModuleOp module) {
  std::vector<EntryPoint> entries;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isPrivate()) // outlined parallel loop bodies
      continue;
    EntryPoint entry;
    entry.name = fn.getName().str();
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      entry.args.push_back(describeArgument(fn, i));
    entries.push_back(std::move(entry));
  }
  return entries;
}

} // namespace kiln
