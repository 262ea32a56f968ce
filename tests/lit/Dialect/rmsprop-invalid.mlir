// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// kiln.rmsprop_update refuses what torch.optim.RMSprop's constructor refuses.

func.func @rmsprop_negative_momentum(%p: tensor<6xf32>, %g: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rmsprop_update' op lr, alpha, eps, weight_decay and momentum must be >= 0}}
  %p1, %sq1, %b1, %a1 = kiln.rmsprop_update %p, %g, %g, %g, %g, %s {lr = 1.0e-02 : f64, momentum = -0.5 : f64} : tensor<6xf32>, tensor<i64>
  return
}

// -----

func.func @rmsprop_negative_alpha(%p: tensor<6xf32>, %g: tensor<6xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rmsprop_update' op lr, alpha, eps, weight_decay and momentum must be >= 0}}
  %p1, %sq1, %b1, %a1 = kiln.rmsprop_update %p, %g, %g, %g, %g, %s {lr = 1.0e-02 : f64, alpha = -0.1 : f64} : tensor<6xf32>, tensor<i64>
  return
}
