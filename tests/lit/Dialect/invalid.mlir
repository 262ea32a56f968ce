// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// One case per verifier failure; each message names the offending shapes.

func.func @conv_channel_mismatch(%x: tensor<4x3x32x32xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op input 'tensor<4x3x32x32xf32>' has 3 channels but weight 'tensor<6x1x5x5xf32>' expects 1}}
  %y = kiln.conv2d %x, %w : (tensor<4x3x32x32xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x28x28xf32>
  return
}

// -----

func.func @conv_wrong_output(%x: tensor<4x1x32x32xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op output 'tensor<4x6x32x32xf32>' should be 4x6x28x28 for input 'tensor<4x1x32x32xf32>' and weight 'tensor<6x1x5x5xf32>'}}
  %y = kiln.conv2d %x, %w : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x32x32xf32>
  return
}

// -----

func.func @conv_bias_size(%x: tensor<4x1x32x32xf32>, %w: tensor<6x1x5x5xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op bias 'tensor<16xf32>' should hold one value per output channel of weight 'tensor<6x1x5x5xf32>'}}
  %y = kiln.conv2d %x, %w, %b : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>, tensor<16xf32>) -> tensor<4x6x28x28xf32>
  return
}

// -----

func.func @conv_bad_stride(%x: tensor<4x1x32x32xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op needs stride >= 1 and padding >= 0, got stride 0 and padding 0}}
  %y = kiln.conv2d %x, %w {stride = 0} : (tensor<4x1x32x32xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x28x28xf32>
  return
}

// -----

func.func @conv_kernel_too_big(%x: tensor<1x1x3x3xf32>, %w: tensor<1x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op kernel of weight 'tensor<1x1x5x5xf32>' does not fit the padded input 'tensor<1x1x3x3xf32>'}}
  %y = kiln.conv2d %x, %w : (tensor<1x1x3x3xf32>, tensor<1x1x5x5xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @conv_backward_input_shape(%dy: tensor<4x6x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{'kiln.conv2d_backward_input' op output 'tensor<4x6x28x28xf32>' should be 4x6x26x26 for input 'tensor<4x1x30x30xf32>' and weight 'tensor<6x1x5x5xf32>'}}
  %dx = kiln.conv2d_backward_input %dy, %w : tensor<4x6x28x28xf32>, tensor<6x1x5x5xf32> -> tensor<4x1x30x30xf32>
  return
}

// -----

func.func @pool_output_shape(%x: tensor<4x6x28x28xf32>) {
  // expected-error @+1 {{'kiln.max_pool2d' op pooling 'tensor<4x6x28x28xf32>' with kernel 2 and stride 2 gives 4x6x14x14, not 'tensor<4x6x13x13xf32>'}}
  %p = kiln.max_pool2d %x {kernel = 2, stride = 2} : tensor<4x6x28x28xf32> -> tensor<4x6x13x13xf32>
  return
}

// -----

func.func @pool_bad_kernel(%x: tensor<4x6x28x28xf32>) {
  // expected-error @+1 {{'kiln.max_pool2d' op needs kernel >= 1 and stride >= 1, got kernel 0 and stride 2}}
  %p = kiln.max_pool2d %x {kernel = 0, stride = 2} : tensor<4x6x28x28xf32> -> tensor<4x6x14x14xf32>
  return
}

// -----

func.func @matmul_inner_dim(%x: tensor<4x400xf32>, %w: tensor<400x120xf32>) {
  // expected-error @+1 {{'kiln.matmul' op inner dimensions differ: 'tensor<4x400xf32>' has 400, 'tensor<400x120xf32>' (transposed) has 120}}
  %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x400xf32>, tensor<400x120xf32> -> tensor<4x400xf32>
  return
}

// -----

func.func @matmul_result_shape(%x: tensor<4x400xf32>, %w: tensor<400x120xf32>) {
  // expected-error @+1 {{'kiln.matmul' op result 'tensor<4x400xf32>' should be 4x120}}
  %y = kiln.matmul %x, %w : tensor<4x400xf32>, tensor<400x120xf32> -> tensor<4x400xf32>
  return
}

// -----

