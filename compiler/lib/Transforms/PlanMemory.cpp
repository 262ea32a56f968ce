// kiln-plan-memory: one arena per function, buffers placed by liveness.
#include "kiln/Compiler/Passes.h"

#include "mlir/IR/Builders.h"

#include <map>

namespace kiln {
#define GEN_PASS_DEF_KILNPLANMEMORY
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

constexpr int64_t kAlignment = 64;

struct Interval {
  memref::AllocOp alloc;
  int64_t bytes, start, end, offset = 0;
};

// Position, in the function's top-level block, of the op containing `op`.
int64_t topLevelPosition(Operation *op, Block &top,
                         const DenseMap<Operation *, int64_t> &position) {
  while (op->getBlock() != &top)
    op = op->getParentOp();
  return position.lookup(op);
}

// The last top-level position at which `value` or a view of it is used.
int64_t lastUse(Value value, Block &top,
                const DenseMap<Operation *, int64_t> &position) {
  int64_t last = 0;
  SmallVector<Value> worklist = {value};
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (Operation *user : current.getUsers()) {
      last = std::max(last, topLevelPosition(user, top, position));
      if (isa<ViewLikeOpInterface>(user))
        worklist.append(user->result_begin(), user->result_end());
    }
  }
  return last;
}

struct KilnPlanMemoryPass : kiln::impl::KilnPlanMemoryBase<KilnPlanMemoryPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    Block &top = fn.front();
    DenseMap<Operation *, int64_t> position;
    for (auto [i, op] : llvm::enumerate(top))
      position[&op] = i;

    SmallVector<Interval> intervals;
    bool nestedAlloc = false;
    fn.walk([&](memref::AllocOp alloc) {
      if (alloc->getBlock() != &top) {
        nestedAlloc = true;
        return;
      }
      auto type = alloc.getType();
      int64_t bytes = type.getNumElements() *
                      ((type.getElementTypeBitWidth() + 7) / 8);
      intervals.push_back({alloc, bytes, position[alloc],
                           lastUse(alloc.getResult(), top, position)});
    });
    if (nestedAlloc) {
      fn.emitError("kiln-plan-memory found an allocation inside a loop; "
                   "only top-level buffers can be planned");
      return signalPassFailure();
    }

    // First fit, biggest buffers first, among buffers whose lives overlap.
    SmallVector<Interval *> order;
    for (Interval &interval : intervals)
      order.push_back(&interval);
    llvm::stable_sort(order, [](Interval *a, Interval *b) {
      return a->bytes > b->bytes;
    });
    SmallVector<Interval *> placed;
    int64_t arenaBytes = 0;
    for (Interval *interval : order) {
      std::map<int64_t, int64_t> taken; // offset -> end, of overlapping lives
      for (Interval *other : placed) {
        if (other->start <= interval->end && interval->start <= other->end)
          taken[other->offset] =
              std::max(taken[other->offset], other->offset + other->bytes);
      }
      int64_t offset = 0;
      for (auto [begin, end] : taken) {
        if (offset + interval->bytes <= begin)
          break;
        offset = std::max(offset, (end + kAlignment - 1) / kAlignment *
                                      kAlignment);
      }
      interval->offset = offset;
      arenaBytes = std::max(arenaBytes, offset + interval->bytes);
      placed.push_back(interval);
    }
    arenaBytes = std::max<int64_t>(
        kAlignment, (arenaBytes + kAlignment - 1) / kAlignment * kAlignment);

    OpBuilder b(fn.getContext());
    auto arenaType = MemRefType::get({arenaBytes}, b.getI8Type());
    unsigned arenaIndex = fn.getNumArguments();
    fn.insertArgument(arenaIndex, arenaType, {}, fn.getLoc());
    fn.setArgAttr(arenaIndex, "kiln.arena", b.getUnitAttr());
    Value arena = fn.getArgument(arenaIndex);
    for (Interval &interval : intervals) {
      b.setInsertionPoint(interval.alloc);
      Location loc = interval.alloc.getLoc();
      Value offset = b.create<arith::ConstantIndexOp>(loc, interval.offset);
      Value view = b.create<memref::ViewOp>(loc, interval.alloc.getType(),
                                            arena, offset, ValueRange{});
      interval.alloc.replaceAllUsesWith(view);
      interval.alloc.erase();
    }
    fn->setAttr(kArenaBytesAttr, b.getI64IntegerAttr(arenaBytes));
  }
};

} // namespace
