// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// Every kiln op survives a print/parse round trip; default-valued attributes
// (stride 1, padding 0, keepdim false, transpose false) are elided.

// CHECK-LABEL: func.func @lenet_conv
// CHECK-SAME: (%[[X:.*]]: tensor<4x1x32x32xf32>, %[[W1:.*]]: tensor<6x1x5x5xf32>, %[[B1:.*]]: tensor<6xf32>, %[[W2:.*]]: tensor<16x6x5x5xf32>)
// CHECK: %[[C1:.*]] = kiln.conv2d %[[X]], %[[W1]], %[[B1]] : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<4x6x28x28xf32>
// CHECK: %[[P1:.*]] = kiln.max_pool2d %[[C1]] {kernel = 2 : i64, stride = 2 : i64} : tensor<4x6x28x28xf32> -> tensor<4x6x14x14xf32>
// CHECK: %[[C2:.*]] = kiln.conv2d %[[P1]], %[[W2]] : (tensor<4x6x14x14xf32>, tensor<16x6x5x5xf32>) -> tensor<4x16x10x10xf32>
// CHECK: kiln.conv2d %[[X]], %[[W1]], %[[B1]] {padding = 2 : i64} : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<4x6x32x32xf32>
// CHECK: kiln.conv2d %[[X]], %[[W1]] {padding = 1 : i64, stride = 2 : i64} : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x15x15xf32>
// CHECK: return %[[C2]]
func.func @lenet_conv(%x: tensor<4x1x32x32xf32>, %w1: tensor<6x1x5x5xf32>,
                      %b1: tensor<6xf32>, %w2: tensor<16x6x5x5xf32>)
    -> tensor<4x16x10x10xf32> {
  %c1 = kiln.conv2d %x, %w1, %b1 {stride = 1, padding = 0}
      : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<4x6x28x28xf32>
  %p1 = kiln.max_pool2d %c1 {kernel = 2, stride = 2}
      : tensor<4x6x28x28xf32> -> tensor<4x6x14x14xf32>
  %c2 = kiln.conv2d %p1, %w2 : (tensor<4x6x14x14xf32>, tensor<16x6x5x5xf32>) -> tensor<4x16x10x10xf32>
  %same = kiln.conv2d %x, %w1, %b1 {padding = 2}
      : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<4x6x32x32xf32>
  %strided = kiln.conv2d %x, %w1 {stride = 2, padding = 1}
      : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x15x15xf32>
  return %c2 : tensor<4x16x10x10xf32>
}

// CHECK-LABEL: func.func @conv_backward
// CHECK: kiln.conv2d_backward_input %{{.*}}, %{{.*}} : tensor<4x6x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<4x1x32x32xf32>
// CHECK: kiln.conv2d_backward_filter %{{.*}}, %{{.*}} {padding = 1 : i64, stride = 2 : i64} : tensor<4x6x15x15xf32>, tensor<4x1x32x32xf32> -> tensor<6x1x5x5xf32>
// CHECK: kiln.max_pool2d_backward %{{.*}}, %{{.*}} {kernel = 2 : i64, stride = 2 : i64} : tensor<4x6x14x14xf32>, tensor<4x6x28x28xf32> -> tensor<4x6x28x28xf32>
// CHECK: kiln.relu_backward %{{.*}}, %{{.*}} : tensor<4x6x28x28xf32>
func.func @conv_backward(%dy: tensor<4x6x28x28xf32>, %w: tensor<6x1x5x5xf32>,
                         %dys: tensor<4x6x15x15xf32>, %x: tensor<4x1x32x32xf32>,
                         %dp: tensor<4x6x14x14xf32>, %y: tensor<4x6x28x28xf32>) {
  %dx = kiln.conv2d_backward_input %dy, %w {stride = 1, padding = 0}
      : tensor<4x6x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<4x1x32x32xf32>
  %dw = kiln.conv2d_backward_filter %dys, %x {stride = 2, padding = 1}
      : tensor<4x6x15x15xf32>, tensor<4x1x32x32xf32> -> tensor<6x1x5x5xf32>
  %dpool = kiln.max_pool2d_backward %dp, %y {kernel = 2, stride = 2}
      : tensor<4x6x14x14xf32>, tensor<4x6x28x28xf32> -> tensor<4x6x28x28xf32>
  %drelu = kiln.relu_backward %dy, %y : tensor<4x6x28x28xf32>
  return
}

