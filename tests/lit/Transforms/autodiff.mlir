// RUN: kiln-opt %s --kiln-autodiff | FileCheck %s
// kiln-autodiff keeps the loss function and adds <name>_grad returning the
// loss followed by one gradient per kiln.param argument, in argument order.

// d/dw sum(exp(w * x)) = exp(w * x) * x: the seed 1.0 is broadcast to the
// summed shape, multiplied by exp's result, then by the other mul operand.
// CHECK-LABEL: func.func @chain(
// CHECK-SAME: attributes {kiln.differentiate}
// CHECK-LABEL: func.func @chain_grad(
// CHECK-SAME: %[[W:.*]]: tensor<3xf32> {kiln.param = "w"}, %[[X:.*]]: tensor<3xf32>)
// CHECK-SAME: -> (tensor<f32>, tensor<3xf32>) attributes {kiln.gradient_of = @chain}
// CHECK-NEXT: %[[Y:.*]] = kiln.mul %[[W]], %[[X]] : tensor<3xf32>
// CHECK-NEXT: %[[E:.*]] = kiln.exp %[[Y]] : tensor<3xf32>
// CHECK-NEXT: %[[LOSS:.*]] = kiln.sum %[[E]] {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
// CHECK-NEXT: %[[SEED:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[SEED1:.*]] = kiln.reshape %[[SEED]] : tensor<f32> -> tensor<1xf32>
// CHECK-NEXT: %[[DE:.*]] = kiln.broadcast %[[SEED1]] : tensor<1xf32> -> tensor<3xf32>
// CHECK-NEXT: %[[DY:.*]] = kiln.mul %[[DE]], %[[E]] : tensor<3xf32>
// CHECK-NEXT: %[[DW:.*]] = kiln.mul %[[DY]], %[[X]] : tensor<3xf32>
// CHECK: return %[[LOSS]], %[[DW]] : tensor<f32>, tensor<3xf32>
func.func @chain(%w: tensor<3xf32> {kiln.param = "w"}, %x: tensor<3xf32>) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.mul %w, %x : tensor<3xf32>
  %e = kiln.exp %y : tensor<3xf32>
  %s = kiln.sum %e {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// w used twice: the two contributions of mul %w, %w are summed with kiln.add.
// CHECK-LABEL: func.func @fanout_grad(
// CHECK-SAME: %[[W:.*]]: tensor<3xf32> {kiln.param = "w"})
// CHECK: %[[LOSS:.*]] = kiln.sum
// CHECK: %[[G:.*]] = kiln.broadcast
// CHECK-NEXT: %[[LHS:.*]] = kiln.mul %[[G]], %[[W]] : tensor<3xf32>
// CHECK-NEXT: %[[RHS:.*]] = kiln.mul %[[G]], %[[W]] : tensor<3xf32>
// CHECK-NEXT: %[[SUM:.*]] = kiln.add %[[LHS]], %[[RHS]] : tensor<3xf32>
// CHECK-NEXT: return %[[LOSS]], %[[SUM]] : tensor<f32>, tensor<3xf32>
func.func @fanout(%w: tensor<3xf32> {kiln.param = "w"}) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.mul %w, %w : tensor<3xf32>
  %s = kiln.sum %y {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// A convolution's weight gradient is conv2d_backward_filter, its bias
// gradient the output gradient summed over N, H and W; the mean over 72
// elements scales the seed by 1/72. A parameter the loss ignores gets zeros.
// CHECK-LABEL: func.func @conv_grad(
// CHECK-SAME: %[[X:.*]]: tensor<2x1x6x6xf32>, %[[W:.*]]: tensor<4x1x3x3xf32> {kiln.param = "conv.weight"}, %[[B:.*]]: tensor<4xf32> {kiln.param = "conv.bias"}, %{{.*}}: tensor<5xf32> {kiln.param = "unused"})
// CHECK-SAME: -> (tensor<f32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<5xf32>)
// CHECK: %[[Y:.*]] = kiln.conv2d %[[X]], %[[W]], %[[B]] {padding = 1 : i64, stride = 2 : i64}
// CHECK: %[[LOSS:.*]] = kiln.mean %[[Y]] {axes = array<i64: 0, 1, 2, 3>}
// CHECK: %[[SCALE:.*]] = kiln.constant dense<0.013888889> : tensor<2x4x3x3xf32>
// CHECK: %[[DY:.*]] = kiln.mul %{{.*}}, %[[SCALE]] : tensor<2x4x3x3xf32>
// CHECK-DAG: %[[DW:.*]] = kiln.conv2d_backward_filter %[[DY]], %[[X]] {padding = 1 : i64, stride = 2 : i64} : tensor<2x4x3x3xf32>, tensor<2x1x6x6xf32> -> tensor<4x1x3x3xf32>
// CHECK-DAG: %[[DB:.*]] = kiln.sum %[[DY]] {axes = array<i64: 0, 2, 3>} : tensor<2x4x3x3xf32> -> tensor<4xf32>
// CHECK-DAG: %[[ZERO:.*]] = kiln.constant dense<0.000000e+00> : tensor<5xf32>
// CHECK: return %[[LOSS]], %[[DW]], %[[DB]], %[[ZERO]]
func.func @conv(%x: tensor<2x1x6x6xf32>, %w: tensor<4x1x3x3xf32> {kiln.param = "conv.weight"},
                %b: tensor<4xf32> {kiln.param = "conv.bias"},
                %unused: tensor<5xf32> {kiln.param = "unused"}) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.conv2d %x, %w, %b {stride = 2, padding = 1}
      : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x3x3xf32>
  %s = kiln.mean %y {axes = array<i64: 0, 1, 2, 3>} : tensor<2x4x3x3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// A linear layer with PyTorch's [out, in] weight, a broadcast bias, relu and
// cross-entropy: dW = dZ^T x, db = dZ summed over the batch, relu_backward
// masks by the pre-activation.
// CHECK-LABEL: func.func @linear_grad(
// CHECK-SAME: %[[X:.*]]: tensor<4x8xf32>, %[[L:.*]]: tensor<4xi64>, %[[W:.*]]: tensor<10x8xf32> {kiln.param = "fc.weight"}, %[[B:.*]]: tensor<10xf32> {kiln.param = "fc.bias"})
// CHECK: %[[Z:.*]] = kiln.add
// CHECK: %[[R:.*]] = kiln.relu %[[Z]]
// CHECK: %[[LOSS:.*]] = kiln.softmax_cross_entropy %[[R]], %[[L]]
// CHECK: %[[SEED:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DR:.*]] = kiln.softmax_cross_entropy_backward %[[SEED]], %[[R]], %[[L]] : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
// CHECK: %[[DZ:.*]] = kiln.relu_backward %[[DR]], %[[Z]] : tensor<4x10xf32>
// CHECK-DAG: %[[DB:.*]] = kiln.sum %[[DZ]] {axes = array<i64: 0>} : tensor<4x10xf32> -> tensor<10xf32>
// CHECK-DAG: %[[DW:.*]] = kiln.matmul %[[DZ]], %[[X]] {transpose_lhs = true} : tensor<4x10xf32>, tensor<4x8xf32> -> tensor<10x8xf32>
// CHECK: return %[[LOSS]], %[[DW]], %[[DB]] : tensor<f32>, tensor<10x8xf32>, tensor<10xf32>
func.func @linear(%x: tensor<4x8xf32>, %labels: tensor<4xi64>,
                  %w: tensor<10x8xf32> {kiln.param = "fc.weight"},
                  %b: tensor<10xf32> {kiln.param = "fc.bias"}) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x8xf32>, tensor<10x8xf32> -> tensor<4x10xf32>
  %bb = kiln.broadcast %b : tensor<10xf32> -> tensor<4x10xf32>
  %z = kiln.add %y, %bb : tensor<4x10xf32>
  %r = kiln.relu %z : tensor<4x10xf32>
  %l = kiln.softmax_cross_entropy %r, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// Shape ops: the transpose gradient uses the inverse permutation ([1, 2, 0]
// inverts to [2, 0, 1]); broadcasting 4x1 to 3x4x2 sums axes 0 and 2 and
// reshapes back to 4x1.
// CHECK-LABEL: func.func @shapes_grad(
// CHECK: %[[DC:.*]] = kiln.sum %{{.*}} {axes = array<i64: 0, 2>} : tensor<3x4x2xf32> -> tensor<4xf32>
// CHECK-NEXT: %[[DC2:.*]] = kiln.reshape %[[DC]] : tensor<4xf32> -> tensor<4x1xf32>
// CHECK-NEXT: %[[DX:.*]] = kiln.transpose %{{.*}} {permutation = array<i64: 2, 0, 1>} : tensor<3x4x2xf32> -> tensor<2x3x4xf32>
// CHECK-NEXT: return %{{.*}}, %[[DX]], %[[DC2]]
func.func @shapes(%x: tensor<2x3x4xf32> {kiln.param = "x"}, %c: tensor<4x1xf32> {kiln.param = "c"})
    -> tensor<f32> attributes {kiln.differentiate} {
  %t = kiln.transpose %x {permutation = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %b = kiln.broadcast %c : tensor<4x1xf32> -> tensor<3x4x2xf32>
  %m = kiln.mul %t, %b : tensor<3x4x2xf32>
  %s = kiln.sum %m {axes = array<i64: 0, 1, 2>} : tensor<3x4x2xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// Functions without kiln.differentiate are left alone.
// CHECK-LABEL: func.func @not_marked(
// CHECK-NOT: func.func @not_marked_grad
func.func @not_marked(%w: tensor<3xf32> {kiln.param = "w"}) -> tensor<f32> {
  %s = kiln.sum %w {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// No gradient passes through stop_gradient: d/dw sum(w * stop(w)) = stop(w).
// CHECK-LABEL: func.func @detached_grad(
// CHECK-SAME: %[[W:.*]]: tensor<3xf32> {kiln.param = "w"})
// CHECK: %[[S:.*]] = kiln.stop_gradient %[[W]] : tensor<3xf32>
// CHECK: %[[B:.*]] = kiln.broadcast
// CHECK: %[[G:.*]] = kiln.mul %[[B]], %[[S]] : tensor<3xf32>
// CHECK-NOT: kiln.add
// CHECK: return %{{.*}}, %[[G]]
func.func @detached(%w: tensor<3xf32> {kiln.param = "w"}) -> tensor<f32> attributes {kiln.differentiate} {
  %s = kiln.stop_gradient %w : tensor<3xf32>
  %m = kiln.mul %w, %s : tensor<3xf32>
  %r = kiln.sum %m {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %r : tensor<f32>
}
