// RUN: kiln-opt %s -split-input-file --kiln-fuse | FileCheck %s

// The forward chain becomes one op; the relu gradient's mask switches from
// the convolution output to the fused op's activation.
// CHECK-LABEL: func.func @train_chain
// CHECK-NOT: kiln.conv2d %
// CHECK-NOT: kiln.relu %
// CHECK-NOT: kiln.max_pool2d %
// CHECK: %[[P:.*]], %[[A:.*]] = kiln.conv2d_relu_pool %arg0, %arg1, %arg2 {pool_kernel = 2 : i64, pool_stride = 2 : i64} : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>)
// CHECK: %[[DP:.*]] = kiln.max_pool2d_backward %arg3, %[[A]] {kernel = 2 : i64, stride = 2 : i64}
// CHECK: %[[DR:.*]] = kiln.relu_backward %[[DP]], %[[A]] : tensor<2x3x6x6xf32>
// CHECK: return %[[P]], %[[DR]]
func.func @train_chain(%x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>, %g: tensor<2x3x3x3xf32>)
    -> (tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>) {
  %c = kiln.conv2d %x, %w, %b : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x6x6xf32>
  %r = kiln.relu %c : tensor<2x3x6x6xf32>
  %p = kiln.max_pool2d %r {kernel = 2, stride = 2} : tensor<2x3x6x6xf32> -> tensor<2x3x3x3xf32>
  %dp = kiln.max_pool2d_backward %g, %r {kernel = 2, stride = 2} : tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32> -> tensor<2x3x6x6xf32>
  %dr = kiln.relu_backward %dp, %c : tensor<2x3x6x6xf32>
  return %p, %dr : tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>
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
