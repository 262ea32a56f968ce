// The kiln dialect: tensor-level ops with value semantics and static shapes.
#ifndef KILN_DIALECT_TD
#define KILN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Tensor-level ops for training and running small convolutional networks.";
  let description = [{
    Every value is a statically shaped `tensor` of `f32` or `f64` (labels are
    `i64`). Ops have value semantics: they never write their operands. A
    model's forward pass is traced into these ops; `kiln-autodiff` appends the
    backward ops, `kiln-optimizer-step` the parameter update, and
    `kiln-lower-to-loops` turns the program into loops over buffers.
  }];
  let useDefaultAttributePrinterParser = 0;
  let useDefaultTypePrinterParser = 0;
}

#endif // KILN_DIALECT_TD
