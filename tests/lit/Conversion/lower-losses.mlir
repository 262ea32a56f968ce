// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops | FileCheck %s
// The losses' loops for each reduction: mean scales the total by 1/N, sum
// stores it as it is, none stores one loss per sample (or element) and, in
// the gradient, scales each row by its own loss gradient.

// CHECK-LABEL: func.func @cross_entropy_mean(
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<f32> {kiln.output = 0 : i64})
// CHECK: %[[TOTAL:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// CHECK: %[[QUARTER:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-NEXT: %[[MEAN:.*]] = arith.mulf %[[TOTAL]], %[[QUARTER]]
// CHECK-NEXT: memref.store %[[MEAN]], %[[OUT]][] : memref<f32>
func.func @cross_entropy_mean(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<f32> {
  %l = kiln.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @cross_entropy_sum(
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<f32> {kiln.output = 0 : i64})
// CHECK: %[[TOTAL:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// CHECK-NOT: arith.mulf
// CHECK: memref.store %[[TOTAL]], %[[OUT]][] : memref<f32>
func.func @cross_entropy_sum(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<f32> {
  %l = kiln.softmax_cross_entropy sum %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Each sample's log-sum-exp minus its label's logit, stored at its index.
// CHECK-LABEL: func.func @cross_entropy_none(
// CHECK-SAME: %[[LOGITS:[a-z0-9]+]]: memref<4x10xf32>, %{{.*}}: memref<4xi64>, %[[OUT:[a-z0-9]+]]: memref<4xf32> {kiln.output = 0 : i64})
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: %[[LOG:.*]] = math.log
// CHECK-NEXT: %[[LSE:.*]] = arith.addf %{{.*}}, %[[LOG]]
// CHECK: %[[PICKED:.*]] = memref.load %[[LOGITS]][%[[I]], %{{.*}}] : memref<4x10xf32>
// CHECK-NEXT: %[[LOSS:.*]] = arith.subf %[[LSE]], %[[PICKED]]
// CHECK-NEXT: memref.store %[[LOSS]], %[[OUT]][%[[I]]] : memref<4xf32>
// CHECK-NOT: arith.mulf
// CHECK: return
func.func @cross_entropy_none(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<4xf32> {
  %l = kiln.softmax_cross_entropy none %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
  return %l : tensor<4xf32>
}

// -----

// Mean and sum read the scalar gradient once, before the loops; none reads
// row i's gradient inside the row loop.
// CHECK-LABEL: func.func @cross_entropy_backward_sum(
// CHECK-SAME: %[[G:[a-z0-9]+]]: memref<f32>
// CHECK: %[[GV:.*]] = memref.load %[[G]][] : memref<f32>
// CHECK-NOT: arith.mulf
// CHECK: scf.for
// CHECK: %[[IS:.*]] = arith.cmpi eq
// CHECK-NEXT: %[[ONEHOT:.*]] = arith.select %[[IS]]
// CHECK-NEXT: %[[DIFF:.*]] = arith.subf %{{.*}}, %[[ONEHOT]]
// CHECK-NEXT: arith.mulf %[[DIFF]], %[[GV]]
func.func @cross_entropy_backward_sum(%g: tensor<f32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<4x10xf32> {
  %d = kiln.softmax_cross_entropy_backward sum %g, %logits, %labels : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return %d : tensor<4x10xf32>
}

// -----

// CHECK-LABEL: func.func @cross_entropy_backward_mean(
// CHECK-SAME: %[[G:[a-z0-9]+]]: memref<f32>
// CHECK: %[[GV:.*]] = memref.load %[[G]][] : memref<f32>
// CHECK-NEXT: %[[QUARTER:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-NEXT: %[[SCALE:.*]] = arith.mulf %[[GV]], %[[QUARTER]]
// CHECK: scf.for
// CHECK: %[[IS:.*]] = arith.cmpi eq
// CHECK-NEXT: %[[ONEHOT:.*]] = arith.select %[[IS]]
// CHECK-NEXT: %[[DIFF:.*]] = arith.subf %{{.*}}, %[[ONEHOT]]
// CHECK-NEXT: arith.mulf %[[DIFF]], %[[SCALE]]
func.func @cross_entropy_backward_mean(%g: tensor<f32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<4x10xf32> {
  %d = kiln.softmax_cross_entropy_backward %g, %logits, %labels : tensor<f32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return %d : tensor<4x10xf32>
}

// -----

// CHECK-LABEL: func.func @cross_entropy_backward_none(
// CHECK-SAME: %[[G:[a-z0-9]+]]: memref<4xf32>
// CHECK-NOT: memref.load %[[G]]
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT: %[[GI:.*]] = memref.load %[[G]][%[[I]]] : memref<4xf32>
// CHECK: scf.for
// CHECK: %[[IS:.*]] = arith.cmpi eq
// CHECK-NEXT: %[[ONEHOT:.*]] = arith.select %[[IS]]
// CHECK-NEXT: %[[DIFF:.*]] = arith.subf %{{.*}}, %[[ONEHOT]]
// CHECK-NEXT: arith.mulf %[[DIFF]], %[[GI]]
func.func @cross_entropy_backward_none(%g: tensor<4xf32>, %logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<4x10xf32> {
  %d = kiln.softmax_cross_entropy_backward none %g, %logits, %labels : tensor<4xf32>, tensor<4x10xf32>, tensor<4xi64> -> tensor<4x10xf32>
  return %d : tensor<4x10xf32>
}

// -----

// CHECK-LABEL: func.func @mse_mean(
// CHECK: %[[TOTAL:.*]] = scf.for
// CHECK: %[[SIXTH:.*]] = arith.constant 0.166666672 : f32
// CHECK-NEXT: arith.mulf %[[TOTAL]], %[[SIXTH]]
func.func @mse_mean(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<f32> {
  %l = kiln.mse_loss %a, %b : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @mse_sum(
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<f32> {kiln.output = 0 : i64})
// CHECK: %[[TOTAL:.*]] = scf.for
// CHECK-NOT: arith.mulf %[[TOTAL]]
// CHECK: memref.store %[[TOTAL]], %[[OUT]][] : memref<f32>
func.func @mse_sum(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<f32> {
  %l = kiln.mse_loss sum %a, %b : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// One elementwise loop over flat views, no accumulator.
// CHECK-LABEL: func.func @mse_none(
// CHECK-SAME: %[[A:[a-z0-9]+]]: memref<2x3xf32>, %[[B:[a-z0-9]+]]: memref<2x3xf32>, %[[OUT:[a-z0-9]+]]: memref<2x3xf32> {kiln.output = 0 : i64})
// CHECK-DAG: %[[AF:.*]] = memref.reinterpret_cast %[[A]] {{.*}} to memref<6xf32>
// CHECK-DAG: %[[BF:.*]] = memref.reinterpret_cast %[[B]] {{.*}} to memref<6xf32>
// CHECK-DAG: %[[OF:.*]] = memref.reinterpret_cast %[[OUT]] {{.*}} to memref<6xf32>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT: %[[X:.*]] = memref.load %[[AF]][%[[I]]]
// CHECK-NEXT: %[[Y:.*]] = memref.load %[[BF]][%[[I]]]
// CHECK-NEXT: %[[D:.*]] = arith.subf %[[X]], %[[Y]]
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[D]], %[[D]]
// CHECK-NEXT: memref.store %[[SQ]], %[[OF]][%[[I]]] : memref<6xf32>
func.func @mse_none(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %l = kiln.mse_loss none %a, %b : tensor<2x3xf32> -> tensor<2x3xf32>
  return %l : tensor<2x3xf32>
}
