// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// kiln.rmsprop_update survives a print/parse round trip; the defaults (alpha
// 0.99, eps 1e-8, weight_decay 0, momentum 0, centered false) are elided.

// CHECK-LABEL: func.func @rmsprop
// CHECK-SAME: (%[[P:.*]]: tensor<6xf32>, %[[G:.*]]: tensor<6xf32>, %[[SQ:.*]]: tensor<6xf32>, %[[B:.*]]: tensor<6xf32>, %[[A:.*]]: tensor<6xf32>, %[[S:.*]]: tensor<i64>)
// CHECK: %[[NP:[a-z0-9_]+]], %[[NS:[a-z0-9_]+]], %[[NB:[a-z0-9_]+]], %[[NA:[a-z0-9_]+]] = kiln.rmsprop_update %[[P]], %[[G]], %[[SQ]], %[[B]], %[[A]], %[[S]] {lr = 1.000000e-02 : f64} : tensor<6xf32>, tensor<i64>
// CHECK: kiln.rmsprop_update %[[NP]], %[[G]], %[[NS]], %[[NB]], %[[NA]], %[[S]] {alpha = 9.000000e-01 : f64, centered = true, eps = 9.9999999999999995E-7 : f64, lr = 1.000000e-03 : f64, momentum = 5.000000e-01 : f64, weight_decay = 1.000000e-01 : f64} : tensor<6xf32>, tensor<i64>
func.func @rmsprop(%p: tensor<6xf32>, %g: tensor<6xf32>, %sq: tensor<6xf32>, %b: tensor<6xf32>,
                   %a: tensor<6xf32>, %step: tensor<i64>) {
  %p1, %sq1, %b1, %a1 = kiln.rmsprop_update %p, %g, %sq, %b, %a, %step {lr = 1.0e-02 : f64,
      alpha = 0.99 : f64, centered = false} : tensor<6xf32>, tensor<i64>
  %p2, %sq2, %b2, %a2 = kiln.rmsprop_update %p1, %g, %sq1, %b1, %a1, %step {lr = 1.0e-03 : f64,
      alpha = 0.9 : f64, eps = 1.0e-06 : f64, weight_decay = 0.1 : f64, momentum = 0.5 : f64,
      centered = true} : tensor<6xf32>, tensor<i64>
  return
}