// CHECK-LABEL: func.func @matmul
// CHECK: kiln.matmul %{{.*}}, %{{.*}} : tensor<4x400xf32>, tensor<400x120xf32> -> tensor<4x120xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_rhs = true} : tensor<4x400xf32>, tensor<120x400xf32> -> tensor<4x120xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_lhs = true} : tensor<4x120xf32>, tensor<4x400xf32> -> tensor<120x400xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_lhs = true, transpose_rhs = true} : tensor<400x4xf32>, tensor<120x400xf32> -> tensor<4x120xf32>
func.func @matmul(%x: tensor<4x400xf32>, %wt: tensor<400x120xf32>, %w: tensor<120x400xf32>,
                  %dy: tensor<4x120xf32>, %xt: tensor<400x4xf32>) {
  %0 = kiln.matmul %x, %wt : tensor<4x400xf32>, tensor<400x120xf32> -> tensor<4x120xf32>
  %1 = kiln.matmul %x, %w {transpose_rhs = true}
      : tensor<4x400xf32>, tensor<120x400xf32> -> tensor<4x120xf32>
  %2 = kiln.matmul %dy, %x {transpose_lhs = true}
      : tensor<4x120xf32>, tensor<4x400xf32> -> tensor<120x400xf32>
  %3 = kiln.matmul %xt, %w {transpose_lhs = true, transpose_rhs = true}
      : tensor<400x4xf32>, tensor<120x400xf32> -> tensor<4x120xf32>
  return
}

// CHECK-LABEL: func.func @shape_ops
// CHECK: kiln.constant dense<2.000000e+00> : tensor<4x10xf32>
// CHECK: kiln.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf64>
// CHECK: kiln.reshape %{{.*}} : tensor<4x16x5x5xf32> -> tensor<4x400xf32>
// CHECK: kiln.transpose %{{.*}} {permutation = array<i64: 1, 0>} : tensor<4x10xf32> -> tensor<10x4xf32>
// CHECK: kiln.transpose %{{.*}} {permutation = array<i64: 0, 2, 3, 1>} : tensor<4x16x5x5xf32> -> tensor<4x5x5x16xf32>
// CHECK: kiln.broadcast %{{.*}} : tensor<10xf32> -> tensor<4x10xf32>
// CHECK: kiln.broadcast %{{.*}} : tensor<4x1xf32> -> tensor<2x4x10xf32>
func.func @shape_ops(%x: tensor<4x16x5x5xf32>, %y: tensor<4x10xf32>, %b: tensor<10xf32>,
                     %col: tensor<4x1xf32>) {
  %two = kiln.constant dense<2.0> : tensor<4x10xf32>
  %pair = kiln.constant dense<[1.0, 2.0]> : tensor<2xf64>
  %flat = kiln.reshape %x : tensor<4x16x5x5xf32> -> tensor<4x400xf32>
  %t = kiln.transpose %y {permutation = array<i64: 1, 0>} : tensor<4x10xf32> -> tensor<10x4xf32>
  %nhwc = kiln.transpose %x {permutation = array<i64: 0, 2, 3, 1>}
      : tensor<4x16x5x5xf32> -> tensor<4x5x5x16xf32>
  %bb = kiln.broadcast %b : tensor<10xf32> -> tensor<4x10xf32>
  %bc = kiln.broadcast %col : tensor<4x1xf32> -> tensor<2x4x10xf32>
  return
}

// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[A:.*]]: tensor<4x10xf32>, %[[B:.*]]: tensor<4x10xf32>)
// CHECK: %[[ADD:.*]] = kiln.add %[[A]], %[[B]] : tensor<4x10xf32>
// CHECK: %[[SUB:.*]] = kiln.sub %[[ADD]], %[[B]] : tensor<4x10xf32>
// CHECK: %[[MUL:.*]] = kiln.mul %[[SUB]], %[[A]] : tensor<4x10xf32>
// CHECK: %[[DIV:.*]] = kiln.div %[[MUL]], %[[B]] : tensor<4x10xf32>
// CHECK: %[[POW:.*]] = kiln.pow %[[DIV]], %[[B]] : tensor<4x10xf32>
// CHECK: %[[NEG:.*]] = kiln.neg %[[POW]] : tensor<4x10xf32>
// CHECK: %[[EXP:.*]] = kiln.exp %[[NEG]] : tensor<4x10xf32>
// CHECK: %[[LOG:.*]] = kiln.log %[[EXP]] : tensor<4x10xf32>
// CHECK: %[[RELU:.*]] = kiln.relu %[[LOG]] : tensor<4x10xf32>
// CHECK: return %[[RELU]]
func.func @elementwise(%a: tensor<4x10xf32>, %b: tensor<4x10xf32>) -> tensor<4x10xf32> {
  %0 = kiln.add %a, %b : tensor<4x10xf32>
  %1 = kiln.sub %0, %b : tensor<4x10xf32>
  %2 = kiln.mul %1, %a : tensor<4x10xf32>
  %3 = kiln.div %2, %b : tensor<4x10xf32>
  %4 = kiln.pow %3, %b : tensor<4x10xf32>
  %5 = kiln.neg %4 : tensor<4x10xf32>
  %6 = kiln.exp %5 : tensor<4x10xf32>
  %7 = kiln.log %6 : tensor<4x10xf32>
  %8 = kiln.relu %7 : tensor<4x10xf32>
  return %8 : tensor<4x10xf32>
}

// CHECK-LABEL: func.func @reductions
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 0, 2, 3>} : tensor<4x6x28x28xf32> -> tensor<6xf32>
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 0, 2, 3>, keepdim = true} : tensor<4x6x28x28xf32> -> tensor<1x6x1x1xf32>
// CHECK: kiln.mean %{{.*}} {axes = array<i64: 0, 1>} : tensor<4x10xf64> -> tensor<f64>
// CHECK: kiln.mean %{{.*}} {axes = array<i64: 1>, keepdim = true} : tensor<4x10xf64> -> tensor<4x1xf64>
// CHECK: %[[MAX:.*]] = kiln.max %[[Y:.*]] {axes = array<i64: 1>} : tensor<4x10xf32> -> tensor<4xf32>
// CHECK: kiln.max %[[Y]] {axes = array<i64: 1>, keepdim = true} : tensor<4x10xf32> -> tensor<4x1xf32>
// CHECK: kiln.max_backward %[[MAX]], %[[Y]] {axes = array<i64: 1>} : tensor<4xf32>, tensor<4x10xf32> -> tensor<4x10xf32>
// CHECK: kiln.max_backward %{{.*}}, %[[Y]] {axes = array<i64: 1>, keepdim = true} : tensor<4x1xf32>, tensor<4x10xf32> -> tensor<4x10xf32>
func.func @reductions(%x: tensor<4x6x28x28xf32>, %d: tensor<4x10xf64>, %y: tensor<4x10xf32>) {
  %0 = kiln.sum %x {axes = array<i64: 0, 2, 3>} : tensor<4x6x28x28xf32> -> tensor<6xf32>
  %1 = kiln.sum %x {axes = array<i64: 0, 2, 3>, keepdim = true}
      : tensor<4x6x28x28xf32> -> tensor<1x6x1x1xf32>
  %2 = kiln.mean %d {axes = array<i64: 0, 1>} : tensor<4x10xf64> -> tensor<f64>
  %3 = kiln.mean %d {axes = array<i64: 1>, keepdim = true} : tensor<4x10xf64> -> tensor<4x1xf64>
  %4 = kiln.max %y {axes = array<i64: 1>} : tensor<4x10xf32> -> tensor<4xf32>
  %5 = kiln.max %y {axes = array<i64: 1>, keepdim = true} : tensor<4x10xf32> -> tensor<4x1xf32>
  %6 = kiln.max_backward %4, %y {axes = array<i64: 1>}
      : tensor<4xf32>, tensor<4x10xf32> -> tensor<4x10xf32>
  %7 = kiln.max_backward %5, %y {axes = array<i64: 1>, keepdim = true}
      : tensor<4x1xf32>, tensor<4x10xf32> -> tensor<4x10xf32>
  return
}

