// RUN: kiln-opt %s --kiln-to-loops | FileCheck %s --check-prefix=LOOPS
// RUN: kiln-opt %s --kiln-to-loops --kiln-loops-to-llvm | FileCheck %s --check-prefix=LLVM

// The whole CPU lowering of a small linear layer with relu: loops over an
// arena, then LLVM functions that take one bare pointer per buffer. The
// product is a register tile of masked vector loads and fused multiply-adds,
// summed across lanes.

// LOOPS-LABEL: func.func @dense(
// LOOPS-SAME: %{{.*}}: memref<2x3xf32> {kiln.param = "w"}, %{{.*}}: memref<4x3xf32> {kiln.input = "x"}, %{{.*}}: memref<4x2xf32> {kiln.output = 0 : i64}, %[[ARENA:.*]]: memref<64xi8> {kiln.arena})
// LOOPS-SAME: kiln.arena_bytes = 64
// LOOPS: memref.view %[[ARENA]]
// LOOPS-NOT: memref.alloc
// LOOPS: scf.for
// LOOPS: return

// LLVM-LABEL: llvm.func @dense(
// LLVM-SAME: %{{.*}}: !llvm.ptr {kiln.param = "w"}, %{{.*}}: !llvm.ptr {kiln.input = "x"}, %{{.*}}: !llvm.ptr {kiln.output = 0 : i64}, %{{.*}}: !llvm.ptr {kiln.arena})
// LLVM-NOT: scf.for
// LLVM-NOT: memref.
// LLVM-NOT: vector.{{[a-z]}}
// LLVM: llvm.intr.masked.load
// LLVM: llvm.intr.fmuladd
// LLVM: llvm.intr.vector.reduce.fadd{{.*}}fastmath<reassoc>
// LLVM: llvm.select
// LLVM: llvm.return
func.func @dense(%w: tensor<2x3xf32> {kiln.param = "w"}, %x: tensor<4x3xf32> {kiln.input = "x"}) -> tensor<4x2xf32> {
  %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<4x3xf32>, tensor<2x3xf32> -> tensor<4x2xf32>
  %r = kiln.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}
