// kiln-fuse: conv2d → relu → max_pool2d chains and their gradients, linear
// layers and the relu gradient's bias sum become single fused ops.
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

// Whether every use of `value` is a relu gradient reading it as its mask.
bool onlyMasks(Value value, Operation *except) {
  for (OpOperand &use : value.getUses()) {
    if (use.getOwner() == except)
      continue;
    if (!isa<ReluBackwardOp>(use.getOwner()) || use.getOperandNumber() != 1)
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Forward: conv2d → relu → max_pool2d
//===----------------------------------------------------------------------===//

// The chain's pieces when `pool` reads relu(conv2d(...)) and the convolution
// output feeds nothing but that relu and relu gradients (as their mask).
struct ConvChain {
  Conv2dOp conv;
  ReluOp relu;
  MaxPool2dOp pool;
};

std::optional<ConvChain> matchConvChain(MaxPool2dOp pool) {
  auto relu = pool.getInput().getDefiningOp<ReluOp>();
  if (!relu)
    return std::nullopt;
  auto conv = relu.getInput().getDefiningOp<Conv2dOp>();
  if (!conv || !onlyMasks(conv.getResult(), relu))
    return std::nullopt;
  // A second pooling of the same relu output keeps the chain unfused.
  for (Operation *user : relu.getResult().getUsers()) {
    if (user != pool && isa<MaxPool2dOp>(user))
      return std::nullopt;
  }
  return ConvChain{conv, relu, pool};
}

void fuseConvChain(ConvChain chain) {
  OpBuilder b(chain.conv); // its operands are all defined before it
  int64_t kernel = chain.pool.getKernel();
  // A window position i * kernel + j, or -1: i8 holds it up to 11x11.
  auto indicesType =
      RankedTensorType::get(chain.pool.getType().getShape(),
                            b.getIntegerType(kernel * kernel <= 128 ? 8 : 32));
  auto fused = b.create<Conv2dReluPoolOp>(
      chain.conv.getLoc(), chain.pool.getType(), chain.relu.getType(),
      indicesType, chain.conv.getInput(), chain.conv.getWeight(),
      chain.conv.getBias(), chain.conv.getStride(), chain.conv.getPadding(),
      kernel, chain.pool.getStride());
  // The relu gradient may read the activation instead of the convolution:
  // both are > 0 at the same places.
  chain.conv.getResult().replaceAllUsesWith(fused.getActivation());
  chain.relu.getResult().replaceAllUsesWith(fused.getActivation());
  chain.pool.getResult().replaceAllUsesWith(fused.getPooled());
  chain.pool.erase();
  chain.relu.erase();
  chain.conv.erase();
}

//===----------------------------------------------------------------------===//
// Backward: max_pool2d_backward → relu_backward → conv2d gradients
//===----------------------------------------------------------------------===//

// The gradient ops of one fused forward op: the pooling gradient, the relu
// gradient masking it, and the ops reading the result (the pre-activation
// gradient): the input, weight and bias gradients, each possibly absent.
struct GradChain {
  Conv2dReluPoolOp forward;
  MaxPool2dBackwardOp poolGrad;
  ReluBackwardOp reluGrad;
  Conv2dBackwardInputOp inputGrad;
  Conv2dBackwardFilterOp filterGrad;
  SumOp biasGrad;
};

bool sameConv(Conv2dReluPoolOp forward, int64_t stride, int64_t padding) {
  return forward.getStride() == stride && forward.getPadding() == padding;
}

std::optional<GradChain> matchGradChain(MaxPool2dBackwardOp poolGrad) {
  GradChain chain;
  chain.forward = poolGrad.getInput().getDefiningOp<Conv2dReluPoolOp>();
  if (!chain.forward || poolGrad.getInput() != chain.forward.getActivation() ||
      poolGrad.getKernel() != chain.forward.getPoolKernel() ||
      poolGrad.getStride() != chain.forward.getPoolStride() ||
      !poolGrad.getResult().hasOneUse())
    return std::nullopt;
  chain.poolGrad = poolGrad;
  chain.reluGrad = dyn_cast<ReluBackwardOp>(*poolGrad->user_begin());
  if (!chain.reluGrad || chain.reluGrad.getGrad() != poolGrad.getResult() ||
      chain.reluGrad.getInput() != chain.forward.getActivation())
    return std::nullopt;
  for (Operation *user : chain.reluGrad.getResult().getUsers()) {
    if (auto op = dyn_cast<Conv2dBackwardInputOp>(user);
        op && !chain.inputGrad && op.getGrad() == chain.reluGrad.getResult() &&
        op.getWeight() == chain.forward.getWeight() &&
        sameConv(chain.forward, op.getStride(), op.getPadding())) {
      chain.inputGrad = op;
      continue;
    }
    if (auto op = dyn_cast<Conv2dBackwardFilterOp>(user);
        op && !chain.filterGrad && op.getGrad() == chain.reluGrad.getResult() &&
        op.getInput() == chain.forward.getInput() &&
        sameConv(chain.forward, op.getStride(), op.getPadding())) {
      chain.filterGrad = op;
      continue;
    }
    if (auto op = dyn_cast<SumOp>(user);
        op && !chain.biasGrad && !op.getKeepdim() &&
        op.getAxes() == ArrayRef<int64_t>{0, 2, 3}) {
      chain.biasGrad = op;
      continue;
    }
    return std::nullopt; // Something else needs the whole-batch gradient.
  }
  return chain;
}

void fuseGradChain(GradChain chain) {
  Conv2dReluPoolOp forward = chain.forward;
  OpBuilder b(chain.poolGrad);
  auto weightType = cast<RankedTensorType>(forward.getWeight().getType());
  auto fused = b.create<Conv2dReluPoolBackwardOp>(
      chain.poolGrad.getLoc(), forward.getInput().getType(), weightType,
      RankedTensorType::get({weightType.getDimSize(0)},
                            weightType.getElementType()),
      chain.poolGrad.getGrad(), forward.getIndices(), forward.getInput(),
      forward.getWeight(), forward.getStride(), forward.getPadding(),
      forward.getPoolKernel(), forward.getPoolStride());
  if (chain.inputGrad) {
    chain.inputGrad.getResult().replaceAllUsesWith(fused.getInputGrad());
    chain.inputGrad.erase();
  }
  if (chain.filterGrad) {
    chain.filterGrad.getResult().replaceAllUsesWith(fused.getWeightGrad());
    chain.filterGrad.erase();
  }
  if (chain.biasGrad) {
    chain.biasGrad.getResult().replaceAllUsesWith(fused.getBiasGrad());
    chain.biasGrad.erase();
  }
  chain.reluGrad.erase();
  chain.poolGrad.erase();
}

//===----------------------------------------------------------------------===//
// Linear layers: matmul by transposed weights (+ bias) (+ relu)
//===----------------------------------------------------------------------===//

struct LinearChain {
  MatmulOp matmul;
  AddOp add;             // absent without a bias
  BroadcastOp broadcast; // the bias, broadcast over the rows
  ReluOp relu;           // absent without an activation
};

// The bias `add` adds to `product`, when it is a rank-1 tensor broadcast
// over the rows.
BroadcastOp biasOf(AddOp add, Value product) {
  Value other = add.getLhs() == product ? add.getRhs() : add.getLhs();
  auto broadcast = other.getDefiningOp<BroadcastOp>();
  if (!broadcast || other == product)
    return {};
  auto bias = cast<RankedTensorType>(broadcast.getInput().getType());
  auto rows = cast<RankedTensorType>(product.getType());
  if (bias.getRank() != 1 || bias.getDimSize(0) != rows.getDimSize(1))
    return {};
  return broadcast;
}

std::optional<LinearChain> matchLinear(MatmulOp matmul) {
  if (matmul.getTransposeLhs() || !matmul.getTransposeRhs())
    return std::nullopt;
  LinearChain chain{matmul, {}, {}, {}};
  Value out = matmul.getResult();
  if (out.hasOneUse()) {
    if (auto add = dyn_cast<AddOp>(*out.user_begin())) {
      if (BroadcastOp broadcast = biasOf(add, out)) {
        chain.add = add;
        chain.broadcast = broadcast;
        out = add.getResult();
      }
    }
  }
  // relu fuses when the value before it is otherwise only a relu mask,
  // read after the relu (where the fused op will be).
  for (Operation *user : out.getUsers()) {
    auto relu = dyn_cast<ReluOp>(user);
    if (relu && onlyMasks(out, relu) &&
        llvm::all_of(out.getUsers(), [&](Operation *other) {
          return other == relu || relu->isBeforeInBlock(other);
        })) {
      chain.relu = relu;
      break;
    }
  }
  // A bare product gains nothing from fusing.
  if (!chain.add && !chain.relu)
    return std::nullopt;
  return chain;
}

void fuseLinear(LinearChain chain) {
  Operation *last = chain.relu  ? chain.relu.getOperation()
                    : chain.add ? chain.add.getOperation()
                                : chain.matmul.getOperation();
  OpBuilder b(last); // after the bias's broadcast and the matmul's operands
  Value bias = chain.broadcast ? chain.broadcast.getInput() : Value();
  auto fused = b.create<LinearOp>(last->getLoc(), last->getResult(0).getType(),
                                  chain.matmul.getLhs(), chain.matmul.getRhs(),
                                  bias, static_cast<bool>(chain.relu));
  // What the relu masked with (the sum before it) and the relu output are
  // both > 0 at the same places.
  Value beforeRelu =
      chain.add ? chain.add.getResult() : chain.matmul.getResult();
  beforeRelu.replaceAllUsesWith(fused.getResult());
  if (chain.relu) {
    chain.relu.getResult().replaceAllUsesWith(fused.getResult());
    chain.relu.erase();
  }
  if (chain.add)
    chain.add.erase();
  chain.matmul.erase();
  if (chain.broadcast && chain.broadcast->use_empty())
    chain.broadcast.erase();
}

//===----------------------------------------------------------------------===//
// A relu gradient and the bias gradient summing it
//===----------------------------------------------------------------------===//

struct BiasGradChain {
  ReluBackwardOp reluGrad;
  SumOp sum;
};

std::optional<BiasGradChain> matchBiasGrad(ReluBackwardOp reluGrad) {
  if (reluGrad.getType().getRank() != 2)
    return std::nullopt;
  for (Operation *user : reluGrad.getResult().getUsers()) {
    auto sum = dyn_cast<SumOp>(user);
    if (sum && !sum.getKeepdim() && sum.getAxes() == ArrayRef<int64_t>{0})
      return BiasGradChain{reluGrad, sum};
  }
  return std::nullopt;
}

void fuseBiasGrad(BiasGradChain chain) {
  OpBuilder b(chain.reluGrad);
  auto fused = b.create<BiasReluBackwardOp>(
      chain.reluGrad.getLoc(), chain.reluGrad.getType(), chain.sum.getType(),
      chain.reluGrad.getGrad(), chain.reluGrad.getInput());
  chain.reluGrad.getResult().replaceAllUsesWith(fused.getResult());
  chain.sum.getResult().replaceAllUsesWith(fused.getBiasGrad());
  chain.sum.erase();
  chain.reluGrad.erase();
}

// Finds every match of one rule first, then rewrites them: rewriting while
// walking would visit erased ops.
template <class Root, class Match, class Chain>
void fuseAll(func::FuncOp fn, Match match, void (*fuse)(Chain)) {
  SmallVector<Chain> chains;
  fn.walk([&](Root root) {
    if (std::optional<Chain> chain = match(root))
      chains.push_back(*chain);
  });
  for (Chain &chain : chains)
    fuse(chain);
}

struct KilnFusePass : kiln::impl::KilnFuseBase<KilnFusePass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    // The gradient rule needs the fused forward op's arg-max, and the bias
    // gradient rule must not take the convolutions' relu gradients.
    fuseAll<MaxPool2dOp>(fn, matchConvChain, fuseConvChain);
    fuseAll<MaxPool2dBackwardOp>(fn, matchGradChain, fuseGradChain);
    fuseAll<MatmulOp>(fn, matchLinear, fuseLinear);
    fuseAll<ReluBackwardOp>(fn, matchBiasGrad, fuseBiasGrad);
  }
};

} // namespace