func.func @matmul_rank(%x: tensor<4x400xf32>, %v: tensor<400xf32>) {
  // expected-error @+1 {{'kiln.matmul' op expects 2-D operands and result, got 'tensor<4x400xf32>', 'tensor<400xf32>' -> 'tensor<4xf32>'}}
  %y = kiln.matmul %x, %v : tensor<4x400xf32>, tensor<400xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reshape_element_count(%x: tensor<4x16x5x5xf32>) {
  // expected-error @+1 {{'kiln.reshape' op cannot reshape 'tensor<4x16x5x5xf32>' (1600 elements) to 'tensor<4x399xf32>' (1596 elements)}}
  %y = kiln.reshape %x : tensor<4x16x5x5xf32> -> tensor<4x399xf32>
  return
}

// -----

func.func @transpose_repeated_axis(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.transpose' op axis 0 is listed twice}}
  %y = kiln.transpose %x {permutation = array<i64: 0, 0>} : tensor<4x10xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @transpose_wrong_length(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.transpose' op permutation has 3 entries but the input 'tensor<4x10xf32>' has rank 2}}
  %y = kiln.transpose %x {permutation = array<i64: 1, 0, 2>} : tensor<4x10xf32> -> tensor<10x4xf32>
  return
}

// -----

func.func @transpose_wrong_result(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.transpose' op result 'tensor<4x10xf32>' is not input 'tensor<4x10xf32>' permuted by [1, 0]}}
  %y = kiln.transpose %x {permutation = array<i64: 1, 0>} : tensor<4x10xf32> -> tensor<4x10xf32>
  return
}

// -----

func.func @broadcast_incompatible(%b: tensor<3xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op cannot broadcast 'tensor<3xf32>' to 'tensor<4x10xf32>': dimension 0 is 3, not 1 or 10}}
  %y = kiln.broadcast %b : tensor<3xf32> -> tensor<4x10xf32>
  return
}

// -----

func.func @broadcast_lower_rank(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op cannot broadcast 'tensor<4x10xf32>' to the lower-rank 'tensor<10xf32>'}}
  %y = kiln.broadcast %x : tensor<4x10xf32> -> tensor<10xf32>
  return
}

// -----

