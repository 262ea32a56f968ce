// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops --canonicalize --cse | FileCheck %s
// The ops kiln-fuse makes lower to single loop nests (their matrix products
// in vector register tiles); results nothing uses are never written.

// The pooling keeps the first maximum's window position (i * 2 + j) beside
// its value, stored as i8, or -1 where the maximum is not above zero: a
// second, backward scan of the window selects the position of each element
// whose bits equal the maximum's. The unused activation gets no buffer.
// CHECK-LABEL: func.func @conv_relu_pool(
// CHECK-SAME: %[[P:[^:]*]]: memref<1x2x1x1xf32> {kiln.output = 0 : i64}, %[[I:[^:]*]]: memref<1x2x1x1xi8> {kiln.output = 1 : i64})
// CHECK-NOT: memref<1x2x2x2xf32>
// CHECK: %[[BEST:.*]] = scf.for {{.*}} -> (f32)
// CHECK: memref.store %[[BEST]], %[[P]]
// CHECK-NEXT: %[[POS:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %c-1_i8) -> (i8)
// CHECK: %[[I0:.*]] = arith.subi %c1, %{{.*}} : index
// CHECK-NEXT: %[[J0:.*]] = arith.subi %c1, %{{.*}} : index
// CHECK-NEXT: %[[BESTBITS:.*]] = arith.bitcast %[[BEST]] : f32 to i32
// CHECK: %[[V:.*]] = memref.load
// CHECK-NEXT: %[[VBITS:.*]] = arith.bitcast %[[V]] : f32 to i32
// CHECK-NEXT: %[[EQUAL:.*]] = arith.cmpi eq, %[[VBITS]], %[[BESTBITS]] : i32
// CHECK-NEXT: %[[HERE:.*]] = arith.index_cast %{{.*}} : index to i8
// CHECK-NEXT: arith.select %[[EQUAL]], %[[HERE]], %{{.*}} : i8
// CHECK: %[[KEPT:.*]] = arith.cmpf ogt, %[[BEST]], %{{.*}} : f32
// CHECK-NEXT: %[[WHERE:.*]] = arith.select %[[KEPT]], %[[POS]], %c-1_i8 : i8
// CHECK-NEXT: memref.store %[[WHERE]], %[[I]]
func.func @conv_relu_pool(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x3x3xf32>)
    -> (tensor<1x2x1x1xf32>, tensor<1x2x1x1xi8>) {
  %p, %a, %i = kiln.conv2d_relu_pool %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> (tensor<1x2x1x1xf32>, tensor<1x2x2x2xf32>, tensor<1x2x1x1xi8>)
  return %p, %i : tensor<1x2x1x1xf32>, tensor<1x2x1x1xi8>
}

// -----

