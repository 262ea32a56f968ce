// Op interfaces of the kiln dialect: per-op knowledge that generic passes use.
#ifndef KILN_INTERFACES_TD
#define KILN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    An op that knows its own reverse-mode derivative. `kiln-autodiff` walks a
    function backwards and asks each op for the vector-Jacobian product: given
    the gradient flowing into each result, the op builds the ops computing the
    gradient of each operand. Ops whose operands are not differentiable
    (integer labels, for instance) return a null value in that position.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{Builds the gradient of every operand from the gradient of
        every result (same order as the results). Returns one value per
        operand, null where the operand takes no gradient.}],
      /*retTy=*/"::llvm::SmallVector<::mlir::Value>",
      /*methodName=*/"buildVJP",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::mlir::ValueRange":$resultGrads)>
  ];
}

def FusedOpInterface : OpInterface<"FusedOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    An op that kiln-fuse made out of several: it names them, so that tools
    (`kiln graph`) can show each fusion group as what it replaced.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{The names (without the `kiln.` prefix) of the ops this one
        does the work of, in program order.}],
      /*retTy=*/"::llvm::SmallVector<::llvm::StringRef>",
      /*methodName=*/"getFusedOps">
  ];
}

#endif // KILN_INTERFACES_TD
