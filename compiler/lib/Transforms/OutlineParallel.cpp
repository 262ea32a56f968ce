// kiln-outline-parallel: each outermost scf.parallel becomes a function of
// its captured values and an iteration range, called over the whole range.
#include "kiln/Compiler/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace kiln {
#define GEN_PASS_DEF_KILNOUTLINEPARALLEL
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

// What the body reads from outside: ops to recompute inside the outlined
// function (pure, region-free, in dependency order) and values to pass.
struct Captures {
  llvm::SetVector<Operation *> recomputed;
  llvm::SetVector<Value> passed;

  void add(Value value) {
    Operation *def = value.getDefiningOp();
    if (def && def->getNumRegions() == 0 && isMemoryEffectFree(def)) {
      if (recomputed.contains(def))
        return;
      for (Value operand : def->getOperands())
        add(operand);
      recomputed.insert(def);
      return;
    }
    passed.insert(value);
  }
};

LogicalResult outline(scf::ParallelOp loop, func::FuncOp parent,
                      unsigned number) {
  if (loop.getNumLoops() != 1 || loop.getNumResults() != 0)
    return loop.emitOpError("kiln-outline-parallel handles one-dimensional "
                            "loops without reductions only");
  std::optional<int64_t> step = getConstantIntValue(loop.getStep()[0]);
  if (step != 1)
    return loop.emitOpError("kiln-outline-parallel needs a step of 1");

  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(loop.getRegion(), used);
  Captures captures;
  for (Value value : used)
    captures.add(value);
  for (Value value : captures.passed) {
    auto type = dyn_cast<MemRefType>(value.getType());
    if (type && !(type.hasStaticShape() && type.getLayout().isIdentity()))
      return loop.emitOpError("reads a strided or dynamic buffer defined "
                              "outside the loop, which cannot be passed "
                              "with bare pointers: ")
             << type;
  }

  Location loc = loop.getLoc();
  OpBuilder b(parent);
  SmallVector<Type> types;
  for (Value value : captures.passed)
    types.push_back(value.getType());
  types.append(2, b.getIndexType());
  std::string name =
      (kParallelPrefix + parent.getName() + "." + std::to_string(number)).str();
  auto body = b.create<func::FuncOp>(loc, name, b.getFunctionType(types, {}));
  body.setPrivate();
  Block *entry = body.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (auto [value, arg] : llvm::zip(captures.passed, entry->getArguments()))
    mapping.map(value, arg);
  for (Operation *op : captures.recomputed)
    b.clone(*op, mapping);
  unsigned numArgs = entry->getNumArguments();
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto serial = b.create<scf::ForOp>(loc, entry->getArgument(numArgs - 2),
                                     entry->getArgument(numArgs - 1), one);
  mapping.map(loop.getInductionVars()[0], serial.getInductionVar());
  b.setInsertionPoint(serial.getBody()->getTerminator());
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  b.setInsertionPointToEnd(entry);
  b.create<func::ReturnOp>(loc);

  b.setInsertionPoint(loop);
  SmallVector<Value> operands(captures.passed.begin(), captures.passed.end());
  operands.push_back(loop.getLowerBound()[0]);
  operands.push_back(loop.getUpperBound()[0]);
  b.create<func::CallOp>(loc, body, operands);
  loop.erase();
  return success();
}

struct KilnOutlineParallelPass
    : kiln::impl::KilnOutlineParallelBase<KilnOutlineParallelPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> functions(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp fn : functions) {
      if (fn.isExternal() || fn.getName().starts_with(kParallelPrefix))
        continue;
      SmallVector<scf::ParallelOp> loops;
      fn.walk([&](scf::ParallelOp loop) {
        if (!loop->getParentOfType<scf::ParallelOp>())
          loops.push_back(loop);
      });
      for (auto [number, loop] : llvm::enumerate(loops)) {
        if (failed(outline(loop, fn, number)))
          return signalPassFailure();
      }
    }
  }
};

} // namespace
