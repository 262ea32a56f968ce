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
    if (stateNames().empty()) {
      module.emitError() << "unknown optimizer '" << optimizer
                         << "'; this pass knows: sgd, adam, rmsprop";
      return signalPassFailure();
    }
    if (failed(buildTrainStep(gradFns.front())))
      signalPassFailure();
  }

  /// The optimizer's per-parameter states, in operand order.
  SmallVector<StringRef> stateNames() const {
    if (optimizer == "sgd")
      return {"momentum_buffer"};
    if (optimizer == "adam")
      return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    if (optimizer == "rmsprop")
      return {"square_avg", "momentum_buffer", "grad_avg"};
    return {};
  }

  /// One parameter's update: the new parameter, then its new states.
  ValueRange buildUpdate(OpBuilder &b, Location loc, Value param, Value grad,
                         ValueRange states, Value step) {
    auto f64 = [&](double value) { return b.getF64FloatAttr(value); };
    if (optimizer == "adam")
      return b
          .create<AdamUpdateOp>(loc, param, grad, states[0], states[1],
                                states[2], step, f64(lr), f64(beta1),
                                f64(beta2), f64(eps), f64(weightDecay),
                                b.getBoolAttr(amsgrad))
          ->getResults();
    if (optimizer == "rmsprop")
      return b
          .create<RmsPropUpdateOp>(loc, param, grad, states[0], states[1],
                                   states[2], step, f64(lr), f64(alpha),
                                   f64(eps), f64(weightDecay), f64(momentum),
                                   b.getBoolAttr(centered))
          ->getResults();
    return b
        .create<SgdUpdateOp>(loc, param, grad, states[0], step, f64(lr),
                             f64(momentum), f64(dampening), f64(weightDecay),
                             b.getBoolAttr(nesterov))
        ->getResults();
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
    // Signature: params, each state for every param, step counter, inputs.
    SmallVector<StringRef> states = stateNames();
    size_t numParams = paramArgs.size();
    size_t numUpdated = (1 + states.size()) * numParams;
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
    for (StringRef state : states) {
      for (unsigned i : paramArgs) {
        argTypes.push_back(gradFn.getArgumentTypes()[i]);
        argAttrs.push_back(
            named("kiln.state", (state + "." + paramName(i)).str()));
      }
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
    IRMapping mapping;
    for (auto [k, i] : llvm::enumerate(paramArgs))
      mapping.map(gradFn.getArgument(i), entry->getArgument(k));
    for (auto [k, i] : llvm::enumerate(dataArgs))
      mapping.map(gradFn.getArgument(i),
                  entry->getArgument(numUpdated + 1 + k));

    b.setInsertionPointToStart(entry);
    for (Operation &op : gradFn.front().without_terminator())
      b.clone(op, mapping);
    auto gradReturn = cast<func::ReturnOp>(gradFn.front().getTerminator());
    Value step = entry->getArgument(numUpdated);
    // results[1 + j * numParams + k]: updated value j (param, then each
    // state) of parameter k, mirroring the argument order.
    SmallVector<Value> results(1 + numUpdated);
    results[0] = mapping.lookup(gradReturn.getOperand(0));
    for (size_t k = 0; k < numParams; ++k) {
      SmallVector<Value> stateArgs;
      for (size_t j = 1; j <= states.size(); ++j)
        stateArgs.push_back(entry->getArgument(j * numParams + k));
      ValueRange updated = buildUpdate(
          b, gradFn.getLoc(), entry->getArgument(k),
          mapping.lookup(gradReturn.getOperand(k + 1)), stateArgs, step);
      for (auto [j, value] : llvm::enumerate(updated))
        results[1 + j * numParams + k] = value;
    }
    b.create<func::ReturnOp>(gradFn.getLoc(), results);
    trainStep.setFunctionType(
        b.getFunctionType(argTypes, ValueRange(results).getTypes()));
    for (auto [i, attrs] : llvm::enumerate(argAttrs))
      trainStep.setArgAttrs(i, attrs);
    for (size_t k = 0; k < numUpdated; ++k)
      trainStep.setResultAttr(k + 1, kUpdatesAttr, b.getI64IntegerAttr(k));
    return success();
  }
};

} // namespace
