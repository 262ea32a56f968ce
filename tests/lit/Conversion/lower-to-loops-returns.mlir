// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops -verify-diagnostics | FileCheck %s

// Results written back over their arguments in swapped order: the first
// source is saved before the copies overwrite it.
// CHECK-LABEL: func.func @swap(
// CHECK-SAME: %[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<4xf32>)
// CHECK: %[[SAVED:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK: %[[V:.*]] = memref.load %[[B]]
// CHECK-NEXT: memref.store %[[V]], %[[SAVED]]
// CHECK: memref.load %[[SAVED]]
// CHECK-NEXT: memref.store %{{.*}}, %[[A]]
func.func @swap(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32> {kiln.updates = 0 : i64}, tensor<4xf32> {kiln.updates = 1 : i64}) {
  return %b, %a : tensor<4xf32>, tensor<4xf32>
}

// -----

// Without momentum, an update into a separate buffer still passes the old
// momentum buffer through.
// CHECK-LABEL: func.func @sgd_no_momentum(
// CHECK-SAME: %[[P:.*]]: memref<4xf32>, %[[G:.*]]: memref<4xf32>, %[[M:.*]]: memref<4xf32>, %[[S:.*]]: memref<i64>, %[[OP:.*]]: memref<4xf32> {kiln.output = 0 : i64}, %[[OM:.*]]: memref<4xf32> {kiln.output = 1 : i64})
// CHECK: %[[OLD:.*]] = memref.load %[[M]]
// CHECK-NEXT: memref.store %[[OLD]], %[[OM]]
func.func @sgd_no_momentum(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>, %st: tensor<i64>) -> (tensor<4xf32>, tensor<4xf32>) {
  %p2, %m2 = kiln.sgd_update %p, %g, %m, %st {lr = 0.1 : f64} : tensor<4xf32>, tensor<i64>
  return %p2, %m2 : tensor<4xf32>, tensor<4xf32>
}

// -----

// expected-error @+1 {{result #0 updates argument #7, but the function has 1 arguments}}
func.func @bad_index(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.updates = 7 : i64}) {
  %n = kiln.neg %a : tensor<4xf32>
  return %n : tensor<4xf32>
}

// -----

// expected-error @+1 {{two results update argument #0}}
func.func @two_updates(%a: tensor<4xf32>) -> (tensor<4xf32> {kiln.updates = 0 : i64}, tensor<4xf32> {kiln.updates = 0 : i64}) {
  %n = kiln.neg %a : tensor<4xf32>
  %e = kiln.exp %a : tensor<4xf32>
  return %n, %e : tensor<4xf32>, tensor<4xf32>
}

// -----

// expected-error @+1 {{result #0 of type 'tensor<8xf32>' cannot update argument #0 of type 'tensor<4xf32>'}}
func.func @wrong_type(%a: tensor<4xf32>, %b: tensor<8xf32>) -> (tensor<8xf32> {kiln.updates = 0 : i64}) {
  %n = kiln.neg %b : tensor<8xf32>
  return %n : tensor<8xf32>
}
