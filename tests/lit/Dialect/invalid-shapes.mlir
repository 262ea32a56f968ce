// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// A kernel larger than the input must not verify, even when truncating
// division makes the output size come out positive.
func.func @conv_kernel_too_big(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x5x5xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{'kiln.conv2d' op kernel of weight 'tensor<1x1x5x5xf32>' does not fit the padded input 'tensor<1x1x4x4xf32>'}}
  %y = kiln.conv2d %x, %w {stride = 2, padding = 0} : (tensor<1x1x4x4xf32>, tensor<1x1x5x5xf32>) -> tensor<1x1x1x1xf32>
  return %y : tensor<1x1x1x1xf32>
}

// -----

func.func @pool_window_too_big(%x: tensor<1x1x3x3xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{'kiln.max_pool2d' op pooling window 4 is larger than the input 'tensor<1x1x3x3xf32>'}}
  %y = kiln.max_pool2d %x {kernel = 4, stride = 2} : tensor<1x1x3x3xf32> -> tensor<1x1x1x1xf32>
  return %y : tensor<1x1x1x1xf32>
}

// -----

// Shapes are static: a dynamic size would become a loop bound of -2^63.
func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'kiln.neg' op operand #0 must be statically shaped tensor of 32-bit float or 64-bit float values}}
  %y = kiln.neg %x : tensor<?xf32>
  return %y : tensor<?xf32>
}

// -----

func.func @mixed_conv(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x3x3xf64>) -> tensor<1x1x2x2xf32> {
  // expected-error @+1 {{'kiln.conv2d' op input 'tensor<1x1x4x4xf32>', weight 'tensor<1x1x3x3xf64>' and output 'tensor<1x1x2x2xf32>' must have one element type}}
  %y = kiln.conv2d %x, %w : (tensor<1x1x4x4xf32>, tensor<1x1x3x3xf64>) -> tensor<1x1x2x2xf32>
  return %y : tensor<1x1x2x2xf32>
}

// -----

func.func @mixed_matmul(%a: tensor<2x3xf32>, %b: tensor<3x4xf64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'kiln.matmul' op operands 'tensor<2x3xf32>', 'tensor<3x4xf64>' and result 'tensor<2x4xf32>' must have one element type}}
  %c = kiln.matmul %a, %b : tensor<2x3xf32>, tensor<3x4xf64> -> tensor<2x4xf32>
  return %c : tensor<2x4xf32>
}

// -----

func.func @mixed_sum(%x: tensor<2x3xf32>) -> tensor<3xf64> {
  // expected-error @+1 {{'kiln.sum' op mixes element types: 'tensor<2x3xf32>' and 'tensor<3xf64>'}}
  %s = kiln.sum %x {axes = array<i64: 0>} : tensor<2x3xf32> -> tensor<3xf64>
  return %s : tensor<3xf64>
}
