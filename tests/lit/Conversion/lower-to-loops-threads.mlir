// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops=threads=2 | FileCheck %s
// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops=threads=1 | FileCheck %s --check-prefix=SERIAL
// With threads=2, kiln-lower-to-loops splits independent work in two parts,
// each an iteration of an scf.parallel; with threads=1 there is none.
// SERIAL-NOT: scf.parallel

// A filter gradient sums over the batch: each part unfolds its images (a
// group of up to two at a time) into its own column buffers and adds dot
// products with dy into its own partial gradient, summing across vector
// lanes once per group; the two partials are added in part order after
// the parallel loop.
// CHECK-LABEL: func.func @filter_grad(
// CHECK-SAME: %[[DY:.*]]: memref<3x2x2x2xf32>, %[[X:.*]]: memref<3x1x3x3xf32>, %[[DW:.*]]: memref<2x1x2x2xf32> {kiln.output = 0 : i64})
// CHECK-DAG: %[[DYM:.*]] = memref.reinterpret_cast %[[DY]] to offset: [0], sizes: [3, 2, 4]
// CHECK-DAG: %[[DWM:.*]] = memref.reinterpret_cast %[[DW]] to offset: [0], sizes: [2, 4]
// CHECK-DAG: %[[PARTIALS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x2x4xf32>
// CHECK-DAG: %[[COLS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x2x4x4xf32>
// CHECK: scf.parallel (%[[PART:.*]]) = (%{{.*}}) to (%{{.*}}) step
// CHECK-DAG: %[[GROUP:.*]] = memref.reinterpret_cast %[[COLS]] to offset: [%{{.*}}], sizes: [2, 4, 4], strides: [16, 4, 1]
// CHECK-DAG: %[[MINE:.*]] = memref.reinterpret_cast %[[PARTIALS]] to offset: [%{{.*}}], sizes: [2, 4], strides: [4, 1]
// CHECK: scf.for %[[FIRST:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[COL:.*]] = memref.reinterpret_cast %[[GROUP]] to offset: [%{{.*}}], sizes: [4, 4], strides: [4, 1]
// CHECK: vector.maskedstore %[[COL]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK: vector.maskedload %[[DYM]]
// CHECK: vector.maskedload %[[GROUP]]
// CHECK: vector.fma
// CHECK: %[[DOT:.*]] = vector.reduction <add>
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[MINE]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[DOT]]
// CHECK-NEXT: memref.store %[[NEW]], %[[MINE]]
// CHECK: scf.reduce
// CHECK: %[[ALL:.*]] = memref.reinterpret_cast %[[PARTIALS]] to offset: [0], sizes: [16], strides: [1]
// CHECK: %[[OUT:.*]] = memref.reinterpret_cast %[[DWM]] to offset: [0], sizes: [8], strides: [1]
// CHECK: scf.for %[[I:.*]] =
// CHECK-NEXT: %[[FIRSTPART:.*]] = memref.load %[[ALL]][%[[I]]]
// CHECK: %[[SECOND:.*]] = memref.load %[[ALL]]
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[FIRSTPART]], %[[SECOND]]
// CHECK-NEXT: memref.store %[[SUM]], %[[OUT]][%[[I]]]
func.func @filter_grad(%dy: tensor<3x2x2x2xf32>, %x: tensor<3x1x3x3xf32>) -> tensor<2x1x2x2xf32> {
  %dw = kiln.conv2d_backward_filter %dy, %x : tensor<3x2x2x2xf32>, tensor<3x1x3x3xf32> -> tensor<2x1x2x2xf32>
  return %dw : tensor<2x1x2x2xf32>
}

// -----

// A short elementwise loop is not worth a fork and join.
// CHECK-LABEL: func.func @small_relu(
// CHECK-NOT: scf.parallel
// CHECK: arith.select
func.func @small_relu(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %r = kiln.relu %x : tensor<4x6xf32>
  return %r : tensor<4x6xf32>
}

// -----

// A long one is split in two halves.
// CHECK-LABEL: func.func @large_relu(
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
// CHECK: arith.select
// CHECK: scf.reduce
func.func @large_relu(%x: tensor<64x1024xf32>) -> tensor<64x1024xf32> {
  %r = kiln.relu %x : tensor<64x1024xf32>
  return %r : tensor<64x1024xf32>
}