func.func @reduction_bad_axis(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.sum' op axis 2 is out of range for a rank-2 input}}
  %s = kiln.sum %x {axes = array<i64: 2>} : tensor<4x10xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reduction_negative_axis(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.max' op axis -1 is out of range for a rank-2 input}}
  %s = kiln.max %x {axes = array<i64: -1>} : tensor<4x10xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reduction_duplicate_axis(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.mean' op axis 1 is listed twice}}
  %s = kiln.mean %x {axes = array<i64: 1, 1>} : tensor<4x10xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reduction_result_shape(%x: tensor<4x6x28x28xf32>) {
  // expected-error @+1 {{'kiln.sum' op reducing 'tensor<4x6x28x28xf32>' over axes [0, 2, 3] gives shape [6], not 'tensor<1x6x1x1xf32>'}}
  %s = kiln.sum %x {axes = array<i64: 0, 2, 3>} : tensor<4x6x28x28xf32> -> tensor<1x6x1x1xf32>
  return
}

// -----

func.func @reduction_keepdim_shape(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.mean' op reducing 'tensor<4x10xf32>' over axes [1] with keepdim gives shape [4, 1], not 'tensor<4xf32>'}}
  %s = kiln.mean %x {axes = array<i64: 1>, keepdim = true} : tensor<4x10xf32> -> tensor<4xf32>
  return
}

// -----

func.func @max_backward_result(%dy: tensor<4xf32>, %x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.max_backward' op result 'tensor<10x4xf32>' must match the input 'tensor<4x10xf32>'}}
  %dx = kiln.max_backward %dy, %x {axes = array<i64: 1>} : tensor<4xf32>, tensor<4x10xf32> -> tensor<10x4xf32>
  return
}

// -----

func.func @cross_entropy_labels_mismatch(%logits: tensor<4x10xf32>, %labels: tensor<8xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy' op expects logits [N, C] and labels [N], got 'tensor<4x10xf32>' and 'tensor<8xi64>'}}
  %l = kiln.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<8xi64> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_loss_type(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy' op loss 'tensor<f64>' must be 'tensor<f32>' for reduction mean over 'tensor<4x10xf32>'}}
  %l = kiln.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f64>
  return
}

// -----

func.func @cross_entropy_backward_result(%g: tensor<f32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy_backward' op result 'tensor<4x5xf32>' must match the logits 'tensor<4x10xf32>'}}
  %d = kiln.softmax_cross_entropy_backward %g, %logits, %labels : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x5xf32>
  return
}

// -----

// The custom syntax names one type for both operands, so the mismatch needs
// the generic form; the AllTypesMatch constraint reports it.
func.func @mse_type_mismatch(%out: tensor<1x10xf32>, %target: tensor<10xf32>) {
  // expected-error @+1 {{'kiln.mse_loss' op failed to verify that all of {input, target} have same type}}
  %l = "kiln.mse_loss"(%out, %target) : (tensor<1x10xf32>, tensor<10xf32>) -> tensor<f32>
  return
}

// -----

func.func @mse_loss_type(%out: tensor<1x10xf32>, %target: tensor<1x10xf32>) {
  // expected-error @+1 {{'kiln.mse_loss' op loss 'tensor<f64>' must be 'tensor<f32>' for reduction mean over 'tensor<1x10xf32>'}}
  %l = kiln.mse_loss %out, %target : tensor<1x10xf32> -> tensor<f64>
  return
}

// -----

func.func @cross_entropy_none_scalar(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy' op loss 'tensor<f32>' must be 'tensor<4xf32>' for reduction none over 'tensor<4x10xf32>'}}
  %l = kiln.softmax_cross_entropy none %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_sum_per_sample(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy' op loss 'tensor<4xf32>' must be 'tensor<f32>' for reduction sum over 'tensor<4x10xf32>'}}
  %l = kiln.softmax_cross_entropy sum %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
  return
}

// -----

func.func @cross_entropy_backward_none_scalar_grad(%g: tensor<f32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy_backward' op loss gradient 'tensor<f32>' must be 'tensor<4xf32>' for reduction none over 'tensor<4x10xf32>'}}
  %d = kiln.softmax_cross_entropy_backward none %g, %logits, %labels : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return
}

// -----

func.func @cross_entropy_backward_mean_vector_grad(%g: tensor<4xf32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy_backward' op loss gradient 'tensor<4xf32>' must be 'tensor<f32>' for reduction mean over 'tensor<4x10xf32>'}}
  %d = kiln.softmax_cross_entropy_backward %g, %logits, %labels : tensor<4xf32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return
}

// -----

func.func @cross_entropy_backward_grad_element_type(%g: tensor<f64>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.softmax_cross_entropy_backward' op loss gradient 'tensor<f64>' must be 'tensor<f32>' for reduction sum over 'tensor<4x10xf32>'}}
  %d = kiln.softmax_cross_entropy_backward sum %g, %logits, %labels : tensor<f64>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return
}

// -----

func.func @mse_none_wrong_shape(%out: tensor<2x5xf32>, %target: tensor<2x5xf32>) {
  // expected-error @+1 {{'kiln.mse_loss' op loss 'tensor<10xf32>' must be 'tensor<2x5xf32>' for reduction none over 'tensor<2x5xf32>'}}
  %l = kiln.mse_loss none %out, %target : tensor<2x5xf32> -> tensor<10xf32>
  return
}

// -----

func.func @mse_sum_not_scalar(%out: tensor<2x5xf32>, %target: tensor<2x5xf32>) {
  // expected-error @+1 {{'kiln.mse_loss' op loss 'tensor<2x5xf32>' must be 'tensor<f32>' for reduction sum over 'tensor<2x5xf32>'}}
  %l = kiln.mse_loss sum %out, %target : tensor<2x5xf32> -> tensor<2x5xf32>
  return
}

// -----

func.func @mse_unknown_reduction(%out: tensor<2x5xf32>, %target: tensor<2x5xf32>) {
  // expected-error @+1 {{'kiln.mse_loss' op attribute 'reduction' failed to satisfy constraint: loss reduction (mean, sum or none)}}
  %l = "kiln.mse_loss"(%out, %target) {reduction = 7 : i32} : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<f32>
  return
}

// -----

func.func @sgd_nesterov_without_momentum(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.sgd_update' op nesterov needs momentum > 0 and dampening 0}}
  %p1, %m1 = kiln.sgd_update %p, %g, %m, %s {lr = 1.0e-02 : f64, nesterov = true} : tensor<6xf32>, tensor<i64>
  return
}

// -----

func.func @sgd_nesterov_with_dampening(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.sgd_update' op nesterov needs momentum > 0 and dampening 0}}
  %p1, %m1 = kiln.sgd_update %p, %g, %m, %s {lr = 1.0e-02 : f64, momentum = 9.0e-01 : f64, dampening = 1.0e-01 : f64, nesterov = true} : tensor<6xf32>, tensor<i64>
  return
}

// -----

func.func @sgd_negative_lr(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.sgd_update' op lr, momentum and weight_decay must be >= 0}}
  %p1, %m1 = kiln.sgd_update %p, %g, %m, %s {lr = -1.0e-02 : f64} : tensor<6xf32>, tensor<i64>
  return
}
