// RUN: kiln-opt %s --kiln-autodiff --kiln-optimizer-step="lr=0.01 momentum=0.9" | FileCheck %s
// RUN: kiln-opt %s --kiln-autodiff --kiln-optimizer-step="lr=0.1 momentum=0.5 nesterov=true weight-decay=0.0005" | FileCheck %s --check-prefix=NESTEROV
// RUN: not kiln-opt %s --kiln-optimizer-step 2>&1 | FileCheck %s --check-prefix=NOGRAD
// RUN: not kiln-opt %s --kiln-autodiff --kiln-optimizer-step="optimizer=lamb" 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// @train_step takes the parameters (in argument order), one momentum buffer
// per parameter, the step counter, then the data inputs with their attributes;
// it returns the loss, the new parameters and the new buffers, each updated
// result naming the argument it overwrites.

// CHECK-LABEL: func.func @loss_grad(
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<10x8xf32> {kiln.param = "fc.weight"},
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<10xf32> {kiln.param = "fc.bias"},
// CHECK-SAME: %[[MW:[a-z0-9]+]]: tensor<10x8xf32> {kiln.state = "momentum_buffer.fc.weight"},
// CHECK-SAME: %[[MB:[a-z0-9]+]]: tensor<10xf32> {kiln.state = "momentum_buffer.fc.bias"},
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64> {kiln.state = "step"},
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<4x8xf32>,
// CHECK-SAME: %[[L:[a-z0-9]+]]: tensor<4xi64> {kiln.input = "labels"})
// CHECK-SAME: -> (tensor<f32>, tensor<10x8xf32> {kiln.updates = 0 : i64}, tensor<10xf32> {kiln.updates = 1 : i64}, tensor<10x8xf32> {kiln.updates = 2 : i64}, tensor<10xf32> {kiln.updates = 3 : i64})
// CHECK: kiln.matmul %[[X]], %[[W]] {transpose_rhs = true}
// CHECK: %[[LOSS:.*]] = kiln.softmax_cross_entropy %{{.*}}, %[[L]]
// CHECK: %[[DZ:.*]] = kiln.softmax_cross_entropy_backward
// CHECK-DAG: %[[DB:.*]] = kiln.sum %[[DZ]] {axes = array<i64: 0>}
// CHECK-DAG: %[[DW:.*]] = kiln.matmul %[[DZ]], %[[X]] {transpose_lhs = true}
// CHECK: %[[NW:.*]], %[[NMW:.*]] = kiln.sgd_update %[[W]], %[[DW]], %[[MW]], %[[STEP]] {lr = 1.000000e-02 : f64, momentum = 9.000000e-01 : f64} : tensor<10x8xf32>, tensor<i64>
// CHECK-NEXT: %[[NB:.*]], %[[NMB:.*]] = kiln.sgd_update %[[B]], %[[DB]], %[[MB]], %[[STEP]] {lr = 1.000000e-02 : f64, momentum = 9.000000e-01 : f64} : tensor<10xf32>, tensor<i64>
// CHECK-NEXT: return %[[LOSS]], %[[NW]], %[[NB]], %[[NMW]], %[[NMB]] : tensor<f32>, tensor<10x8xf32>, tensor<10xf32>, tensor<10x8xf32>, tensor<10xf32>

// NESTEROV-COUNT-2: kiln.sgd_update {{.*}} {lr = 1.000000e-01 : f64, momentum = 5.000000e-01 : f64, nesterov = true, weight_decay = 5.000000e-04 : f64}

// NOGRAD: error: kiln-optimizer-step needs exactly one gradient function (made by kiln-autodiff), found 0
// UNKNOWN: error: unknown optimizer 'lamb'; this pass knows: sgd, adam, rmsprop

func.func @loss(%x: tensor<4x8xf32>, %w: tensor<10x8xf32> {kiln.param = "fc.weight"},
                %labels: tensor<4xi64> {kiln.input = "labels"},
                %b: tensor<10xf32> {kiln.param = "fc.bias"}) -> tensor<f32>
    attributes {kiln.differentiate} {
  %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x8xf32>, tensor<10x8xf32> -> tensor<4x10xf32>
  %bb = kiln.broadcast %b : tensor<10xf32> -> tensor<4x10xf32>
  %z = kiln.add %y, %bb : tensor<4x10xf32>
  %l = kiln.softmax_cross_entropy %z, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}
