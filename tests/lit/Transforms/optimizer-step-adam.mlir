// RUN: kiln-opt %s --kiln-autodiff --kiln-optimizer-step="optimizer=adam lr=0.01 amsgrad=true weight-decay=0.1" | FileCheck %s
// RUN: kiln-opt %s --kiln-autodiff --kiln-optimizer-step="optimizer=rmsprop lr=0.01 momentum=0.9 centered=true" | FileCheck %s --check-prefix=RMSPROP

// With Adam, @train_step takes the parameters, then each of Adam's three
// states for every parameter (grouped by state), the step counter and the
// data; it returns the loss, the new parameters and the new states in the
// same order, each naming the argument it overwrites.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<3x4xf32> {kiln.param = "w"},
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<3xf32> {kiln.param = "b"},
// CHECK-SAME: %[[MW:[a-z0-9]+]]: tensor<3x4xf32> {kiln.state = "exp_avg.w"},
// CHECK-SAME: %[[MB:[a-z0-9]+]]: tensor<3xf32> {kiln.state = "exp_avg.b"},
// CHECK-SAME: %[[VW:[a-z0-9]+]]: tensor<3x4xf32> {kiln.state = "exp_avg_sq.w"},
// CHECK-SAME: %[[VB:[a-z0-9]+]]: tensor<3xf32> {kiln.state = "exp_avg_sq.b"},
// CHECK-SAME: %[[XW:[a-z0-9]+]]: tensor<3x4xf32> {kiln.state = "max_exp_avg_sq.w"},
// CHECK-SAME: %[[XB:[a-z0-9]+]]: tensor<3xf32> {kiln.state = "max_exp_avg_sq.b"},
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64> {kiln.state = "step"},
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x4xf32>,
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<2x3xf32> {kiln.input = "target"})
// CHECK-SAME: -> (tensor<f32>, tensor<3x4xf32> {kiln.updates = 0 : i64}, tensor<3xf32> {kiln.updates = 1 : i64}, tensor<3x4xf32> {kiln.updates = 2 : i64}, tensor<3xf32> {kiln.updates = 3 : i64}, tensor<3x4xf32> {kiln.updates = 4 : i64}, tensor<3xf32> {kiln.updates = 5 : i64}, tensor<3x4xf32> {kiln.updates = 6 : i64}, tensor<3xf32> {kiln.updates = 7 : i64})
// CHECK: %[[LOSS:.*]] = kiln.mse_loss
// CHECK: %[[PW:[a-z0-9_]+]], %[[EW:[a-z0-9_]+]], %[[SW:[a-z0-9_]+]], %[[MXW:[a-z0-9_]+]] = kiln.adam_update %[[W]], %{{.*}}, %[[MW]], %[[VW]], %[[XW]], %[[STEP]] {amsgrad = true, lr = 1.000000e-02 : f64, weight_decay = 1.000000e-01 : f64} : tensor<3x4xf32>, tensor<i64>
// CHECK-NEXT: %[[PB:[a-z0-9_]+]], %[[EB:[a-z0-9_]+]], %[[SB:[a-z0-9_]+]], %[[MXB:[a-z0-9_]+]] = kiln.adam_update %[[B]], %{{.*}}, %[[MB]], %[[VB]], %[[XB]], %[[STEP]] {amsgrad = true, lr = 1.000000e-02 : f64, weight_decay = 1.000000e-01 : f64} : tensor<3xf32>, tensor<i64>
// CHECK-NEXT: return %[[LOSS]], %[[PW]], %[[PB]], %[[EW]], %[[EB]], %[[SW]], %[[SB]], %[[MXW]], %[[MXB]] :

// RMSPROP-LABEL: func.func @train_step(
// RMSPROP-SAME: {kiln.state = "square_avg.w"}
// RMSPROP-SAME: {kiln.state = "square_avg.b"}
// RMSPROP-SAME: {kiln.state = "momentum_buffer.w"}
// RMSPROP-SAME: {kiln.state = "momentum_buffer.b"}
// RMSPROP-SAME: {kiln.state = "grad_avg.w"}
// RMSPROP-SAME: {kiln.state = "grad_avg.b"}
// RMSPROP-SAME: {kiln.state = "step"}
// RMSPROP-COUNT-2: kiln.rmsprop_update {{.*}} {centered = true, lr = 1.000000e-02 : f64, momentum = 9.000000e-01 : f64}

func.func @loss(%x: tensor<2x4xf32>, %w: tensor<3x4xf32> {kiln.param = "w"},
                %b: tensor<3xf32> {kiln.param = "b"},
                %target: tensor<2x3xf32> {kiln.input = "target"}) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  %bb = kiln.broadcast %b : tensor<3xf32> -> tensor<2x3xf32>
  %z = kiln.add %y, %bb : tensor<2x3xf32>
  %l = kiln.mse_loss %z, %target : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}
