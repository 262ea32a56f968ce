// RUN: kiln-opt %s -split-input-file --kiln-lower-to-loops -verify-diagnostics | FileCheck %s
// Tensor functions become memref functions: inputs keep their position and
// attributes, results become trailing kiln.output arguments, and every op is
// a loop nest over buffers.

// CHECK-LABEL: func.func @relu_sum(
// CHECK-SAME: %[[X:.*]]: memref<2x3xf32>, %[[R:.*]]: memref<2x3xf32> {kiln.output = 0 : i64}, %[[S:.*]]: memref<3xf32> {kiln.output = 1 : i64})
// CHECK-SAME: attributes {kiln.num_inputs = 1 : i64}
// CHECK-NOT: memref.alloc
// The returned relu writes straight into its output, through flat 1-D views.
// CHECK-DAG: %[[XF:.*]] = memref.reinterpret_cast %[[X]] to offset: [0], sizes: [6], strides: [1] : memref<2x3xf32> to memref<6xf32>
// CHECK-DAG: %[[RF:.*]] = memref.reinterpret_cast %[[R]] to offset: [0], sizes: [6], strides: [1] : memref<2x3xf32> to memref<6xf32>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[C6:.*]] = arith.constant 6 : index
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %[[C6]]
// CHECK-NEXT: %[[V:.*]] = memref.load %[[XF]][%[[I]]] : memref<6xf32>
// CHECK-NEXT: %[[POS:.*]] = arith.cmpf ogt, %[[V]], %[[ZERO]] : f32
// CHECK-NEXT: %[[OUT:.*]] = arith.select %[[POS]], %[[V]], %[[ZERO]] : f32
// CHECK-NEXT: memref.store %[[OUT]], %[[RF]][%[[I]]] : memref<6xf32>
// The sum over axis 0 reads the relu output and carries its accumulator.
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} {
// CHECK: %[[ACC:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %{{.*}}) -> (f32) {
// CHECK-NEXT: %[[E:.*]] = memref.load %[[R]][%[[K]], %[[J]]] : memref<2x3xf32>
// CHECK-NEXT: %[[NEXT:.*]] = arith.addf %[[A]], %[[E]] fastmath<reassoc,contract> : f32
// CHECK-NEXT: scf.yield %[[NEXT]] : f32
// CHECK: memref.store %[[ACC]], %[[S]][%[[J]]] : memref<3xf32>
// CHECK: return
// CHECK-NOT: func.func @relu_sum.tensor
func.func @relu_sum(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  %r = kiln.relu %x : tensor<2x3xf32>
  %s = kiln.sum %r {axes = array<i64: 0>} : tensor<2x3xf32> -> tensor<3xf32>
  return %r, %s : tensor<2x3xf32>, tensor<3xf32>
}

// -----

// A convolution unfolds each image into a [taps, positions] scratch buffer
// (im2col) with vector copies of contiguous runs, then multiplies it by the
// weights in register tiles: accumulators start as the bias, each step
// loads one row of the columns and broadcasts one weight per output channel
// into a fused multiply-add; the 4 positions are a masked vector.
// Intermediates get 64-byte aligned allocations.
// CHECK-LABEL: func.func @conv_relu(
// CHECK-SAME: %[[X:.*]]: memref<1x1x4x4xf32>, %[[W:.*]]: memref<2x1x3x3xf32>, %[[B:.*]]: memref<2xf32>, %[[OUT:.*]]: memref<1x2x2x2xf32> {kiln.output = 0 : i64})
// CHECK: %[[WM:.*]] = memref.reinterpret_cast %[[W]] to offset: [0], sizes: [2, 9], strides: [9, 1]
// CHECK: %[[Y:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x2x2xf32>
// CHECK: %[[YM:.*]] = memref.reinterpret_cast %[[Y]] to offset: [0], sizes: [1, 2, 4], strides: [8, 4, 1]
// CHECK: %[[COL:.*]] = memref.alloc() {alignment = 64 : i64} : memref<9x4xf32>
// CHECK: %[[SEG:.*]] = vector.maskedload %[[X]]
// CHECK-NEXT: vector.maskedstore %[[COL]][%{{.*}}, %{{.*}}], %{{.*}}, %[[SEG]]
// CHECK: %[[IMAGE:.*]] = memref.reinterpret_cast %[[YM]] to offset: [%{{.*}}], sizes: [2, 4], strides: [4, 1]
// CHECK: %[[FOUR:.*]] = vector.constant_mask [4] : vector<16xi1>
// CHECK: %[[BIAS0:.*]] = memref.load %[[B]]
// CHECK-NEXT: %[[START0:.*]] = vector.broadcast %[[BIAS0]] : f32 to vector<16xf32>
// CHECK: %[[BIAS1:.*]] = memref.load %[[B]]
// CHECK-NEXT: %[[START1:.*]] = vector.broadcast %[[BIAS1]] : f32 to vector<16xf32>
// CHECK: %[[ACC:.*]]:2 = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A0:.*]] = %[[START0]], %[[A1:.*]] = %[[START1]])
// CHECK: %[[ROW:.*]] = vector.maskedload %[[COL]][%[[K]], %{{.*}}], %[[FOUR]]
// CHECK: %[[W0:.*]] = memref.load %[[WM]][%{{.*}}, %[[K]]]
// CHECK-NEXT: %[[S0:.*]] = vector.broadcast %[[W0]]
// CHECK-NEXT: %[[N0:.*]] = vector.fma %[[S0]], %[[ROW]], %[[A0]] : vector<16xf32>
// CHECK: %[[N1:.*]] = vector.fma %{{.*}}, %[[ROW]], %[[A1]] : vector<16xf32>
// CHECK-NEXT: scf.yield %[[N0]], %[[N1]]
// CHECK: vector.maskedstore %[[IMAGE]][%{{.*}}, %{{.*}}], %[[FOUR]], %[[ACC]]#0
// CHECK: vector.maskedstore %[[IMAGE]][%{{.*}}, %{{.*}}], %[[FOUR]], %[[ACC]]#1
// CHECK: memref.reinterpret_cast %[[Y]]
// CHECK: memref.reinterpret_cast %[[OUT]]
// CHECK: arith.select
func.func @conv_relu(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x3x3xf32>, %b: tensor<2xf32>)
    -> tensor<1x2x2x2xf32> {
  %y = kiln.conv2d %x, %w, %b : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %r = kiln.relu %y : tensor<1x2x2x2xf32>
  return %r : tensor<1x2x2x2xf32>
}

// -----

// Splat constants fold into the loop body; other constants become private
// read-only globals copied into their output.
// CHECK: memref.global "private" constant @kiln_constant_0 : memref<2x2xf32> = dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]>
// CHECK-LABEL: func.func @constants(
// CHECK-SAME: %[[X:.*]]: memref<3xf32>, %[[Y:.*]]: memref<3xf32> {kiln.output = 0 : i64}, %[[C:.*]]: memref<2x2xf32> {kiln.output = 1 : i64})
// CHECK: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: scf.for %[[I:.*]] =
// CHECK-NEXT: %[[V:.*]] = memref.load %[[X]][%[[I]]]
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[V]], %[[HALF]]
// CHECK-NEXT: memref.store %[[M]], %[[Y]][%[[I]]]
// CHECK: %[[G:.*]] = memref.get_global @kiln_constant_0 : memref<2x2xf32>
// CHECK: %[[GF:.*]] = memref.reinterpret_cast %[[G]]
// CHECK: %[[CF:.*]] = memref.reinterpret_cast %[[C]]
// CHECK: scf.for %[[J:.*]] =
// CHECK-NEXT: %[[E:.*]] = memref.load %[[GF]][%[[J]]] : memref<4xf32>
// CHECK-NEXT: memref.store %[[E]], %[[CF]][%[[J]]] : memref<4xf32>
func.func @constants(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<2x2xf32>) {
  %c = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %h = kiln.constant dense<0.5> : tensor<3xf32>
  %y = kiln.mul %x, %h : tensor<3xf32>
  return %y, %c : tensor<3xf32>, tensor<2x2xf32>
}

