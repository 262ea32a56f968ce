// kiln-lower-to-loops: turns each function's kiln ops on tensors into loop
// nests over memref buffers, with results written to output arguments.
#include "LoopEmitter.h"
#include "kiln/Compiler/Passes.h"

#include "llvm/ADT/DenseSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNLOWERTOLOOPS
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

MemRefType memrefTypeOf(Type tensorType) {
  auto type = cast<RankedTensorType>(tensorType);
  return MemRefType::get(type.getShape(), type.getElementType());
}

LogicalResult lowerOp(Operation *op, LoopEmitter &e) {
  if (isa<ConstantOp>(op))
    return success(); // Materialised where first needed as a buffer.
  if (isa<ReshapeOp, TransposeOp, BroadcastOp, StopGradientOp>(op))
    return lowerShapeOp(op, e);
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, NegOp, ExpOp, LogOp, ReluOp,
          ReluBackwardOp>(op))
    return lowerElementwiseOp(op, e);
  if (isa<SumOp, MeanOp, MaxOp, MaxBackwardOp>(op))
    return lowerReductionOp(op, e);
  if (isa<Conv2dOp, Conv2dBackwardInputOp, Conv2dBackwardFilterOp,
          Conv2dReluPoolOp>(op))
    return lowerConvOp(op, e);
  if (isa<MaxPool2dOp, MaxPool2dBackwardOp>(op))
    return lowerPoolOp(op, e);
  if (isa<MatmulOp>(op))
    return lowerMatmulOp(op, e);
  if (isa<SoftmaxCrossEntropyOp, SoftmaxCrossEntropyBackwardOp, MseLossOp>(op))
    return lowerLossOp(op, e);
  if (isa<SgdUpdateOp, AdamUpdateOp, RmsPropUpdateOp>(op))
    return lowerOptimizerOp(op, e);
  if (isa<Conv2dReluPoolBackwardOp, LinearOp, BiasReluBackwardOp>(op))
    return lowerFusedOp(op, e);
  return op->emitOpError("cannot be lowered to loops");
}

// An update written over argument `arg` is safe only when the op writing it
// reads each element before writing that same element (elementwise ops and
// optimizer updates), and every other use of the argument, directly or
// through a reshape's view, comes before that op.
LogicalResult checkInPlace(BlockArgument arg, Value update) {
  Operation *writer = update.getDefiningOp();
  if (!writer)
    return success();
  if (!isa<SgdUpdateOp, AdamUpdateOp, RmsPropUpdateOp, AddOp, SubOp, MulOp,
           DivOp, PowOp, NegOp, ExpOp, LogOp, ReluOp, ReluBackwardOp>(writer))
    return writer->emitOpError()
           << "cannot be written over argument #" << arg.getArgNumber()
           << " in place: only elementwise ops and optimizer updates can";
  SmallVector<Value> readers = {arg};
  while (!readers.empty()) {
    Value value = readers.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (isa<ReshapeOp, StopGradientOp>(user)) // views of the same buffer
        readers.push_back(user->getResult(0));
      if (user != writer && writer->isBeforeInBlock(user))
        return writer->emitOpError()
               << "overwrites argument #" << arg.getArgNumber()
               << " in place, but a later op still reads it";
    }
  }
  return success();
}

