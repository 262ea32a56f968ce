// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// The ops kiln-fuse makes survive a print/parse round trip.

// CHECK-LABEL: func.func @fused_ops
// CHECK: %{{.*}}, %{{.*}}, %[[I:.*]] = kiln.conv2d_relu_pool %arg0, %arg1, %arg2 {padding = 1 : i64, pool_kernel = 3 : i64, pool_stride = 2 : i64} : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x8x8xf32>, tensor<2x3x3x3xi32>)
// CHECK: kiln.conv2d_relu_pool_backward %arg3, %[[I]], %arg0, %arg1 {padding = 1 : i64, pool_kernel = 3 : i64, pool_stride = 2 : i64} : (tensor<2x3x3x3xf32>, tensor<2x3x3x3xi32>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>)
// CHECK: %[[H:.*]] = kiln.linear %arg4, %arg5, %arg6 {relu = true} : (tensor<4x8xf32>, tensor<6x8xf32>, tensor<6xf32>) -> tensor<4x6xf32>
// CHECK: kiln.linear %arg4, %arg5 : (tensor<4x8xf32>, tensor<6x8xf32>) -> tensor<4x6xf32>
// CHECK: kiln.bias_relu_backward %arg7, %[[H]] : tensor<4x6xf32> -> tensor<6xf32>
func.func @fused_ops(%x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>,
                     %g: tensor<2x3x3x3xf32>, %v: tensor<4x8xf32>, %fw: tensor<6x8xf32>,
                     %fb: tensor<6xf32>, %dh: tensor<4x6xf32>) {
  %p, %a, %i = kiln.conv2d_relu_pool %x, %w, %b {padding = 1, pool_kernel = 3, pool_stride = 2}
      : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>)
        -> (tensor<2x3x3x3xf32>, tensor<2x3x8x8xf32>, tensor<2x3x3x3xi32>)
  %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w {padding = 1, pool_kernel = 3, pool_stride = 2}
      : (tensor<2x3x3x3xf32>, tensor<2x3x3x3xi32>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>)
        -> (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>)
  %h = kiln.linear %v, %fw, %fb {relu = true} : (tensor<4x8xf32>, tensor<6x8xf32>, tensor<6xf32>) -> tensor<4x6xf32>
  %y = kiln.linear %v, %fw : (tensor<4x8xf32>, tensor<6x8xf32>) -> tensor<4x6xf32>
  %da, %dfb = kiln.bias_relu_backward %dh, %h : tensor<4x6xf32> -> tensor<6xf32>
  return
}
