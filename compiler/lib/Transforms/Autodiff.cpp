// kiln-autodiff: reverse-mode differentiation, generic over GradientOpInterface.
#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNAUTODIFF
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

Value splatLike(OpBuilder &b, Location loc, Type type, double value) {
  auto tensorType = cast<RankedTensorType>(type);
  auto element = cast<FloatType>(tensorType.getElementType());
  return b.create<ConstantOp>(
      loc, DenseElementsAttr::get(tensorType, FloatAttr::get(element, value)));
}

// Values that depend on a parameter: only they need gradients.
llvm::DenseSet<Value> findActiveValues(func::FuncOp fn) {
  llvm::DenseSet<Value> active;
  for (BlockArgument arg : fn.getArguments()) {
    if (fn.getArgAttr(arg.getArgNumber(), kParamAttr))
      active.insert(arg);
  }
  for (Operation &op : fn.front()) {
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return active.contains(v); }))
      active.insert(op.result_begin(), op.result_end());
  }
  return active;
}

LogicalResult differentiate(func::FuncOp fn) {
  if (!fn.getBody().hasOneBlock() || fn.getNumResults() != 1)
    return fn.emitError() << "kiln-autodiff needs a single-block function "
                             "returning one scalar loss";
  auto lossType = dyn_cast<RankedTensorType>(fn.getResultTypes()[0]);
  if (!lossType || lossType.getRank() != 0 ||
      !isa<FloatType>(lossType.getElementType()))
    return fn.emitError() << "kiln-autodiff needs a scalar float loss, got "
                          << fn.getResultTypes()[0];

  for (BlockArgument arg : fn.getArguments()) {
    auto type = cast<RankedTensorType>(arg.getType());
    if (fn.getArgAttr(arg.getArgNumber(), kParamAttr) &&
        !isa<FloatType>(type.getElementType()))
      return fn.emitError() << "parameter #" << arg.getArgNumber() << " is "
                            << type << "; only float parameters take "
                               "gradients";
  }

  func::FuncOp gradFn = fn.clone();
  gradFn.setName((fn.getName() + "_grad").str());
  gradFn->removeAttr(kDifferentiateAttr);
  gradFn->setAttr(kGradientOfAttr, FlatSymbolRefAttr::get(fn));
  OpBuilder moduleBuilder(fn);
  moduleBuilder.setInsertionPointAfter(fn);
  moduleBuilder.insert(gradFn);

  Block &body = gradFn.front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  OpBuilder b(ret);
  llvm::DenseSet<Value> active = findActiveValues(gradFn);
  DenseMap<Value, Value> grads;
  grads[loss] = splatLike(b, ret.getLoc(), lossType, 1.0);

  SmallVector<Operation *> forwardOps;
  for (Operation &op : body.without_terminator())
    forwardOps.push_back(&op);
  for (Operation *op : llvm::reverse(forwardOps)) {
    SmallVector<Value> resultGrads;
    bool anyGrad = false;
    for (Value result : op->getResults()) {
      resultGrads.push_back(grads.lookup(result));
      anyGrad |= static_cast<bool>(resultGrads.back());
    }
    if (!anyGrad)
      continue;
    auto rule = dyn_cast<GradientOpInterface>(op);
    if (!rule)
      return op->emitOpError()
             << "has no gradient rule, but a parameter's gradient flows "
                "through it; give it a GradientOpInterface implementation";
    SmallVector<Value> operandGrads = rule.buildVJP(b, resultGrads);
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!grad || !active.contains(operand))
        continue;
      Value &slot = grads[operand];
      slot = slot ? b.create<AddOp>(op->getLoc(), slot, grad).getResult()
                  : grad;
    }
  }

  SmallVector<Value> results = {loss};
  for (BlockArgument arg : gradFn.getArguments()) {
    if (!gradFn.getArgAttr(arg.getArgNumber(), kParamAttr))
      continue;
    Value grad = grads.lookup(arg);
    // A parameter the loss does not depend on has a zero gradient.
    results.push_back(grad ? grad
                           : splatLike(b, ret.getLoc(), arg.getType(), 0.0));
  }
  b.setInsertionPoint(ret);
  b.create<func::ReturnOp>(ret.getLoc(), results);
  ret.erase();
  gradFn.setFunctionType(b.getFunctionType(
      gradFn.getArgumentTypes(), ValueRange(results).getTypes()));
  return success();
}

struct KilnAutodiffPass : kiln::impl::KilnAutodiffBase<KilnAutodiffPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> targets;
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn->hasAttr(kDifferentiateAttr))
        targets.push_back(fn);
    }
    for (func::FuncOp fn : targets) {
      if (failed(differentiate(fn)))
        return signalPassFailure();
    }
  }
};

} // namespace