LogicalResult lowerFunction(func::FuncOp fn, ModuleOp module, int64_t threads) {
  if (!fn.getBody().hasOneBlock())
    return fn.emitError("kiln-lower-to-loops needs single-block functions");
  auto ret = cast<func::ReturnOp>(fn.front().getTerminator());
  unsigned numInputs = fn.getNumArguments();
  SmallVector<Type> argTypes;
  for (Type type : fn.getArgumentTypes())
    argTypes.push_back(memrefTypeOf(type));
  SmallVector<int64_t> updates(fn.getNumResults(), -1);
  llvm::SmallDenseSet<int64_t> updated;
  for (unsigned r = 0; r < fn.getNumResults(); ++r) {
    if (auto attr = fn.getResultAttrOfType<IntegerAttr>(r, kUpdatesAttr)) {
      int64_t arg = attr.getInt();
      if (arg < 0 || arg >= numInputs)
        return fn.emitError() << "result #" << r << " updates argument #"
                              << arg << ", but the function has "
                              << numInputs << " arguments";
      if (!updated.insert(arg).second)
        return fn.emitError() << "two results update argument #" << arg;
      if (fn.getArgumentTypes()[arg] != fn.getResultTypes()[r])
        return fn.emitError()
               << "result #" << r << " of type " << fn.getResultTypes()[r]
               << " cannot update argument #" << arg << " of type "
               << fn.getArgumentTypes()[arg];
      updates[r] = arg;
      continue;
    }
    argTypes.push_back(memrefTypeOf(fn.getResultTypes()[r]));
  }

  OpBuilder b(fn);
  std::string name = fn.getName().str();
  fn.setName(name + ".tensor");
  auto lowered = b.create<func::FuncOp>(fn.getLoc(), name,
                                        b.getFunctionType(argTypes, {}));
  for (unsigned i = 0; i < numInputs; ++i) {
    if (DictionaryAttr attrs = fn.getArgAttrDict(i))
      lowered.setArgAttrs(i, attrs);
  }
  lowered->setAttr("kiln.num_inputs", b.getI64IntegerAttr(numInputs));
  Block *entry = lowered.addEntryBlock();
  b.setInsertionPointToStart(entry);
  LoopEmitter e(b, module);
  e.threads = threads;
  for (unsigned i = 0; i < numInputs; ++i)
    e.setBuffer(fn.getArgument(i), entry->getArgument(i));

  // Decide where each result is written before lowering its producer.
  SmallVector<Value> destinations;
  unsigned nextOutput = numInputs;
  for (auto [r, value] : llvm::enumerate(ret.getOperands())) {
    Value destination;
    if (updates[r] >= 0) {
      destination = entry->getArgument(updates[r]);
      if (failed(checkInPlace(fn.getArgument(updates[r]), value)))
        return failure();
    } else {
      destination = entry->getArgument(nextOutput++);
      lowered.setArgAttr(cast<BlockArgument>(destination).getArgNumber(),
                         "kiln.output", b.getI64IntegerAttr(r));
    }
    destinations.push_back(destination);
    Operation *producer = value.getDefiningOp();
    if (producer && !isa<ConstantOp, ReshapeOp, StopGradientOp>(producer) &&
        !e.hasPreassigned(value))
      e.preassign(value, destination);
  }

  for (Operation &op : fn.front().without_terminator()) {
    e.loc = op.getLoc();
    if (failed(lowerOp(&op, e)))
      return failure();
  }
  e.loc = ret.getLoc();
  // Results still to copy. A source that another copy overwrites (returning
  // two arguments swapped, say) is first saved to a temporary.
  SmallVector<std::pair<Value, Value>> copies;
  for (auto [value, destination] : llvm::zip(ret.getOperands(), destinations)) {
    Value source = e.buffer(value);
    if (source != destination)
      copies.push_back({source, destination});
  }
  for (auto &[source, destination] : copies) {
    bool overwritten = llvm::any_of(copies, [&](auto &other) {
      return other.second == source;
    });
    if (!overwritten)
      continue;
    auto type = cast<MemRefType>(source.getType());
    Value saved = b.create<memref::AllocOp>(
        e.loc, MemRefType::get(type.getShape(), type.getElementType()),
        b.getI64IntegerAttr(64));
    Value from = e.flat(source), to = e.flat(saved);
    e.loops({type.getNumElements()},
            [&](ValueRange i) { e.store(e.load(from, i), to, i); });
    source = saved;
  }
  for (auto &[source, destination] : copies) {
    Value from = e.flat(source), to = e.flat(destination);
    int64_t n = cast<MemRefType>(to.getType()).getNumElements();
    e.loops({n}, [&](ValueRange i) { e.store(e.load(from, i), to, i); });
  }
  b.create<func::ReturnOp>(ret.getLoc());
  fn.erase();
  return success();
}

struct KilnLowerToLoopsPass
    : kiln::impl::KilnLowerToLoopsBase<KilnLowerToLoopsPass> {
  using KilnLowerToLoopsBase::KilnLowerToLoopsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp fn : functions) {
      if (fn.isExternal())
        continue;
      if (failed(lowerFunction(fn, module, threads)))
        return signalPassFailure();
    }
  }
};

} // namespace
