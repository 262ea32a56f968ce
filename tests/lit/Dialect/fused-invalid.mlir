// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// One case per verifier failure of the ops kiln-fuse makes.

func.func @indices_wrong_shape(%x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d_relu_pool' op indices 'tensor<2x3x6x6xi8>' must have the pooled shape 'tensor<2x3x3x3xf32>'}}
  %p, %a, %i = kiln.conv2d_relu_pool %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>, tensor<2x3x6x6xi8>)
  return
}

// -----

func.func @i8_indices_wide_window(%x: tensor<1x1x14x14xf32>, %w: tensor<2x1x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d_relu_pool' op i8 indices cannot name the 144 positions of a 12x12 window; use i32}}
  %p, %a, %i = kiln.conv2d_relu_pool %x, %w {pool_kernel = 12, pool_stride = 12} : (tensor<1x1x14x14xf32>, tensor<2x1x3x3xf32>) -> (tensor<1x2x1x1xf32>, tensor<1x2x12x12xf32>, tensor<1x2x1x1xi8>)
  return
}

// -----

func.func @indices_float(%x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>) {
  // expected-error @+1 {{result #2 must be statically shaped tensor of 8-bit signless integer or 32-bit signless integer values}}
  %p, %a, %i = kiln.conv2d_relu_pool %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x6x6xf32>, tensor<2x3x3x3xf32>)
  return
}

// -----

func.func @backward_grad_not_pooled(%g: tensor<2x3x6x6xf32>, %i: tensor<2x3x6x6xi8>, %x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d_relu_pool_backward' op pooling 'tensor<2x3x6x6xf32>' with kernel 2 and stride 2 gives 2x3x3x3, not 'tensor<2x3x6x6xf32>'}}
  %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<2x3x6x6xf32>, tensor<2x3x6x6xi8>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>)
  return
}

// -----

func.func @backward_wrong_gradient_types(%g: tensor<2x3x3x3xf32>, %i: tensor<2x3x3x3xi8>, %x: tensor<2x1x8x8xf32>, %w: tensor<3x1x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d_relu_pool_backward' op gradients 'tensor<2x1x8x8xf32>', 'tensor<3x1x3x3xf32>' and 'tensor<2xf32>' should be 'tensor<2x1x8x8xf32>', 'tensor<3x1x3x3xf32>' and 'tensor<3xf32>'}}
  %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<2x3x3x3xf32>, tensor<2x3x3x3xi8>, tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>) -> (tensor<2x1x8x8xf32>, tensor<3x1x3x3xf32>, tensor<2xf32>)
  return
}

// -----

func.func @backward_kernel_too_big(%g: tensor<1x1x1x1xf32>, %i: tensor<1x1x1x1xi8>, %x: tensor<1x1x3x3xf32>, %w: tensor<1x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d_relu_pool_backward' op kernel of weight 'tensor<1x1x5x5xf32>' does not fit the padded input 'tensor<1x1x3x3xf32>'}}
  %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w {pool_kernel = 1, pool_stride = 1} : (tensor<1x1x1x1xf32>, tensor<1x1x1x1xi8>, tensor<1x1x3x3xf32>, tensor<1x1x5x5xf32>) -> (tensor<1x1x3x3xf32>, tensor<1x1x5x5xf32>, tensor<1xf32>)
  return
}

// -----

func.func @linear_mismatch(%x: tensor<4x8xf32>, %w: tensor<6x7xf32>) {
  // expected-error @+1 {{'kiln.linear' op input 'tensor<4x8xf32>' and weight 'tensor<6x7xf32>' (one row per output) do not give 'tensor<4x6xf32>'}}
  %y = kiln.linear %x, %w : (tensor<4x8xf32>, tensor<6x7xf32>) -> tensor<4x6xf32>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{'kiln.linear' op bias 'tensor<5xf32>' should hold one value per row of weight 'tensor<6x8xf32>'}}
  %y = kiln.linear %x, %w, %b : (tensor<4x8xf32>, tensor<6x8xf32>, tensor<5xf32>) -> tensor<4x6xf32>
  return
}

// -----

func.func @bias_relu_backward_sum_shape(%g: tensor<4x6xf32>, %h: tensor<4x6xf32>) {
  // expected-error @+1 {{'kiln.bias_relu_backward' op bias gradient 'tensor<4xf32>' should be 'tensor<6xf32>'}}
  %d, %db = kiln.bias_relu_backward %g, %h : tensor<4x6xf32> -> tensor<4xf32>
  return
}

// -----

func.func @bias_relu_backward_rank(%g: tensor<4x6x2xf32>, %h: tensor<4x6x2xf32>) {
  // expected-error @+1 {{'kiln.bias_relu_backward' op expects 2-D grad, input and result of one type, got 'tensor<4x6x2xf32>', 'tensor<4x6x2xf32>' and 'tensor<4x6x2xf32>'}}
  %d, %db = kiln.bias_relu_backward %g, %h : tensor<4x6x2xf32> -> tensor<6xf32>
  return
}
