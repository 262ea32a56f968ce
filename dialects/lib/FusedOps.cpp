// What each op made by kiln-fuse replaces: its FusedOpInterface.
#include "kiln/Dialect/KilnDialect.h"

using namespace mlir;
using namespace kiln;

SmallVector<StringRef> Conv2dReluPoolOp::getFusedOps() {
  return {"conv2d", "relu", "max_pool2d"};
}

SmallVector<StringRef> Conv2dReluPoolBackwardOp::getFusedOps() {
  return {"max_pool2d_backward", "relu_backward", "sum",
          "conv2d_backward_filter", "conv2d_backward_input"};
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
