// RUN: kiln-opt %s --kiln-lower-to-loops | FileCheck %s
// kiln.adam_update becomes one loop writing the parameter and states in
// place. The bias corrections use step + 1 (the step counts updates done so
// far) and are computed once, in f64, before the loop. Without amsgrad the
// max_exp_avg_sq buffer is neither read nor written: it is its own result.

// CHECK-LABEL: func.func @adam_step(
// CHECK-SAME: %[[P:[a-z0-9]+]]: memref<6xf32> {kiln.param = "p"}, %[[M:[a-z0-9]+]]: memref<6xf32> {kiln.state = "exp_avg.p"}, %[[V:[a-z0-9]+]]: memref<6xf32> {kiln.state = "exp_avg_sq.p"}, %[[X:[a-z0-9]+]]: memref<6xf32> {kiln.state = "max_exp_avg_sq.p"}, %[[STEP:[a-z0-9]+]]: memref<i64> {kiln.state = "step"}, %[[G:[a-z0-9]+]]: memref<6xf32>)
// CHECK-NOT: memref.alloc
// CHECK: %[[S:.*]] = memref.load %[[STEP]][] : memref<i64>
// CHECK: %[[T:.*]] = arith.addi %[[S]], %{{.*}} : i64
// CHECK: %[[TF:.*]] = arith.sitofp %[[T]] : i64 to f64
// CHECK: math.powf %{{.*}}, %[[TF]] : f64
// CHECK: math.sqrt %{{.*}} : f64
// CHECK: scf.for
// CHECK-NOT: %[[X]]
// CHECK: math.sqrt %{{.*}} : f32
// CHECK-NOT: %[[X]]
// CHECK: return
func.func @adam_step(%p: tensor<6xf32> {kiln.param = "p"},
                     %m: tensor<6xf32> {kiln.state = "exp_avg.p"},
                     %v: tensor<6xf32> {kiln.state = "exp_avg_sq.p"},
                     %x: tensor<6xf32> {kiln.state = "max_exp_avg_sq.p"},
                     %step: tensor<i64> {kiln.state = "step"}, %g: tensor<6xf32>)
    -> (tensor<6xf32> {kiln.updates = 0 : i64}, tensor<6xf32> {kiln.updates = 1 : i64},
        tensor<6xf32> {kiln.updates = 2 : i64}, tensor<6xf32> {kiln.updates = 3 : i64}) {
  %np, %nm, %nv, %nx = kiln.adam_update %p, %g, %m, %v, %x, %step {lr = 1.0e-02 : f64}
      : tensor<6xf32>, tensor<i64>
  return %np, %nm, %nv, %nx : tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>
}
