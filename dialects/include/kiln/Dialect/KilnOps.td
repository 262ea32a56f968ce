// Ops of the kiln dialect: the forward ops a model is traced into, the
// backward ops their gradient rules build, losses and optimizer updates.
#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "kiln/Dialect/KilnDialect.td"
include "kiln/Dialect/KilnInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, !listconcat([Pure], traits)>;

def Kiln_FloatTensor : StaticShapeTensorOf<[F32, F64]>;
def Kiln_LabelTensor : StaticShapeTensorOf<[I64]>;

def Kiln_Differentiable : DeclareOpInterfaceMethods<GradientOpInterface>;
def Kiln_FusedOp : DeclareOpInterfaceMethods<FusedOpInterface>;

//===----------------------------------------------------------------------===//
// Constants and shape ops
//===----------------------------------------------------------------------===//

def Kiln_ConstantOp : Kiln_Op<"constant", [ConstantLike,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "A constant tensor";
  let description = [{
    ```mlir
    %two = kiln.constant dense<2.0> : tensor<4x10xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

def Kiln_ReshapeOp : Kiln_Op<"reshape", [Kiln_Differentiable]> {
  let summary = "Same elements, new shape (row-major order kept)";
  let description = [{
    ```mlir
    %flat = kiln.reshape %x : tensor<4x16x5x5xf32> -> tensor<4x400xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Kiln_TransposeOp : Kiln_Op<"transpose", [Kiln_Differentiable]> {
  let summary = "Permutes the dimensions";
  let description = [{
    Result dimension `i` is input dimension `permutation[i]`.
    ```mlir
    %t = kiln.transpose %x {permutation = array<i64: 1, 0>}
           : tensor<4x10xf32> -> tensor<10x4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Kiln_BroadcastOp : Kiln_Op<"broadcast", [Kiln_Differentiable]> {
  let summary = "Broadcasts to a larger shape by NumPy's rules";
  let description = [{
    Missing leading dimensions are added and size-1 dimensions are repeated.
    ```mlir
    %b = kiln.broadcast %bias : tensor<10xf32> -> tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

class Kiln_BinaryOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Kiln_Differentiable, SameOperandsAndResultType]> {
  let summary = "Elementwise " # what # " of two tensors of one shape";
  let description = [{
    Operands and result share one type; use `kiln.broadcast` first to combine
    tensors of different shapes.
    ```mlir
    %z = kiln.}] # mnemonic # [{ %x, %y : tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "sum">;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "difference">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "product">;
def Kiln_DivOp : Kiln_BinaryOp<"div", "quotient">;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "power (lhs raised to rhs)">;

class Kiln_UnaryOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Kiln_Differentiable, SameOperandsAndResultType]> {
  let summary = "Elementwise " # what;
  let description = [{
    ```mlir
    %y = kiln.}] # mnemonic # [{ %x : tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Kiln_NegOp : Kiln_UnaryOp<"neg", "negation">;
def Kiln_ExpOp : Kiln_UnaryOp<"exp", "natural exponential">;
def Kiln_LogOp : Kiln_UnaryOp<"log", "natural logarithm">;
def Kiln_ReluOp : Kiln_UnaryOp<"relu", "max(x, 0)">;

def Kiln_StopGradientOp : Kiln_Op<"stop_gradient", [Kiln_Differentiable,
    SameOperandsAndResultType]> {
  let summary = "The input unchanged, with no gradient flowing back through it";
  let description = [{
    PyTorch's `detach()`: forward, the result is the input; kiln-autodiff
    sends no gradient to the operand. Lowering reuses the input's buffer.
    ```mlir
    %c = kiln.stop_gradient %x : tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Kiln_ReluBackwardOp : Kiln_Op<"relu_backward", [SameOperandsAndResultType]> {
  let summary = "Gradient of relu: dy where x > 0, else 0";
  let description = [{
    ```mlir
    %dx = kiln.relu_backward %dy, %x : tensor<4x6x28x28xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class Kiln_ReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Kiln_Differentiable]> {
  let summary = what # " over a set of axes";
  let description = [{
    Reduces the listed axes; with `keepdim` they stay as size-1 dimensions,
    otherwise they are removed.
    ```mlir
    %s = kiln.}] # mnemonic # [{ %x {axes = array<i64: 0, 2, 3>}
           : tensor<4x6x28x28xf32> -> tensor<6xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keepdim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Kiln_SumOp : Kiln_ReduceOp<"sum", "Sum">;
def Kiln_MeanOp : Kiln_ReduceOp<"mean", "Mean">;
def Kiln_MaxOp : Kiln_ReduceOp<"max", "Maximum">;

def Kiln_MaxBackwardOp : Kiln_Op<"max_backward"> {
  let summary = "Gradient of kiln.max: dy routed to the first maximum";
  let description = [{
    Like PyTorch's `max(dim)`, each reduced group's gradient goes to the first
    element (in row-major order) equal to the maximum.
    ```mlir
    %dx = kiln.max_backward %dy, %x {axes = array<i64: 1>}
            : tensor<4xf32>, tensor<4x10xf32> -> tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$input,
                       DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keepdim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix product, convolution, pooling
//===----------------------------------------------------------------------===//

def Kiln_MatmulOp : Kiln_Op<"matmul", [Kiln_Differentiable]> {
  let summary = "Matrix product of two 2-D tensors, either side transposed";
  let description = [{
    `result[m, n] = sum_k op(lhs)[m, k] * op(rhs)[k, n]`, where `op` transposes
    when `transpose_lhs` / `transpose_rhs` is set. A linear layer is
    `matmul(x, weight) {transpose_rhs}` with PyTorch's `[out, in]` weights.
    ```mlir
    %y = kiln.matmul %x, %w {transpose_rhs = true}
           : tensor<4x400xf32>, tensor<120x400xf32> -> tensor<4x120xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_lhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_Conv2dOp : Kiln_Op<"conv2d", [Kiln_Differentiable]> {
  let summary = "2-D convolution, NCHW input and [F, C, KH, KW] weights";
  let description = [{
    PyTorch's `Conv2d` with a square stride and zero padding on every side;
    the bias (one value per output channel) is optional.
    ```mlir
    %y = kiln.conv2d %x, %w, %b {stride = 1, padding = 0}
           : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>)
             -> tensor<4x6x28x28xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$weight,
                       Optional<Kiln_FloatTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_Conv2dBackwardInputOp : Kiln_Op<"conv2d_backward_input"> {
  let summary = "Gradient of conv2d with respect to its input";
  let description = [{
    The result type is the convolution's input type.
    ```mlir
    %dx = kiln.conv2d_backward_input %dy, %w {stride = 1, padding = 0}
            : tensor<4x6x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<4x1x32x32xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$weight,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight attr-dict `:` type($grad) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_Conv2dBackwardFilterOp : Kiln_Op<"conv2d_backward_filter"> {
  let summary = "Gradient of conv2d with respect to its weights";
  let description = [{
    The result type is the convolution's weight type.
    ```mlir
    %dw = kiln.conv2d_backward_filter %dy, %x {stride = 1, padding = 0}
            : tensor<4x6x28x28xf32>, tensor<4x1x32x32xf32> -> tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_MaxPool2dOp : Kiln_Op<"max_pool2d", [Kiln_Differentiable]> {
  let summary = "2-D max pooling over square windows, no padding";
  let description = [{
    ```mlir
    %p = kiln.max_pool2d %y {kernel = 2, stride = 2}
           : tensor<4x6x28x28xf32> -> tensor<4x6x14x14xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$kernel,
                       I64Attr:$stride);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Kiln_MaxPool2dBackwardOp : Kiln_Op<"max_pool2d_backward"> {
  let summary = "Gradient of max_pool2d: each window's gradient goes to its first maximum";
  let description = [{
    Overlapping windows accumulate. The result type is the pooling input's.
    ```mlir
    %dx = kiln.max_pool2d_backward %dp, %y {kernel = 2, stride = 2}
            : tensor<4x6x14x14xf32>, tensor<4x6x28x28xf32> -> tensor<4x6x28x28xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$input,
                       I64Attr:$kernel, I64Attr:$stride);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_IndexTensor : StaticShapeTensorOf<[I8, I32]>;

def Kiln_Conv2dReluPoolOp : Kiln_Op<"conv2d_relu_pool", [Kiln_FusedOp]> {
  let summary = "conv2d, relu and max_pool2d fused into one op (made by kiln-fuse)";
  let description = [{
    Computes `max_pool2d(relu(conv2d(input, weight, bias)))` image by image,
    keeping each image's convolution output in a small scratch buffer
    instead of a whole-batch tensor. The second result is the relu output,
    for a backward pass that reads it (as the pooling gradient's input and as
    the relu gradient's mask). The third holds, per pooled element, where in
    its window the first maximum was (`i * pool_kernel + j`), or -1 where the
    maximum is not above zero, so that relu passes no gradient back:
    `kiln.conv2d_relu_pool_backward` routes the gradient with it alone.
    Lowering writes the second and third results only when something uses
    them.
    ```mlir
    %p, %a, %i = kiln.conv2d_relu_pool %x, %w, %b {stride = 1, padding = 0,
                   pool_kernel = 2, pool_stride = 2}
           : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>)
             -> (tensor<4x6x14x14xf32>, tensor<4x6x28x28xf32>, tensor<4x6x14x14xi8>)
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$weight,
                       Optional<Kiln_FloatTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding,
                       I64Attr:$pool_kernel, I64Attr:$pool_stride);
  let results = (outs Kiln_FloatTensor:$pooled, Kiln_FloatTensor:$activation,
                      Kiln_IndexTensor:$indices);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_Conv2dReluPoolBackwardOp : Kiln_Op<"conv2d_relu_pool_backward",
    [Kiln_FusedOp]> {
  let summary = "Gradients of conv2d_relu_pool, from the pooled gradient and the kept arg-max";
  let description = [{
    The backward pass of `kiln.conv2d_relu_pool` in one op (made by
    kiln-fuse out of `max_pool2d_backward`, `relu_backward`,
    `conv2d_backward_input`, `conv2d_backward_filter` and the bias gradient's
    `sum`). Image by image, the pooled gradient `grad` is scattered to the
    positions `indices` (the forward op's third result) names, which is the
    pre-activation gradient (pooling and relu gradients at once), kept in a
    scratch buffer; the bias, weight and input gradients are then
    accumulated from it. The whole-batch activation, pooling and relu
    gradients are never written. Results nothing uses are not computed.
    ```mlir
    %dx, %dw, %db = kiln.conv2d_relu_pool_backward %dp, %i, %x, %w
        {stride = 1, padding = 0, pool_kernel = 2, pool_stride = 2}
        : (tensor<4x6x14x14xf32>, tensor<4x6x14x14xi8>, tensor<4x1x32x32xf32>,
           tensor<6x1x5x5xf32>)
          -> (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>)
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_IndexTensor:$indices,
                       Kiln_FloatTensor:$input, Kiln_FloatTensor:$weight,
                       DefaultValuedAttr<I64Attr, "1">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding,
                       I64Attr:$pool_kernel, I64Attr:$pool_stride);
  let results = (outs Kiln_FloatTensor:$input_grad,
                      Kiln_FloatTensor:$weight_grad,
                      Kiln_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $indices `,` $input `,` $weight attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_LinearOp : Kiln_Op<"linear", [Kiln_FusedOp]> {
  let summary = "Product with transposed weights, bias add and relu in one loop (made by kiln-fuse)";
  let description = [{
    `result[m, n] = act(sum_k input[m, k] * weight[n, k] + bias[n])`, with
    `act` relu when `relu` is set and the identity otherwise; the bias is
    optional. kiln-fuse makes it from `kiln.matmul {transpose_rhs}`, the
    `kiln.broadcast` + `kiln.add` of a bias, and a `kiln.relu`, so the
    product and the sum before relu are never written to memory.
    ```mlir
    %h = kiln.linear %x, %w, %b {relu = true}
           : (tensor<4x400xf32>, tensor<120x400xf32>, tensor<120xf32>)
             -> tensor<4x120xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$weight,
                       Optional<Kiln_FloatTensor>:$bias,
                       DefaultValuedAttr<BoolAttr, "false">:$relu);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_BiasReluBackwardOp : Kiln_Op<"bias_relu_backward", [Kiln_FusedOp,
    AllTypesMatch<["grad", "input", "result"]>]> {
  let summary = "The relu gradient and its sum over rows (a bias gradient) in one loop";
  let description = [{
    `result = relu_backward(grad, input)` and `bias_grad = sum(result,
    axes = [0])` for 2-D operands, made by kiln-fuse where a linear layer's
    bias gradient sums its relu gradient: one pass instead of two.
    ```mlir
    %da, %db = kiln.bias_relu_backward %dh, %h
                 : tensor<4x120xf32> -> tensor<120xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result, Kiln_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `->` type($bias_grad)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

// PyTorch's `reduction` argument. Printed as a keyword before the operands,
// and left out when it is the default, mean.
def Kiln_LossReduction : I32EnumAttr<"LossReduction",
    "loss reduction (mean, sum or none)", [
      I32EnumAttrCase<"Mean", 0, "mean">,
      I32EnumAttrCase<"Sum", 1, "sum">,
      I32EnumAttrCase<"None", 2, "none">]> {
  let cppNamespace = "::kiln";
}

def Kiln_SoftmaxCrossEntropyOp : Kiln_Op<"softmax_cross_entropy",
    [Kiln_Differentiable]> {
  let summary = "Cross-entropy of softmax(logits) against integer labels";
  let description = [{
    PyTorch's `CrossEntropyLoss(reduction=...)`: each sample's loss is
    `logsumexp(logits[i]) - logits[i, labels[i]]`. `mean` (the default,
    not printed) and `sum` give a scalar; `none` gives the `[N]` losses.
    ```mlir
    %loss = kiln.softmax_cross_entropy %logits, %labels
              : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
    %each = kiln.softmax_cross_entropy none %logits, %labels
              : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$logits, Kiln_LabelTensor:$labels,
                       DefaultValuedAttr<Kiln_LossReduction,
                           "::kiln::LossReduction::Mean">:$reduction);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    ($reduction^)? $logits `,` $labels attr-dict `:` type($logits) `,`
    type($labels) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_SoftmaxCrossEntropyBackwardOp
    : Kiln_Op<"softmax_cross_entropy_backward"> {
  let summary = "Gradient of softmax_cross_entropy with respect to the logits";
  let description = [{
    `(softmax(logits) - onehot(labels)) * scale`, row by row, where `scale`
    is `grad / N` for `mean`, `grad` for `sum` (both with a scalar `grad`)
    and `grad[i]` for `none` (with the `[N]` gradient of the losses).
    ```mlir
    %dl = kiln.softmax_cross_entropy_backward %g, %logits, %labels
            : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
    %dn = kiln.softmax_cross_entropy_backward none %gs, %logits, %labels
            : tensor<4xf32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$logits,
                       Kiln_LabelTensor:$labels,
                       DefaultValuedAttr<Kiln_LossReduction,
                           "::kiln::LossReduction::Mean">:$reduction);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    ($reduction^)? $grad `,` $logits `,` $labels attr-dict `:` type($grad) `,`
    type($logits) `,` type($labels) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_MseLossOp : Kiln_Op<"mse_loss", [Kiln_Differentiable,
    AllTypesMatch<["input", "target"]>]> {
  let summary = "Squared error between two tensors of one shape";
  let description = [{
    PyTorch's `MSELoss(reduction=...)`: `(input - target)^2` elementwise,
    averaged (`mean`, the default, not printed) or summed (`sum`) into a
    scalar, or kept in the input's shape (`none`). Its gradient is built
    from elementwise ops.
    ```mlir
    %loss = kiln.mse_loss %out, %target : tensor<1x10xf32> -> tensor<f32>
    %total = kiln.mse_loss sum %out, %target : tensor<1x10xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$target,
                       DefaultValuedAttr<Kiln_LossReduction,
                           "::kiln::LossReduction::Mean">:$reduction);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    ($reduction^)? $input `,` $target attr-dict `:` type($input) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

def Kiln_SgdUpdateOp : Kiln_Op<"sgd_update", [AllTypesMatch<["param", "grad",
    "momentum_buffer", "new_param", "new_momentum_buffer"]>]> {
  let summary = "One step of SGD with momentum, dampening, Nesterov and weight decay";
  let description = [{
    PyTorch's rule: `g = grad + weight_decay * param`; with momentum,
    `buf = step == 0 ? g : momentum * buf + (1 - dampening) * g` and
    `g = nesterov ? g + momentum * buf : buf`; then `param - lr * g`.
    `step` counts the updates done so far. The results are the new parameter
    and momentum buffer; lowering writes them over the operands' buffers.
    ```mlir
    %p2, %m2 = kiln.sgd_update %p, %g, %m, %step {lr = 1.0e-03 : f64,
                 momentum = 9.0e-01 : f64}
               : tensor<6xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$param, Kiln_FloatTensor:$grad,
                       Kiln_FloatTensor:$momentum_buffer,
                       0DTensorOf<[I64]>:$step,
                       F64Attr:$lr,
                       DefaultValuedAttr<F64Attr, "0.0">:$momentum,
                       DefaultValuedAttr<F64Attr, "0.0">:$dampening,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                       DefaultValuedAttr<BoolAttr, "false">:$nesterov);
  let results = (outs Kiln_FloatTensor:$new_param,
                      Kiln_FloatTensor:$new_momentum_buffer);
  let assemblyFormat = [{
    $param `,` $grad `,` $momentum_buffer `,` $step attr-dict `:` type($param) `,` type($step)
  }];
  let hasVerifier = 1;
}

def Kiln_AdamUpdateOp : Kiln_Op<"adam_update", [AllTypesMatch<["param", "grad",
    "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "new_param", "new_exp_avg",
    "new_exp_avg_sq", "new_max_exp_avg_sq"]>]> {
  let summary = "One step of Adam with bias correction and optional AMSGrad";
  let description = [{
    PyTorch's rule, with `t = step + 1` (`step` counts the updates done so
    far): `g = grad + weight_decay * param`,
    `m = beta1 * exp_avg + (1 - beta1) * g`,
    `v = beta2 * exp_avg_sq + (1 - beta2) * g * g`; with `amsgrad`,
    `vmax = max(max_exp_avg_sq, v)` takes `v`'s place below (otherwise
    `max_exp_avg_sq` passes through unchanged). Then
    `denom = sqrt(v) / sqrt(1 - beta2^t) + eps` and
    `param - lr / (1 - beta1^t) * m / denom`. The results are the new
    parameter and the three new states; lowering writes them over the
    operands' buffers. The states start at zero.
    ```mlir
    %p2, %m2, %v2, %vmax2 = kiln.adam_update %p, %g, %m, %v, %vmax, %step
        {lr = 1.0e-03 : f64, amsgrad = true} : tensor<6xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$param, Kiln_FloatTensor:$grad,
                       Kiln_FloatTensor:$exp_avg, Kiln_FloatTensor:$exp_avg_sq,
                       Kiln_FloatTensor:$max_exp_avg_sq,
                       0DTensorOf<[I64]>:$step,
                       F64Attr:$lr,
                       DefaultValuedAttr<F64Attr, "0.9">:$beta1,
                       DefaultValuedAttr<F64Attr, "0.999">:$beta2,
                       DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                       DefaultValuedAttr<BoolAttr, "false">:$amsgrad);
  let results = (outs Kiln_FloatTensor:$new_param, Kiln_FloatTensor:$new_exp_avg,
                      Kiln_FloatTensor:$new_exp_avg_sq,
                      Kiln_FloatTensor:$new_max_exp_avg_sq);
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq `,` $max_exp_avg_sq `,` $step
    attr-dict `:` type($param) `,` type($step)
  }];
  let hasVerifier = 1;
}

def Kiln_RmsPropUpdateOp : Kiln_Op<"rmsprop_update", [AllTypesMatch<["param",
    "grad", "square_avg", "momentum_buffer", "grad_avg", "new_param",
    "new_square_avg", "new_momentum_buffer", "new_grad_avg"]>]> {
  let summary = "One step of RMSProp with optional momentum and centering";
  let description = [{
    PyTorch's rule: `g = grad + weight_decay * param`,
    `s = alpha * square_avg + (1 - alpha) * g * g`; centered,
    `a = alpha * grad_avg + (1 - alpha) * g` and `avg = sqrt(s - a * a) + eps`,
    otherwise `avg = sqrt(s) + eps`. With momentum,
    `buf = momentum * momentum_buffer + g / avg` and `param - lr * buf`;
    without, `param - lr * g / avg`. States that an option set does not use
    pass through unchanged; all start at zero. `step` is unused by the rule
    and kept so that every optimizer update has the same shape.
    ```mlir
    %p2, %s2, %b2, %a2 = kiln.rmsprop_update %p, %g, %s, %b, %a, %step
        {lr = 1.0e-02 : f64, momentum = 9.0e-01 : f64, centered = true}
        : tensor<6xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$param, Kiln_FloatTensor:$grad,
                       Kiln_FloatTensor:$square_avg,
                       Kiln_FloatTensor:$momentum_buffer,
                       Kiln_FloatTensor:$grad_avg,
                       0DTensorOf<[I64]>:$step,
                       F64Attr:$lr,
                       DefaultValuedAttr<F64Attr, "0.99">:$alpha,
                       DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                       DefaultValuedAttr<F64Attr, "0.0">:$momentum,
                       DefaultValuedAttr<BoolAttr, "false">:$centered);
  let results = (outs Kiln_FloatTensor:$new_param,
                      Kiln_FloatTensor:$new_square_avg,
                      Kiln_FloatTensor:$new_momentum_buffer,
                      Kiln_FloatTensor:$new_grad_avg);
  let assemblyFormat = [{
    $param `,` $grad `,` $square_avg `,` $momentum_buffer `,` $grad_avg `,`
    $step attr-dict `:` type($param) `,` type($step)
  }];
  let hasVerifier = 1;
}

#endif // KILN_OPS_TD
