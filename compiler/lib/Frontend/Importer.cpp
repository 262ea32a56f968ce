// Graph → kiln dialect: one op per traced node.
#include "Importer.h"

#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"

#include <algorithm>

using namespace mlir;

namespace kiln {

static Type elementType(OpBuilder &b, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return b.getF32Type();
  case DType::F64:
    return b.getF64Type();
  case DType::I64:
    return b.getI64Type();
  case DType::U8:
    return b.getIntegerType(8, /*isSigned=*/false);
  }
  return {};
}

static LossReduction lossReduction(Reduction reduction) {
  switch (reduction) {
  case Reduction::Mean:
    return LossReduction::Mean;
  case Reduction::Sum:
    return LossReduction::Sum;
  case Reduction::None:
    return LossReduction::None;
  }
  return LossReduction::Mean;
}

func::FuncOp importGraph(ModuleOp module, const Graph &graph,
                         ArrayRef<Var> results, StringRef name,
                         bool differentiate) {
  OpBuilder b(module.getContext());
  Location loc = b.getUnknownLoc();
  auto typeOf = [&](const Node &node) {
    return RankedTensorType::get(node.shape, elementType(b, node.dtype));
  };

  // Arguments: parameters first, then inputs, each in trace order.
  SmallVector<int> argNodes;
  for (OpKind kind : {OpKind::Param, OpKind::Input}) {
    for (size_t i = 0; i < graph.nodes().size(); ++i) {
      if (graph.node(i).kind == kind)
        argNodes.push_back(static_cast<int>(i));
    }
  }
  SmallVector<Type> argTypes, resultTypes;
  for (int id : argNodes)
    argTypes.push_back(typeOf(graph.node(id)));
  int lastNode = 0;
  for (Var result : results) {
    resultTypes.push_back(typeOf(graph.node(result.id())));
    lastNode = std::max(lastNode, result.id());
  }
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(loc, name,
                                   b.getFunctionType(argTypes, resultTypes));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  if (differentiate)
    fn->setAttr(kDifferentiateAttr, b.getUnitAttr());

  DenseMap<int, Value> values;
  for (auto [i, id] : llvm::enumerate(argNodes)) {
    const Node &node = graph.node(id);
    values[id] = entry->getArgument(i);
    fn.setArgAttr(i, node.kind == OpKind::Param ? kParamAttr : "kiln.input",
                  b.getStringAttr(node.name));
  }

  for (size_t id = 0; id <= static_cast<size_t>(lastNode); ++id) {
    const Node &node = graph.node(id);
    if (node.kind == OpKind::Param || node.kind == OpKind::Input)
      continue;
    SmallVector<Value> in;
    for (int input : node.inputs)
      in.push_back(values.lookup(input));
    RankedTensorType type = typeOf(node);
    Value out;
    switch (node.kind) {
    case OpKind::Constant:
      out = b.create<ConstantOp>(
          loc, DenseElementsAttr::get(
                   type, FloatAttr::get(type.getElementType(), node.value)));
      break;
    case OpKind::Conv2d:
      out = b.create<Conv2dOp>(loc, type, in[0], in[1],
                               in.size() > 2 ? in[2] : Value(), node.stride,
                               node.padding);
      break;
    case OpKind::MaxPool2d:
      out = b.create<MaxPool2dOp>(loc, type, in[0], node.kernel, node.stride);
      break;
    case OpKind::StopGradient:
      out = b.create<StopGradientOp>(loc, in[0]);
      break;
    case OpKind::Relu:
      out = b.create<ReluOp>(loc, in[0]);
      break;
    case OpKind::Matmul:
      out = b.create<MatmulOp>(loc, type, in[0], in[1], node.flagA, node.flagB);
      break;
    case OpKind::Reshape:
      out = b.create<ReshapeOp>(loc, type, in[0]);
      break;
    case OpKind::Transpose:
      out = b.create<TransposeOp>(loc, type, in[0], node.ints);
      break;
    case OpKind::Broadcast:
      out = b.create<BroadcastOp>(loc, type, in[0]);
      break;
    case OpKind::Add:
      out = b.create<AddOp>(loc, in[0], in[1]);
      break;
    case OpKind::Sub:
      out = b.create<SubOp>(loc, in[0], in[1]);
      break;
    case OpKind::Mul:
      out = b.create<MulOp>(loc, in[0], in[1]);
      break;
    case OpKind::Div:
      out = b.create<DivOp>(loc, in[0], in[1]);
      break;
    case OpKind::Pow:
      out = b.create<PowOp>(loc, in[0], in[1]);
      break;
    case OpKind::Neg:
      out = b.create<NegOp>(loc, in[0]);
      break;
    case OpKind::Exp:
      out = b.create<ExpOp>(loc, in[0]);
      break;
    case OpKind::Log:
      out = b.create<LogOp>(loc, in[0]);
      break;
    case OpKind::Sum:
      out = b.create<SumOp>(loc, type, in[0], node.ints, node.flagA);
      break;
    case OpKind::Mean:
      out = b.create<MeanOp>(loc, type, in[0], node.ints, node.flagA);
      break;
    case OpKind::Max:
      out = b.create<MaxOp>(loc, type, in[0], node.ints, node.flagA);
      break;
    case OpKind::SoftmaxCrossEntropy:
      out = b.create<SoftmaxCrossEntropyOp>(loc, type, in[0], in[1],
                                            lossReduction(node.reduction));
      // Labels fed in from outside must lie in [0, classes): the runtime
      // checks them against this bound before every call.
      if (auto labels = dyn_cast<BlockArgument>(in[1]))
        fn.setArgAttr(labels.getArgNumber(), "kiln.label_bound",
                      b.getI64IntegerAttr(graph.node(node.inputs[0]).shape[1]));
      break;
    case OpKind::MseLoss:
      out = b.create<MseLossOp>(loc, type, in[0], in[1],
                                lossReduction(node.reduction));
      break;
    case OpKind::Param:
    case OpKind::Input:
      break;
    }
    values[id] = out;
  }
  SmallVector<Value> returned;
  for (Var result : results)
    returned.push_back(values.lookup(result.id()));
  b.create<func::ReturnOp>(loc, returned);
  return fn;
}

} // namespace kiln