// The pooled gradient is added at the kept position of its window (row
// i / 2, column i % 2), or nowhere for -1, into a one-image scratch buffer
// (one of a group's) that the weight gradient reads in dot-product tiles.
// Only the weight gradient is used, so the input gradient is neither
// computed nor folded back.
// CHECK-LABEL: func.func @backward_weight_only(
// CHECK-SAME: %[[G:[^:]*]]: memref<1x2x1x1xf32>, %[[I:[^:]*]]: memref<1x2x1x1xi8>, %{{.*}}, %[[DW:.*]]: memref<2x1x3x3xf32> {kiln.output = 0 : i64})
// CHECK-DAG: %[[GROUP:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x4xf32>
// CHECK: %[[SCRATCH:.*]] = memref.reinterpret_cast %[[GROUP]] to offset: [%{{.*}}], sizes: [2, 4], strides: [4, 1]
// CHECK: %[[RAW:.*]] = memref.load %[[I]]
// CHECK-NEXT: %[[INDEX:.*]] = arith.index_cast %[[RAW]] : i8 to index
// CHECK-NEXT: %[[KEPT:.*]] = arith.cmpi sge, %[[INDEX]], %c0 : index
// CHECK-NEXT: %[[TAP:.*]] = arith.select %[[KEPT]], %[[INDEX]], %c0 : index
// CHECK-NEXT: %[[ROW:.*]] = arith.divui %[[TAP]], %c2 : index
// CHECK-NEXT: %[[COL:.*]] = arith.remui %[[TAP]], %c2 : index
// CHECK: %[[GV:.*]] = memref.load %[[G]]
// CHECK-NEXT: %[[SEND:.*]] = arith.select %[[KEPT]], %[[GV]], %{{.*}} : f32
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[SCRATCH]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[SEND]]
// CHECK-NEXT: memref.store %[[NEW]], %[[SCRATCH]]
// CHECK: vector.maskedload %[[GROUP]]
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK-NOT: memref<1x1x4x4xf32> {kiln.output
// CHECK: return
func.func @backward_weight_only(%g: tensor<1x2x1x1xf32>, %i: tensor<1x2x1x1xi8>, %x: tensor<1x1x4x4xf32>, %w: tensor<2x1x3x3xf32>)
    -> tensor<2x1x3x3xf32> {
  %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w {pool_kernel = 2, pool_stride = 2} : (tensor<1x2x1x1xf32>, tensor<1x2x1x1xi8>, tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>)
  return %dw : tensor<2x1x3x3xf32>
}

// -----

// A linear layer: the dot product (a register tile of 2 x 4 vector dot
// products, summed across lanes), then the bias, then relu, then one store.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: memref<2x3xf32>, %[[W:.*]]: memref<4x3xf32>, %[[B:.*]]: memref<4xf32>, %[[Y:.*]]: memref<2x4xf32> {kiln.output = 0 : i64})
// CHECK: %[[ROW:.*]] = vector.maskedload %[[X]]
// CHECK: %[[COLUMN:.*]] = vector.maskedload %[[W]]
// CHECK: %[[PRODUCTS:.*]] = vector.fma %[[ROW]], %[[COLUMN]]
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[PRODUCTS]]
// CHECK-NEXT: %[[BIAS:.*]] = memref.load %[[B]]
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[DOT]], %[[BIAS]]
// CHECK-NEXT: %[[POS:.*]] = arith.cmpf ogt, %[[SUM]]
// CHECK-NEXT: %[[R:.*]] = arith.select %[[POS]], %[[SUM]]
// CHECK-NEXT: memref.store %[[R]], %[[Y]]
func.func @linear(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %y = kiln.linear %x, %w, %b {relu = true} : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The masked gradient is stored and added into its column's sum in one loop.
// CHECK-LABEL: func.func @bias_relu_backward(
// CHECK-SAME: %[[G:.*]]: memref<2x3xf32>, %[[H:.*]]: memref<2x3xf32>, %[[D:.*]]: memref<2x3xf32> {kiln.output = 0 : i64}, %[[DB:.*]]: memref<3xf32> {kiln.output = 1 : i64})
// CHECK: scf.for %[[M:.*]] = %c0 to %c2
// CHECK-NEXT: scf.for %[[N:.*]] = %c0 to %c3
// CHECK-NEXT: %[[GV:.*]] = memref.load %[[G]][%[[M]], %[[N]]]
// CHECK-NEXT: %[[HV:.*]] = memref.load %[[H]][%[[M]], %[[N]]]
// CHECK-NEXT: %[[POS:.*]] = arith.cmpf ogt, %[[HV]]
// CHECK-NEXT: %[[V:.*]] = arith.select %[[POS]], %[[GV]]
// CHECK-NEXT: memref.store %[[V]], %[[D]][%[[M]], %[[N]]]
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[DB]][%[[N]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[V]]
// CHECK-NEXT: memref.store %[[NEW]], %[[DB]][%[[N]]]
func.func @bias_relu_backward(%g: tensor<2x3xf32>, %h: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  %d, %db = kiln.bias_relu_backward %g, %h : tensor<2x3xf32> -> tensor<3xf32>
  return %d, %db : tensor<2x3xf32>, tensor<3xf32>
}