// CHECK-LABEL: func.func @losses
// CHECK: %[[CE:.*]] = kiln.softmax_cross_entropy %{{.*}}, %{{.*}} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
// CHECK: kiln.softmax_cross_entropy_backward %[[CE]], %{{.*}}, %{{.*}} : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
// CHECK: kiln.mse_loss %{{.*}}, %{{.*}} : tensor<1x10xf32> -> tensor<f32>
func.func @losses(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>,
                  %out: tensor<1x10xf32>, %target: tensor<1x10xf32>) {
  %ce = kiln.softmax_cross_entropy %logits, %labels
      : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %dl = kiln.softmax_cross_entropy_backward %ce, %logits, %labels
      : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  %mse = kiln.mse_loss %out, %target : tensor<1x10xf32> -> tensor<f32>
  return
}

// The reduction is a keyword before the operands; mean, the default, is
// elided whether it was written or not.
// CHECK-LABEL: func.func @loss_reductions
// CHECK: kiln.softmax_cross_entropy %{{.*}}, %{{.*}} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
// CHECK: %[[SUM:.*]] = kiln.softmax_cross_entropy sum %{{.*}}, %{{.*}} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
// CHECK: %[[EACH:.*]] = kiln.softmax_cross_entropy none %{{.*}}, %{{.*}} : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
// CHECK: kiln.softmax_cross_entropy_backward sum %[[SUM]], %{{.*}}, %{{.*}} : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
// CHECK: kiln.softmax_cross_entropy_backward none %[[EACH]], %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
// CHECK: kiln.mse_loss sum %{{.*}}, %{{.*}} : tensor<1x10xf32> -> tensor<f32>
// CHECK: kiln.mse_loss none %{{.*}}, %{{.*}} : tensor<1x10xf32> -> tensor<1x10xf32>
// CHECK: kiln.mse_loss none %{{.*}}, %{{.*}} : tensor<2x3xf64> -> tensor<2x3xf64>
func.func @loss_reductions(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>,
                           %out: tensor<1x10xf32>, %target: tensor<1x10xf32>,
                           %x: tensor<2x3xf64>) {
  %mean = kiln.softmax_cross_entropy mean %logits, %labels
      : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %sum = kiln.softmax_cross_entropy sum %logits, %labels
      : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %each = kiln.softmax_cross_entropy none %logits, %labels
      : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
  %ds = kiln.softmax_cross_entropy_backward sum %sum, %logits, %labels
      : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  %dn = kiln.softmax_cross_entropy_backward none %each, %logits, %labels
      : tensor<4xf32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  %msum = kiln.mse_loss sum %out, %target : tensor<1x10xf32> -> tensor<f32>
  %mnone = kiln.mse_loss none %out, %target : tensor<1x10xf32> -> tensor<1x10xf32>
  %mnone64 = kiln.mse_loss none %x, %x : tensor<2x3xf64> -> tensor<2x3xf64>
  return
}

// CHECK-LABEL: func.func @sgd
// CHECK-SAME: (%[[P:.*]]: tensor<6xf32>, %[[G:.*]]: tensor<6xf32>, %[[M:.*]]: tensor<6xf32>, %[[S:.*]]: tensor<i64>)
// CHECK: %[[NP:.*]], %[[NM:.*]] = kiln.sgd_update %[[P]], %[[G]], %[[M]], %[[S]] {lr = 1.000000e-03 : f64} : tensor<6xf32>, tensor<i64>
// CHECK: kiln.sgd_update %[[NP]], %[[G]], %[[NM]], %[[S]] {lr = 1.000000e-02 : f64, momentum = 9.000000e-01 : f64, nesterov = true, weight_decay = 5.000000e-04 : f64} : tensor<6xf32>, tensor<i64>
func.func @sgd(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %step: tensor<i64>) {
  %p1, %m1 = kiln.sgd_update %p, %g, %m, %step {lr = 1.0e-03 : f64} : tensor<6xf32>, tensor<i64>
  %p2, %m2 = kiln.sgd_update %p1, %g, %m1, %step {lr = 1.0e-02 : f64, momentum = 9.0e-01 : f64,
      dampening = 0.0 : f64, weight_decay = 5.0e-04 : f64, nesterov = true}
      : tensor<6xf32>, tensor<i64>
  return
}

// CHECK-LABEL: func.func @stop_gradient
// CHECK: kiln.stop_gradient %{{.*}} : tensor<4x10xf32>
func.func @stop_gradient(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
  %y = kiln.stop_gradient %x : tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
