// RUN: kiln-opt %s --pass-pipeline='builtin.module(kiln-lower-to-loops,func.func(kiln-plan-memory))' | FileCheck %s
// RUN: kiln-opt %s --kiln-lower-to-loops | kiln-opt --pass-pipeline='builtin.module(func.func(kiln-plan-memory))' | FileCheck %s
// kiln-plan-memory replaces every memref.alloc by a memref.view into one i8
// arena appended as the last argument, sharing bytes between buffers whose
// lives do not overlap (first fit, 64-byte aligned).

// Three 64-byte intermediates a -> b -> c: a and b are live together, as are
// b and c, but a is dead once b is computed, so c reuses a's bytes. The arena
// is 128 bytes, not 192.
// CHECK-LABEL: func.func @chain(
// CHECK-SAME: %[[X:.*]]: memref<16xf32>, %[[OUT:.*]]: memref<f32> {kiln.output = 0 : i64}, %[[ARENA:.*]]: memref<128xi8> {kiln.arena})
// CHECK-SAME: attributes {kiln.arena_bytes = 128 : i64, kiln.num_inputs = 1 : i64}
// CHECK-NOT: memref.alloc
// CHECK: %[[OFF_A:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[A:.*]] = memref.view %[[ARENA]][%[[OFF_A]]][] : memref<128xi8> to memref<16xf32>
// CHECK: math.exp
// CHECK-NEXT: memref.store %{{.*}}, %[[A]]
// CHECK: %[[OFF_B:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[B:.*]] = memref.view %[[ARENA]][%[[OFF_B]]][] : memref<128xi8> to memref<16xf32>
// CHECK: memref.load %[[A]]
// CHECK-NEXT: arith.negf
// CHECK-NEXT: memref.store %{{.*}}, %[[B]]
// CHECK: %[[OFF_C:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[C:.*]] = memref.view %[[ARENA]][%[[OFF_C]]][] : memref<128xi8> to memref<16xf32>
// CHECK: memref.load %[[B]]
// CHECK-NEXT: math.exp
// CHECK-NEXT: memref.store %{{.*}}, %[[C]]
// CHECK: memref.load %[[C]]
// CHECK-NOT: memref.alloc
// CHECK: return
func.func @chain(%x: tensor<16xf32>) -> tensor<f32> {
  %a = kiln.exp %x : tensor<16xf32>
  %b = kiln.neg %a : tensor<16xf32>
  %c = kiln.exp %b : tensor<16xf32>
  %s = kiln.sum %c {axes = array<i64: 0>} : tensor<16xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// A buffer stays live while a view of it (a reshape) is read: b is computed
// after the reshape of a but before its last use, so it must not reuse a's
// bytes. 24-byte buffers are placed at 64-byte boundaries.
// CHECK-LABEL: func.func @view_keeps_alive(
// CHECK-SAME: %{{.*}}: memref<128xi8> {kiln.arena})
// CHECK-SAME: kiln.arena_bytes = 128 : i64
// CHECK: %[[OFF_A:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[A:.*]] = memref.view %{{.*}}[%[[OFF_A]]][] : memref<128xi8> to memref<2x3xf32>
// CHECK: math.exp
// CHECK: %[[R:.*]] = memref.reinterpret_cast %[[A]] to offset: [0], sizes: [6], strides: [1]
// CHECK: %[[OFF_B:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[B:.*]] = memref.view %{{.*}}[%[[OFF_B]]][] : memref<128xi8> to memref<6xf32>
// CHECK: memref.load %[[R]]
// CHECK-NEXT: memref.load %[[B]]
// CHECK-NEXT: arith.mulf
func.func @view_keeps_alive(%x: tensor<2x3xf32>, %y: tensor<6xf32>) -> tensor<6xf32> {
  %a = kiln.exp %x : tensor<2x3xf32>
  %r = kiln.reshape %a : tensor<2x3xf32> -> tensor<6xf32>
  %b = kiln.neg %y : tensor<6xf32>
  %c = kiln.mul %r, %b : tensor<6xf32>
  return %c : tensor<6xf32>
}

// Sizes follow the element type: 10 x f64 is 80 bytes, rounded up to 128.
// CHECK-LABEL: func.func @f64(
// CHECK-SAME: %{{.*}}: memref<128xi8> {kiln.arena})
// CHECK-SAME: kiln.arena_bytes = 128 : i64
// CHECK: memref.view %{{.*}} : memref<128xi8> to memref<10xf64>
func.func @f64(%x: tensor<10xf64>) -> tensor<f64> {
  %a = kiln.exp %x : tensor<10xf64>
  %s = kiln.sum %a {axes = array<i64: 0>} : tensor<10xf64> -> tensor<f64>
  return %s : tensor<f64>
}

// With nothing to place the arena still has its minimum of one 64-byte line.
// CHECK-LABEL: func.func @no_buffers(
// CHECK-SAME: %{{.*}}: memref<64xi8> {kiln.arena})
// CHECK-SAME: kiln.arena_bytes = 64 : i64
// CHECK-NOT: memref.view
// CHECK: return
func.func @no_buffers(%x: tensor<6xf32>) -> tensor<6xf32> {
  %a = kiln.exp %x : tensor<6xf32>
  return %a : tensor<6xf32>
}
