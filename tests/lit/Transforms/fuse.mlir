// RUN: kiln-opt %s -split-input-file --kiln-fuse | FileCheck %s

// A convolution block and its whole gradient: the forward chain becomes one
// op that also keeps the pooling arg-max (i8 for a 2x2 window); the pooling
// gradient, relu gradient, both convolution gradients and the bias sum
// become one op reading that arg-max instead of the activation.
// CHECK-LABEL: func.func @conv_block_and_gradient
// CHECK-SAME: (%[[X:.*]]: tensor<2x1x8x8xf32>, %[[W:.*]]: tensor<3x1x3x3xf32>, %[[B:.*]]: tensor<3xf32>, %[[G:.*]]: tensor<2x3x3x3xf32>)
// CHECK-NEXT: %[[P:.*]], %{{.*}}, %[[I:.*]] = kiln.conv2d_relu_pool %[[X]], %[[W]], %[[B]] {pool_kernel = 2 : i64, pool_stride = 2 : i64} : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>, tensor<2x3x3x3xi8>)
// CHECK-NEXT: %[[DX:.*]], %[[DW:.*]], %[[DB:.*]] = kiln.conv2d_relu_pool_backward %[[G]], %[[I]], %[[X]], %[[W]] {pool_kernel = 2 : i64, pool_stride = 2 : i64} : (tensor<2x3x3x3xf32>, tensor<2x3x3x3xi8>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>)
// CHECK-NEXT: return %[[P]], %[[DX]], %[[DW]], %[[DB]]
func.func @conv_block_and_gradient(%x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>, %g: tensor<2x3x3x3xf32>)
    -> (tensor<2x3x3x3xf32>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) {
  %c = kiln.conv2d %x, %w, %b : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x6x6xf32>
  %r = kiln.relu %c : tensor<2x3x6x6xf32>
  %p = kiln.max_pool2d %r {kernel = 2, stride = 2} : tensor<2x3x6x6xf32> -> tensor<2x3x3x3xf32>
  %dp = kiln.max_pool2d_backward %g, %r {kernel = 2, stride = 2} : tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32> -> tensor<2x3x6x6xf32>
  %dr = kiln.relu_backward %dp, %c : tensor<2x3x6x6xf32>
  %dx = kiln.conv2d_backward_input %dr, %w : tensor<2x3x6x6xf32>, tensor<3x1x3x3xf32> -> tensor<2x1x8x8xf32>
  %dw = kiln.conv2d_backward_filter %dr, %x : tensor<2x3x6x6xf32>, tensor<2x1x8x8xf32> -> tensor<3x1x3x3xf32>
  %db = kiln.sum %dr {axes = array<i64: 0, 2, 3>} : tensor<2x3x6x6xf32> -> tensor<3xf32>
  return %p, %dx, %dw, %db : tensor<2x3x3x3xf32>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>
}

// -----