// -----

// Results marked kiln.updates are written over their argument: SGD with
// momentum updates the parameter and the buffer in place and adds no output
// arguments. On step 0 the buffer starts as the gradient.
// CHECK-LABEL: func.func @sgd_step(
// CHECK-SAME: %[[P:.*]]: memref<6xf32> {kiln.param = "p"}, %[[M:.*]]: memref<6xf32> {kiln.state = "momentum_buffer.p"}, %[[STEP:.*]]: memref<i64> {kiln.state = "step"}, %[[G:.*]]: memref<6xf32>)
// CHECK-SAME: attributes {kiln.num_inputs = 4 : i64}
// CHECK-NOT: memref.alloc
// CHECK: %[[S:.*]] = memref.load %[[STEP]][] : memref<i64>
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[S]], %{{.*}} : i64
// CHECK: scf.for %[[I:.*]] =
// CHECK-NEXT: %[[PV:.*]] = memref.load %[[P]][%[[I]]]
// CHECK-NEXT: %[[GV:.*]] = memref.load %[[G]][%[[I]]]
// CHECK: %[[MV:.*]] = memref.load %[[M]][%[[I]]]
// CHECK: %[[MOM:.*]] = arith.constant 0.899999976 : f32
// CHECK: %[[RUNNING:.*]] = arith.addf
// CHECK: %[[BUF:.*]] = arith.select %[[FIRST]], %[[GV]], %[[RUNNING]] : f32
// CHECK-NEXT: memref.store %[[BUF]], %[[M]][%[[I]]] : memref<6xf32>
// CHECK-NEXT: %[[LR:.*]] = arith.constant 0.00999999977 : f32
// CHECK-NEXT: %[[D:.*]] = arith.mulf %[[LR]], %[[BUF]]
// CHECK-NEXT: %[[NP:.*]] = arith.subf %[[PV]], %[[D]]
// CHECK-NEXT: memref.store %[[NP]], %[[P]][%[[I]]] : memref<6xf32>
// CHECK: return
func.func @sgd_step(%p: tensor<6xf32> {kiln.param = "p"},
                    %m: tensor<6xf32> {kiln.state = "momentum_buffer.p"},
                    %step: tensor<i64> {kiln.state = "step"}, %g: tensor<6xf32>)
    -> (tensor<6xf32> {kiln.updates = 0 : i64}, tensor<6xf32> {kiln.updates = 1 : i64}) {
  %np, %nm = kiln.sgd_update %p, %g, %m, %step {lr = 1.0e-02 : f64, momentum = 9.0e-01 : f64}
      : tensor<6xf32>, tensor<i64>
  return %np, %nm : tensor<6xf32>, tensor<6xf32>
}

