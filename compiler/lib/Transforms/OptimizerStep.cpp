// kiln-optimizer-step: appends the optimizer update to a gradient function.
#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace kiln {
#define GEN_PASS_DEF_KILNOPTIMIZERSTEP
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct KilnOptimizerStepPass
    : kiln::impl::KilnOptimizerStepBase<KilnOptimizerStepPass> {
  using KilnOptimizerStepBase::KilnOptimizerStepBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> gradFns;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn->hasAttr(kGradientOfAttr))
        gradFns.push_back(fn);
    }
    if (gradFns.size() != 1) {
      module.emitError() << "kiln-optimizer-step needs exactly one gradient "
                            "function (made by kiln-autodiff), found "
                         << gradFns.size();
      return signalPassFailure();
    }
    if (optimizer != "sgd") {
      module.emitError() << "unknown optimizer '" << optimizer
                         << "'; this pass knows: sgd";
      return signalPassFailure();
    }
    if (failed(buildTrainStep(gradFns.front())))
      signalPassFailure();
  }

  LogicalResult buildTrainStep(func::FuncOp gradFn) {
    MLIRContext *ctx = gradFn.getContext();
    SmallVector<unsigned> paramArgs, dataArgs;
    for (BlockArgument arg : gradFn.getArguments()) {
      if (gradFn.getArgAttr(arg.getArgNumber(), kParamAttr))
        paramArgs.push_back(arg.getArgNumber());
      else
        dataArgs.push_back(arg.getArgNumber());
    }
    // Signature: params, momentum buffers, step counter, data inputs.
    SmallVector<Type> argTypes;
    SmallVector<DictionaryAttr> argAttrs;
    auto named = [&](StringRef key, StringRef value) {
      return DictionaryAttr::get(
          ctx, {NamedAttribute(StringAttr::get(ctx, key),
                               StringAttr::get(ctx, value))});
    };
    auto paramName = [&](unsigned i) {
      return cast<StringAttr>(gradFn.getArgAttr(i, kParamAttr)).getValue();
    };
    for (unsigned i : paramArgs) {
      argTypes.push_back(gradFn.getArgumentTypes()[i]);
      argAttrs.push_back(named(kParamAttr, paramName(i)));
    }
    for (unsigned i : paramArgs) {
      argTypes.push_back(gradFn.getArgumentTypes()[i]);
      argAttrs.push_back(
          named("kiln.state", ("momentum_buffer." + paramName(i)).str()));
    }
    argTypes.push_back(RankedTensorType::get({}, IntegerType::get(ctx, 64)));
    argAttrs.push_back(named("kiln.state", "step"));
    for (unsigned i : dataArgs) {
      argTypes.push_back(gradFn.getArgumentTypes()[i]);
      argAttrs.push_back(gradFn.getArgAttrDict(i)
                             ? gradFn.getArgAttrDict(i)
                             : DictionaryAttr::get(ctx, {}));
    }

    OpBuilder b(gradFn);
    b.setInsertionPointAfter(gradFn);
    auto trainStep = b.create<func::FuncOp>(gradFn.getLoc(), "train_step",
                                            b.getFunctionType(argTypes, {}));
    Block *entry = trainStep.addEntryBlock();
    size_t numParams = paramArgs.size();
    IRMapping mapping;
    for (auto [k, i] : llvm::enumerate(paramArgs))
      mapping.map(gradFn.getArgument(i), entry->getArgument(k));
    for (auto [k, i] : llvm::enumerate(dataArgs))
      mapping.map(gradFn.getArgument(i),
                  entry->getArgument(2 * numParams + 1 + k));

    b.setInsertionPointToStart(entry);
    for (Operation &op : gradFn.front().without_terminator())
      b.clone(op, mapping);
    auto gradReturn = cast<func::ReturnOp>(gradFn.front().getTerminator());
    Value step = entry->getArgument(2 * numParams);
    SmallVector<Value> results = {mapping.lookup(gradReturn.getOperand(0))};
    SmallVector<Value> newBuffers;
    for (size_t k = 0; k < numParams; ++k) {
      auto update = b.create<SgdUpdateOp>(
          gradFn.getLoc(), entry->getArgument(k),
          mapping.lookup(gradReturn.getOperand(k + 1)),
          entry->getArgument(numParams + k), step, b.getF64FloatAttr(lr),
          b.getF64FloatAttr(momentum), b.getF64FloatAttr(dampening),
          b.getF64FloatAttr(weightDecay), b.getBoolAttr(nesterov));
      results.push_back(update.getNewParam());
      newBuffers.push_back(update.getNewMomentumBuffer());
    }
    results.append(newBuffers);
    b.create<func::ReturnOp>(gradFn.getLoc(), results);
    trainStep.setFunctionType(
        b.getFunctionType(argTypes, ValueRange(results).getTypes()));
    for (auto [i, attrs] : llvm::enumerate(argAttrs))
      trainStep.setArgAttrs(i, attrs);
    for (size_t k = 0; k < 2 * numParams; ++k)
      trainStep.setResultAttr(k + 1, kUpdatesAttr, b.getI64IntegerAttr(k));
    return success();
  }
};

} // namespace
