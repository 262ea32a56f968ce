// RUN: not kiln-opt %s -split-input-file --kiln-autodiff 2>&1 | FileCheck %s
// Functions kiln-autodiff cannot differentiate are reported, naming the cause.

// CHECK: error: kiln-autodiff needs a scalar float loss, got 'tensor<3xf32>'
func.func @not_scalar(%w: tensor<3xf32> {kiln.param = "w"}) -> tensor<3xf32>
    attributes {kiln.differentiate} {
  %y = kiln.exp %w : tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// CHECK: error: kiln-autodiff needs a single-block function returning one scalar loss
func.func @two_results(%w: tensor<3xf32> {kiln.param = "w"}) -> (tensor<f32>, tensor<f32>)
    attributes {kiln.differentiate} {
  %l = kiln.sum %w {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
  return %l, %l : tensor<f32>, tensor<f32>
}

// -----

// CHECK: error: 'kiln.sgd_update' op has no gradient rule, but a parameter's gradient flows through it
func.func @no_rule(%w: tensor<6xf32> {kiln.param = "w"}, %g: tensor<6xf32>, %s: tensor<i64>)
    -> tensor<f32> attributes {kiln.differentiate} {
  %p, %m = kiln.sgd_update %w, %g, %g, %s {lr = 1.0e-02 : f64} : tensor<6xf32>, tensor<i64>
  %l = kiln.sum %p {axes = array<i64: 0>} : tensor<6xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// CHECK: error: parameter #0 is 'tensor<2xi64>'; only float parameters take gradients
func.func @int_param(%w: tensor<2xi64> {kiln.param = "w"}, %x: tensor<2xf32>) -> tensor<f32> attributes {kiln.differentiate} {
  %s = kiln.sum %x {axes = array<i64: 0>} : tensor<2xf32> -> tensor<f32>
  return %s : tensor<f32>
}