// A relu gradient something else reads whole (here: the return) keeps the
// backward ops; the forward chain still fuses, and the mask switches from
// the convolution output to the fused op's activation.
// CHECK-LABEL: func.func @relu_gradient_returned
// CHECK: %[[P:.*]], %[[A:.*]], %{{.*}} = kiln.conv2d_relu_pool %arg0, %arg1, %arg2 {padding = 1 : i64, pool_kernel = 3 : i64, pool_stride = 2 : i64, stride = 2 : i64}
// CHECK: %[[DP:.*]] = kiln.max_pool2d_backward %arg3, %[[A]] {kernel = 3 : i64, stride = 2 : i64}
// CHECK: %[[DR:.*]] = kiln.relu_backward %[[DP]], %[[A]] : tensor<2x3x5x5xf32>
// CHECK-NOT: conv2d_relu_pool_backward
// CHECK: return %[[P]], %[[DR]]
func.func @relu_gradient_returned(%x: tensor<2x1x9x9xf32>, %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>, %g: tensor<2x3x2x2xf32>)
    -> (tensor<2x3x2x2xf32>, tensor<2x3x5x5xf32>) {
  %c = kiln.conv2d %x, %w, %b {stride = 2, padding = 1} : (tensor<2x1x9x9xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x5x5xf32>
  %r = kiln.relu %c : tensor<2x3x5x5xf32>
  %p = kiln.max_pool2d %r {kernel = 3, stride = 2} : tensor<2x3x5x5xf32> -> tensor<2x3x2x2xf32>
  %dp = kiln.max_pool2d_backward %g, %r {kernel = 3, stride = 2} : tensor<2x3x2x2xf32>, tensor<2x3x5x5xf32> -> tensor<2x3x5x5xf32>
  %dr = kiln.relu_backward %dp, %c : tensor<2x3x5x5xf32>
  %dw = kiln.conv2d_backward_filter %dr, %x {stride = 2, padding = 1} : tensor<2x3x5x5xf32>, tensor<2x1x9x9xf32> -> tensor<3x1x3x3xf32>
  return %p, %dr : tensor<2x3x2x2xf32>, tensor<2x3x5x5xf32>
}

// -----

// Without a bias the weight gradient alone fuses; a 12x12 window has more
// positions than i8 holds, so the arg-max is i32.
// CHECK-LABEL: func.func @wide_window_no_bias
// CHECK: %[[P:.*]], %{{.*}}, %[[I:.*]] = kiln.conv2d_relu_pool %arg0, %arg1 {pool_kernel = 12 : i64, pool_stride = 12 : i64} : (tensor<1x1x14x14xf32>, tensor<2x1x3x3xf32>) -> (tensor<1x2x1x1xf32>, tensor<1x2x12x12xf32>, tensor<1x2x1x1xi32>)
// CHECK: %{{.*}}, %[[DW:.*]], %{{.*}} = kiln.conv2d_relu_pool_backward %arg2, %[[I]], %arg0, %arg1
// CHECK: return %[[P]], %[[DW]]
func.func @wide_window_no_bias(%x: tensor<1x1x14x14xf32>, %w: tensor<2x1x3x3xf32>, %g: tensor<1x2x1x1xf32>)
    -> (tensor<1x2x1x1xf32>, tensor<2x1x3x3xf32>) {
  %c = kiln.conv2d %x, %w : (tensor<1x1x14x14xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x12x12xf32>
  %r = kiln.relu %c : tensor<1x2x12x12xf32>
  %p = kiln.max_pool2d %r {kernel = 12, stride = 12} : tensor<1x2x12x12xf32> -> tensor<1x2x1x1xf32>
  %dp = kiln.max_pool2d_backward %g, %r {kernel = 12, stride = 12} : tensor<1x2x1x1xf32>, tensor<1x2x12x12xf32> -> tensor<1x2x12x12xf32>
  %dr = kiln.relu_backward %dp, %r : tensor<1x2x12x12xf32>
  %dw = kiln.conv2d_backward_filter %dr, %x : tensor<1x2x12x12xf32>, tensor<1x1x14x14xf32> -> tensor<2x1x3x3xf32>
  return %p, %dw : tensor<1x2x1x1xf32>, tensor<2x1x3x3xf32>
}

// -----

// A convolution output read by anything else stays unfused.
// CHECK-LABEL: func.func @shared_conv
// CHECK: kiln.conv2d %
// CHECK: kiln.relu %
// CHECK: kiln.max_pool2d %
// CHECK-NOT: kiln.conv2d_relu_pool
func.func @shared_conv(%x: tensor<1x1x6x6xf32>, %w: tensor<2x1x3x3xf32>)
    -> (tensor<1x2x2x2xf32>, tensor<1x2x4x4xf32>) {
  %c = kiln.conv2d %x, %w : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32>
  %r = kiln.relu %c : tensor<1x2x4x4xf32>
  %p = kiln.max_pool2d %r {kernel = 2, stride = 2} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %e = kiln.exp %c : tensor<1x2x4x4xf32>
  return %p, %e : tensor<1x2x2x2xf32>, tensor<1x2x4x4xf32>
}

// -----

// Linear layers: matmul by transposed weights, the broadcast bias add and
// relu become one kiln.linear; the relu gradient masks with its output, and
// fuses with the bias gradient's sum over the rows. The last layer has no
// relu, so its bias sum stays.
// CHECK-LABEL: func.func @linear_layers
// CHECK-NEXT: %[[H:.*]] = kiln.linear %arg0, %arg1, %arg2 {relu = true} : (tensor<4x8xf32>, tensor<6x8xf32>, tensor<6xf32>) -> tensor<4x6xf32>
// CHECK-NEXT: %[[Y:.*]] = kiln.linear %[[H]], %arg3, %arg4 : (tensor<4x6xf32>, tensor<3x6xf32>, tensor<3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT: %[[DB2:.*]] = kiln.sum %arg5 {axes = array<i64: 0>}
// CHECK-NEXT: %[[DH:.*]] = kiln.matmul %arg5, %arg3
// CHECK-NEXT: %[[DA:.*]], %[[DB1:.*]] = kiln.bias_relu_backward %[[DH]], %[[H]] : tensor<4x6xf32> -> tensor<6xf32>
// CHECK-NEXT: %[[DW1:.*]] = kiln.matmul %[[DA]], %arg0 {transpose_lhs = true}
// CHECK-NEXT: return %[[Y]], %[[DW1]], %[[DB1]], %[[DB2]]
func.func @linear_layers(%x: tensor<4x8xf32>, %w1: tensor<6x8xf32>, %b1: tensor<6xf32>,
                         %w2: tensor<3x6xf32>, %b2: tensor<3xf32>, %dy: tensor<4x3xf32>)
    -> (tensor<4x3xf32>, tensor<6x8xf32>, tensor<6xf32>, tensor<3xf32>) {
  %m1 = kiln.matmul %x, %w1 {transpose_rhs = true} : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %bb1 = kiln.broadcast %b1 : tensor<6xf32> -> tensor<4x6xf32>
  %a1 = kiln.add %m1, %bb1 : tensor<4x6xf32>
  %h = kiln.relu %a1 : tensor<4x6xf32>
  %m2 = kiln.matmul %h, %w2 {transpose_rhs = true} : tensor<4x6xf32>, tensor<3x6xf32> -> tensor<4x3xf32>
  %bb2 = kiln.broadcast %b2 : tensor<3xf32> -> tensor<4x3xf32>
  %y = kiln.add %bb2, %m2 : tensor<4x3xf32>
  %db2 = kiln.sum %dy {axes = array<i64: 0>} : tensor<4x3xf32> -> tensor<3xf32>
  %dh = kiln.matmul %dy, %w2 : tensor<4x3xf32>, tensor<3x6xf32> -> tensor<4x6xf32>
  %da = kiln.relu_backward %dh, %a1 : tensor<4x6xf32>
  %db1 = kiln.sum %da {axes = array<i64: 0>} : tensor<4x6xf32> -> tensor<6xf32>
  %dw1 = kiln.matmul %da, %x {transpose_lhs = true} : tensor<4x6xf32>, tensor<4x8xf32> -> tensor<6x8xf32>
  return %y, %dw1, %db1, %db2 : tensor<4x3xf32>, tensor<6x8xf32>, tensor<6xf32>, tensor<3xf32>
}

// -----

// A product read elsewhere, an untransposed one, and one with nothing to
// fuse stay matmuls; a relu without a bias still fuses.
// CHECK-LABEL: func.func @linear_left_alone
// CHECK-NEXT: %[[M:.*]] = kiln.matmul %arg0, %arg1 {transpose_rhs = true}
// CHECK-NEXT: kiln.broadcast
// CHECK-NEXT: kiln.add %[[M]]
// CHECK-NEXT: kiln.matmul %arg0, %arg3 :
// CHECK-NEXT: kiln.broadcast
// CHECK-NEXT: kiln.add
// CHECK-NEXT: kiln.matmul %arg0, %arg1 {transpose_rhs = true}
// CHECK-NEXT: kiln.linear %arg0, %arg1 {relu = true} : (tensor<4x8xf32>, tensor<6x8xf32>) -> tensor<4x6xf32>
func.func @linear_left_alone(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>, %v: tensor<8x6xf32>)
    -> (tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>) {
  %m = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %bb = kiln.broadcast %b : tensor<6xf32> -> tensor<4x6xf32>
  %a = kiln.add %m, %bb : tensor<4x6xf32>
  %n = kiln.matmul %x, %v : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %bn = kiln.broadcast %b : tensor<6xf32> -> tensor<4x6xf32>
  %an = kiln.add %n, %bn : tensor<4x6xf32>
  %bare = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %o = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x8xf32>, tensor<6x8xf32> -> tensor<4x6xf32>
  %r = kiln.relu %o : tensor<4x6xf32>
  return %m, %a, %an, %bare, %r : tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>
}
