// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// kiln.adam_update refuses what torch.optim.Adam's constructor refuses.

func.func @adam_negative_lr(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.adam_update' op lr, eps and weight_decay must be >= 0}}
  %p1, %m1, %v1, %x1 = kiln.adam_update %p, %g, %m, %m, %m, %s {lr = -1.0e-03 : f64} : tensor<6xf32>, tensor<i64>
  return
}

// -----

func.func @adam_beta_one(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.adam_update' op beta1 and beta2 must lie in [0, 1), got 1.000000e+00}}
  %p1, %m1, %v1, %x1 = kiln.adam_update %p, %g, %m, %m, %m, %s {lr = 1.0e-03 : f64, beta2 = 1.0 : f64} : tensor<6xf32>, tensor<i64>
  return
}

// -----

func.func @adam_state_shape(%p: tensor<6xf32>, %g: tensor<6xf32>, %m: tensor<5xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.adam_update' op failed to verify that all of {param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, new_param, new_exp_avg, new_exp_avg_sq, new_max_exp_avg_sq} have same type}}
  %p1, %m1, %v1, %x1 = "kiln.adam_update"(%p, %g, %m, %m, %m, %s) {lr = 1.0e-03 : f64} : (tensor<6xf32>, tensor<6xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<i64>) -> (tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}
