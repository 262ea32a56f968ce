// What each op made by kiln-fuse replaces: its FusedOpInterface.
#include "kiln/Dialect/KilnDialect.h"

using namespace mlir;
using namespace kiln;

SmallVector<StringRef> Conv2dReluPoolOp::getFusedOps() {
  return {"conv2d", "relu", "max_pool2d"};
}

// The gradients nothing uses are not computed, so they are not named.
SmallVector<StringRef> Conv2dReluPoolBackwardOp::getFusedOps() {
  SmallVector<StringRef> ops = {"max_pool2d_backward", "relu_backward"};
  if (!getBiasGrad().use_empty())
    ops.push_back("sum");
  if (!getWeightGrad().use_empty())
    ops.push_back("conv2d_backward_filter");
  if (!getInputGrad().use_empty())
    ops.push_back("conv2d_backward_input");
  return ops;
}

SmallVector<StringRef> LinearOp::getFusedOps() {
  SmallVector<StringRef> ops = {"matmul"};
  if (getBias())
    ops.append({"broadcast", "add"});
  if (getRelu())
    ops.push_back("relu");
  return ops;
}

SmallVector<StringRef> BiasReluBackwardOp::getFusedOps() {
  return {"relu_backward", "sum"};
}
