// kiln-fuse: conv2d → relu → max_pool2d chains become kiln.conv2d_relu_pool.
#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"

namespace kiln {
#define GEN_PASS_DEF_KILNFUSE
#include "kiln/Compiler/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

// The chain's pieces when `pool` reads relu(conv2d(...)) and the convolution
// output feeds nothing but that relu and relu gradients (as their mask).
struct Chain {
  Conv2dOp conv;
  ReluOp relu;
  MaxPool2dOp pool;
};

std::optional<Chain> matchChain(MaxPool2dOp pool) {
  auto relu = pool.getInput().getDefiningOp<ReluOp>();
  if (!relu)
    return std::nullopt;
  auto conv = relu.getInput().getDefiningOp<Conv2dOp>();
  if (!conv)
    return std::nullopt;
  for (OpOperand &use : conv.getResult().getUses()) {
    Operation *user = use.getOwner();
    if (user == relu)
      continue;
    auto mask = dyn_cast<ReluBackwardOp>(user);
    if (!mask || use.getOperandNumber() != 1)
      return std::nullopt;
  }
  // A second pooling of the same relu output keeps the chain unfused.
  for (Operation *user : relu.getResult().getUsers()) {
    if (user != pool && isa<MaxPool2dOp>(user))
      return std::nullopt;
  }
  return Chain{conv, relu, pool};
}

void fuse(Chain chain) {
  OpBuilder b(chain.conv); // its operands are all defined before it
  auto fused = b.create<Conv2dReluPoolOp>(
      chain.conv.getLoc(), chain.pool.getType(), chain.relu.getType(),
      chain.conv.getInput(), chain.conv.getWeight(), chain.conv.getBias(),
      chain.conv.getStride(), chain.conv.getPadding(), chain.pool.getKernel(),
      chain.pool.getStride());
  // The relu gradient may read the activation instead of the convolution:
  // both are > 0 at the same places.
  chain.conv.getResult().replaceAllUsesWith(fused.getActivation());
  chain.relu.getResult().replaceAllUsesWith(fused.getActivation());
  chain.pool.getResult().replaceAllUsesWith(fused.getPooled());
  chain.pool.erase();
  chain.relu.erase();
  chain.conv.erase();
}

struct KilnFusePass : kiln::impl::KilnFuseBase<KilnFusePass> {
  void runOnOperation() override {
    SmallVector<Chain> chains;
    getOperation().walk([&](MaxPool2dOp pool) {
      if (std::optional<Chain> chain = matchChain(pool))
        chains.push_back(*chain);
    });
    for (Chain &chain : chains)
      fuse(chain);
  }
};

} // namespace
