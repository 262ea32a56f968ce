// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// kiln.adam_update survives a print/parse round trip; the defaults (beta1 0.9,
// beta2 0.999, eps 1e-8, weight_decay 0, amsgrad false) are elided.

// CHECK-LABEL: func.func @adam
// CHECK-SAME: (%[[P:.*]]: tensor<6xf32>, %[[G:.*]]: tensor<6xf32>, %[[M:.*]]: tensor<6xf32>, %[[V:.*]]: tensor<6xf32>, %[[VMAX:.*]]: tensor<6xf32>, %[[S:.*]]: tensor<i64>)
// CHECK: %[[NP:[a-z0-9_]+]], %[[NM:[a-z0-9_]+]], %[[NV:[a-z0-9_]+]], %[[NX:[a-z0-9_]+]] = kiln.adam_update %[[P]], %[[G]], %[[M]], %[[V]], %[[VMAX]], %[[S]] {lr = 1.000000e-03 : f64} : tensor<6xf32>, tensor<i64>
// CHECK: kiln.adam_update %[[NP]], %[[G]], %[[NM]], %[[NV]], %[[NX]], %[[S]] {amsgrad = true, beta1 = 8.000000e-01 : f64, beta2 = 9.000000e-01 : f64, eps = 9.9999999999999995E-7 : f64, lr = 1.000000e-02 : f64, weight_decay = 1.000000e-01 : f64} : tensor<6xf32>, tensor<i64>
func.func @adam(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %v: tensor<6xf32>,
                %vmax: tensor<6xf32>, %step: tensor<i64>) {
  %p1, %m1, %v1, %vmax1 = kiln.adam_update %p, %g, %m, %v, %vmax, %step {lr = 1.0e-03 : f64,
      beta1 = 0.9 : f64, beta2 = 0.999 : f64, eps = 1.0e-08 : f64}
      : tensor<6xf32>, tensor<i64>
  %p2, %m2, %v2, %vmax2 = kiln.adam_update %p1, %g, %m1, %v1, %vmax1, %step {lr = 1.0e-02 : f64,
      beta1 = 0.8 : f64, beta2 = 0.9 : f64, eps = 1.0e-06 : f64, weight_decay = 0.1 : f64,
      amsgrad = true} : tensor<6xf32>, tensor<i64>
  return
}
