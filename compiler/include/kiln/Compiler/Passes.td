// The kiln compiler passes. One pass = one def here + one .cpp + one lit test.
#ifndef KILN_COMPILER_PASSES_TD
#define KILN_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnAutodiff : Pass<"kiln-autodiff", "mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of loss functions";
  let description = [{
    For every function marked `kiln.differentiate` that returns a scalar loss,
    adds `<name>_grad` returning the loss followed by the gradient of every
    argument that carries a `kiln.param` name. The pass is generic: it walks
    the ops backwards and asks each one, through `GradientOpInterface`, for
    the gradient of its operands; gradients reaching a value from several
    users are summed. An op without a gradient rule on the path from a
    parameter to the loss is an error naming the op.

    Before:
    ```mlir
    func.func @loss(%w: tensor<3xf32> {kiln.param = "w"}, %x: tensor<3xf32>)
        -> tensor<f32> attributes {kiln.differentiate} {
      %y = kiln.mul %w, %x : tensor<3xf32>
      %s = kiln.sum %y {axes = array<i64: 0>} : tensor<3xf32> -> tensor<f32>
      return %s : tensor<f32>
    }
    ```
    After, `@loss_grad(%w, %x) -> (tensor<f32>, tensor<3xf32>)` returns `%s`
    and `kiln.mul (broadcast of the seed 1.0), %x`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnOptimizerStep : Pass<"kiln-optimizer-step", "mlir::ModuleOp"> {
  let summary = "Builds train_step: the gradient function plus the optimizer update";
  let description = [{
    From the `<name>_grad` function made by `kiln-autodiff`, builds
    `@train_step(params..., states..., step, inputs...)` returning
    `(loss, new params..., new states...)`. Each updated result
    carries `kiln.updates = <argument index>`, so lowering writes it over the
    argument's buffer: the step updates parameters and optimizer state in
    place. The hyper-parameters are pass options and become op attributes.

    The states, each one tensor per parameter named `kiln.state =
    "<state>.<param>"`, grouped by state in this order:
    `sgd` (`kiln.sgd_update`): `momentum_buffer`;
    `adam` (`kiln.adam_update`): `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`;
    `rmsprop` (`kiln.rmsprop_update`): `square_avg`, `momentum_buffer`,
    `grad_avg`. Every state is present whatever the options, so the
    signature depends only on the optimizer; an unused one stays zero.
  }];
  let options = [
    Option<"optimizer", "optimizer", "std::string", "\"sgd\"",
           "Optimizer to apply (sgd, adam, rmsprop)">,
    Option<"lr", "lr", "double", "0.001", "Learning rate">,
    Option<"momentum", "momentum", "double", "0.0",
           "Momentum factor (sgd, rmsprop)">,
    Option<"dampening", "dampening", "double", "0.0",
           "Dampening of momentum (sgd)">,
    Option<"weightDecay", "weight-decay", "double", "0.0", "L2 penalty">,
    Option<"nesterov", "nesterov", "bool", "false", "Nesterov momentum (sgd)">,
    Option<"beta1", "beta1", "double", "0.9",
           "Decay of the gradient average (adam)">,
    Option<"beta2", "beta2", "double", "0.999",
           "Decay of the squared-gradient average (adam)">,
    Option<"eps", "eps", "double", "1.0e-8",
           "Added to the denominator (adam, rmsprop)">,
    Option<"amsgrad", "amsgrad", "bool", "false",
           "Divide by the largest squared-gradient average so far (adam)">,
    Option<"alpha", "alpha", "double", "0.99",
           "Decay of the squared-gradient average (rmsprop)">,
    Option<"centered", "centered", "bool", "false",
           "Normalise by the estimated gradient variance (rmsprop)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnFuse : Pass<"kiln-fuse", "mlir::func::FuncOp"> {
  let summary = "Fuses conv2d → relu → max_pool2d and its gradient, linear layers, and relu gradients with their bias sums";
  let description = [{
    Runs after kiln-autodiff, kiln-optimizer-step, canonicalize and CSE, and
    rewrites four patterns, in this order:

    1. `max_pool2d(relu(conv2d(x, w, b)))` becomes `kiln.conv2d_relu_pool`,
       computed image by image from a scratch buffer, so the whole-batch
       convolution output is never written. Besides the pooled output it
       has the relu output (written only if read) and, per pooled element,
       the window position of the first maximum, or -1 where the maximum is
       not above zero (i8; i32 for windows over 11x11). A chain whose
       convolution output has any user but the relu and relu-gradient masks
       is left alone.
    2. The gradient of such a block, `max_pool2d_backward` of its activation
       → `relu_backward` → the `conv2d_backward_input`,
       `conv2d_backward_filter` and bias `sum` reading the result, becomes
       `kiln.conv2d_relu_pool_backward`. It routes the pooled gradient
       through the kept positions (a position of -1 gets nothing, which is
       the relu mask) into a one-image scratch buffer and accumulates the
       weight, bias and input gradients from it, so neither the activation
       nor the whole-batch pooling and relu gradients are read or written.
       Where something else reads the relu gradient, the ops stay and mask
       with the fused op's activation.
    3. `relu(add(matmul(x, w) {transpose_rhs}, broadcast(b)))` becomes
       `kiln.linear %x, %w, %b {relu = true}` (the bias and the relu are each
       optional, but not both absent). `relu_backward` masks read the relu
       output instead of the sum before it (both are > 0 at the same
       places).
    4. A 2-D `relu_backward` whose result a `sum` over axis 0 reads (a linear
       layer's bias gradient) becomes `kiln.bias_relu_backward`, which
       computes both in one pass.

    The fused ops do the same arithmetic per element as the ops they replace,
    except that a convolution's bias gradient is summed image by image.

    Before (a convolution block of a training step):
    ```mlir
    %c = kiln.conv2d %x, %w, %b ...
    %r = kiln.relu %c : tensor<4x6x28x28xf32>
    %p = kiln.max_pool2d %r {kernel = 2, stride = 2} ...
    ...
    %dp = kiln.max_pool2d_backward %g, %r {kernel = 2, stride = 2} ...
    %dc = kiln.relu_backward %dp, %c : tensor<4x6x28x28xf32>
    %dw = kiln.conv2d_backward_filter %dc, %x ...
    %db = kiln.sum %dc {axes = array<i64: 0, 2, 3>} ...
    ```
    After:
    ```mlir
    %p, %r, %i = kiln.conv2d_relu_pool %x, %w, %b {pool_kernel = 2, pool_stride = 2}
        : ... -> (tensor<4x6x14x14xf32>, tensor<4x6x28x28xf32>, tensor<4x6x14x14xi8>)
    ...
    %dx, %dw, %db = kiln.conv2d_relu_pool_backward %g, %i, %x, %w
        {pool_kernel = 2, pool_stride = 2} : ...
    ```
  }];
}

def KilnLowerToLoops : Pass<"kiln-lower-to-loops", "mlir::ModuleOp"> {
  let summary = "Lowers kiln ops on tensors to scf loops over memref buffers";
  let description = [{
    Every function's tensor arguments become memrefs; results become trailing
    output memref arguments, except results marked `kiln.updates = i`, which
    are written over argument `i`. Each kiln op becomes a loop nest writing a
    fresh `memref.alloc` buffer (later placed in the arena by
    `kiln-plan-memory`); reshapes become views. Loop orders are chosen so
    that the innermost loop walks contiguous memory and vectorises: a
    convolution, for example, broadcasts one weight over an output row.
    Programs are straight-line, so this is a single walk rather than a
    dialect conversion.

    With `threads=N` (N > 1), loops over independent work (images of a
    batch, rows of a matrix product, long elementwise loops) are split into
    at most N contiguous parts, each an iteration of an `scf.parallel`; sums
    over the batch (filter and bias gradients) go to one partial buffer per
    part and are added up in part order afterwards, so a program's results
    depend on N but not on the threads that run it. Per-part scratch
    (unfolded images) is one buffer per part. `kiln-outline-parallel` later
    turns each `scf.parallel` into a call of the runtime's thread pool.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", "1",
           "Parts parallel loops are split into (1: no scf.parallel)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def KilnPlanMemory : Pass<"kiln-plan-memory", "mlir::func::FuncOp"> {
  let summary = "Places every buffer of a function in one arena by liveness";
  let description = [{
    Replaces each `memref.alloc` with a `memref.view` into one `memref<Nxi8>`
    arena appended as the last argument. A buffer lives from its allocation
    to the last use of it or of a view of it; buffers whose lives do not
    overlap share bytes (first fit, 64-byte aligned). The arena size is
    recorded as `kiln.arena_bytes` so the runtime allocates it once and a
    step allocates nothing.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def KilnOutlineParallel : Pass<"kiln-outline-parallel", "mlir::ModuleOp"> {
  let summary = "Outlines each scf.parallel into a function called with its range";
  let description = [{
    Each outermost one-dimensional `scf.parallel` (step 1, no reductions)
    of a function `@f` becomes a private function
    `@kiln.parallel.f.<k>(captures..., %begin: index, %end: index)` running
    iterations [begin, end) in an `scf.for`, and the loop becomes a
    `func.call` of it over the whole range. Pure values the body reads
    (constants, views of the arena) are recomputed inside; everything else
    (the function's buffer arguments, scalars) is passed. The program is
    still correct serial code; the object-code step then replaces each call
    of a `kiln.parallel.` function by `kiln_parallel_for` (the runtime's
    thread pool) with the captures packed in a stack frame. Runs after
    `kiln-plan-memory`, so the outlined bodies use the caller's arena.

    ```mlir
    scf.parallel (%p) = (%c0) to (%c2) step (%c1) { ... %arena ... }
    // becomes
    func.call @kiln.parallel.f.0(%arena, %c0, %c2) : (memref<64xi8>, index, index) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect"];
}

#endif // KILN_COMPILER_PASSES_TD
