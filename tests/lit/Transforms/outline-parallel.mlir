// RUN: kiln-opt %s -split-input-file --kiln-outline-parallel -verify-diagnostics | FileCheck %s
// kiln-outline-parallel turns each scf.parallel into a private function of
// the values it captures and an iteration range, called over the whole range.

// Buffers and scalars from outside are passed; pure values (constants, the
// view of the arena) are recomputed inside the outlined function, whose
// scf.for runs iterations [begin, end) of the old loop body.
// CHECK-LABEL: func.func private @kiln.parallel.scale.0(
// CHECK-SAME: %[[X:.*]]: memref<8xf32>, %[[S:.*]]: f32, %[[Y:.*]]: memref<8xf32>, %[[ARENA:.*]]: memref<64xi8>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[VIEW:.*]] = memref.view %[[ARENA]]
// CHECK: scf.for %[[P:.*]] = %[[BEGIN]] to %[[END]]
// CHECK: arith.muli %[[P]], %[[C4]]
// CHECK: memref.load %[[X]]
// CHECK: arith.mulf %{{.*}}, %[[S]]
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: memref.store %[[S]], %[[VIEW]][%[[P]]]
// CHECK: return
// CHECK-LABEL: func.func @scale(
// CHECK-SAME: %[[X2:.*]]: memref<8xf32>, %[[Y2:.*]]: memref<8xf32>, %[[ARENA2:.*]]: memref<64xi8>, %[[S2:.*]]: f32)
// CHECK-NOT: scf.parallel
// CHECK: call @kiln.parallel.scale.0(%[[X2]], %[[S2]], %[[Y2]], %[[ARENA2]], %{{.*}}, %{{.*}}) : (memref<8xf32>, f32, memref<8xf32>, memref<64xi8>, index, index) -> ()
// CHECK-NOT: scf.parallel
func.func @scale(%x: memref<8xf32>, %y: memref<8xf32>, %arena: memref<64xi8>, %s: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %buf = memref.view %arena[%c0][] : memref<64xi8> to memref<4xf32>
  scf.parallel (%p) = (%c0) to (%c2) step (%c1) {
    %lo = arith.muli %p, %c4 : index
    %hi = arith.addi %lo, %c4 : index
    scf.for %i = %lo to %hi step %c1 {
      %v = memref.load %x[%i] : memref<8xf32>
      %w = arith.mulf %v, %s : f32
      memref.store %w, %y[%i] : memref<8xf32>
    }
    memref.store %s, %buf[%p] : memref<4xf32>
    scf.reduce
  }
  return
}

// -----

// Two loops in one function become two functions, numbered in order.
// CHECK-LABEL: func.func private @kiln.parallel.two.0(
// CHECK-LABEL: func.func private @kiln.parallel.two.1(
// CHECK-LABEL: func.func @two(
// CHECK: call @kiln.parallel.two.0
// CHECK: call @kiln.parallel.two.1
func.func @two(%y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %zero, %y[%i] : memref<4xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %one, %y[%i] : memref<4xf32>
    scf.reduce
  }
  return
}

// -----

func.func @two_dimensional(%y: memref<4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @+1 {{one-dimensional loops without reductions only}}
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c4) step (%c1, %c1) {
    memref.store %zero, %y[%i, %j] : memref<4x4xf32>
    scf.reduce
  }
  return
}