// -----

// Writing over an argument that a later op still reads would change what
// that op sees, so it is refused.
func.func @late_read(%p: tensor<6xf32>, %g: tensor<6xf32>)
    -> (tensor<6xf32> {kiln.updates = 0 : i64}, tensor<6xf32>) {
  // expected-error @+1 {{'kiln.sub' op overwrites argument #0 in place, but a later op still reads it}}
  %np = kiln.sub %p, %g : tensor<6xf32>
  %late = kiln.mul %p, %g : tensor<6xf32>
  return %np, %late : tensor<6xf32>, tensor<6xf32>
}

// -----

// A read through a reshape's view also forbids the in-place write.
func.func @view_read(%p: tensor<6xf32>, %g: tensor<6xf32>) -> (tensor<6xf32> {kiln.updates = 0 : i64}, tensor<f32>) {
  %v = kiln.reshape %p : tensor<6xf32> -> tensor<2x3xf32>
  // expected-error @+1 {{'kiln.sub' op overwrites argument #0 in place, but a later op still reads it}}
  %np = kiln.sub %p, %g : tensor<6xf32>
  %late = kiln.sum %v {axes = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<f32>
  return %np, %late : tensor<6xf32>, tensor<f32>
}

// -----

// An op that reads elements out of order cannot write over its operand.
func.func @transpose_in_place(%p: tensor<4x4xf32>) -> (tensor<4x4xf32> {kiln.updates = 0 : i64}) {
  // expected-error @+1 {{'kiln.transpose' op cannot be written over argument #0 in place: only elementwise ops and optimizer updates can}}
  %t = kiln.transpose %p {permutation = array<i64: 1, 0>} : tensor<4x4xf32> -> tensor<4x4xf32>
  return %t : tensor<4x4xf32>
}
