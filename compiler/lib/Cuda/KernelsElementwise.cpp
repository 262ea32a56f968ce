// CUDA kernels for elementwise groups, transpose, broadcast, constants and
// copies: one thread per output element.
#include "CudaEmitter.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace kiln::cudagen {

namespace {

std::string math(const char *name, Type type) {
  return std::string(name) + (cType(type) == "float" ? "f" : "");
}

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// The input element a broadcast's output element `index` reads.
std::string broadcastIndex(BroadcastOp op, const std::string &index) {
  ArrayRef<int64_t> in = shapeOf(op.getInput()), out = shapeOf(op.getResult());
  size_t lead = out.size() - in.size();
  // Repeating only along leading dimensions: the input is a suffix.
  size_t first = 0;
  while (first < in.size() && in[first] == 1)
    ++first;
  bool suffix = true;
  for (size_t d = first; d < in.size(); ++d)
    suffix &= in[d] == out[lead + d];
  int64_t inCount = numElements(op.getInput());
  if (suffix)
    return inCount == numElements(op.getResult())
               ? index
               : index + " % " + std::to_string(inCount);
  SmallVector<int64_t> outStrides = stridesOf(out), inStrides = stridesOf(in);
  std::string sum;
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] == 1)
      continue;
    std::string term = index;
    if (outStrides[lead + d] != 1)
      term += " / " + std::to_string(outStrides[lead + d]);
    if (lead + d > 0)
      term += " % " + std::to_string(out[lead + d]);
    if (inStrides[d] != 1)
      term = (term == index ? term : "(" + term + ")") + " * " +
             std::to_string(inStrides[d]);
    sum += (sum.empty() ? "" : " + ") + term;
  }
  return sum.empty() ? "0" : sum;
}

} // namespace

void emitElementwiseGroup(const FusionGroup &group, const EntryContext &context,
                          const MakeKernel &make) {
  std::string base, ops;
  for (Operation *member : group.members) {
    std::string name = member->getName().stripDialect().str();
    base += (base.empty() ? "" : "_") + name;
    ops += (ops.empty() ? "" : ", ") + name;
  }
  KernelBuilder &k = make(base);
  Value last = group.members.back()->getResult(0);
  Type type = last.getType();
  std::string t = cType(type), zero = literal(0.0, type);
  k.comment(ops + " over " + shapeText(shapeOf(last)) +
            ", one thread per element");
  k.threadPerElement(numElements(last));
  llvm::DenseMap<Value, std::string> locals;
  auto operand = [&](Value value) -> std::string {
    if (auto it = locals.find(value); it != locals.end())
      return it->second;
    if (BroadcastOp broadcast = context.foldedBroadcast(value))
      return k.at(broadcast.getInput(), context.nameOf(broadcast.getInput()),
                  broadcastIndex(broadcast, "i"));
    return k.at(value, context.nameOf(value), "i");
  };
  for (auto [j, member] : llvm::enumerate(group.members)) {
    SmallVector<std::string> x;
    for (Value value : member->getOperands())
      x.push_back(operand(value));
    std::string expr =
        llvm::TypeSwitch<Operation *, std::string>(member)
            .Case([&](AddOp) { return x[0] + " + " + x[1]; })
            .Case([&](SubOp) { return x[0] + " - " + x[1]; })
            .Case([&](MulOp) { return x[0] + " * " + x[1]; })
            .Case([&](DivOp) { return x[0] + " / " + x[1]; })
            .Case([&](PowOp) {
              return math("pow", type) + "(" + x[0] + ", " + x[1] + ")";
            })
            .Case([&](NegOp) { return "-" + x[0]; })
            .Case([&](ExpOp) { return math("exp", type) + "(" + x[0] + ")"; })
            .Case([&](LogOp) { return math("log", type) + "(" + x[0] + ")"; })
            .Case([&](ReluOp) {
              return x[0] + " > " + zero + " ? " + x[0] + " : " + zero;
            })
            .Case([&](ReluBackwardOp) {
              return x[1] + " > " + zero + " ? " + x[0] + " : " + zero;
            })
            .Default([](Operation *) -> std::string {
              llvm_unreachable("not an elementwise op");
            });
    std::string local = "v" + std::to_string(j);
    k.line("const {} {} = {};", t, local, expr);
    locals[member->getResult(0)] = local;
  }
  for (Value output : group.outputs)
    k.line("{}[i] = {};", k.out(output, context.nameOf(output)),
           locals[output]);
}

LogicalResult emitShapeOp(Operation *op, const EntryContext &context,
                          const MakeKernel &make) {
  Value input = op->getOperand(0), result = op->getResult(0);
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    KernelBuilder &k = make("transpose");
    ArrayRef<int64_t> perm = transpose.getPermutation();
    ArrayRef<int64_t> shape = shapeOf(result);
    k.comment("transpose " + shapeText(shapeOf(input)) + " -> " +
              shapeText(shape) + ", one thread per output element");
    k.threadPerElement(numElements(result));
    k.use({{input, "input"}});
    std::vector<std::string> names;
    for (size_t d = 0; d < shape.size(); ++d)
      names.push_back("d" + std::to_string(d));
    k.coordinates("i", names, shape);
    // Output dimension d is input dimension perm[d].
    SmallVector<int64_t> inStrides = stridesOf(shapeOf(input));
    std::string index;
    for (size_t d = 0; d < shape.size(); ++d)
      index += (d ? " + " : "") + names[d] + " * " +
               std::to_string(inStrides[perm[d]]);
    k.line("{}[i] = {};", k.out(result, "result"),
           k.at(input, "input", index.empty() ? "0" : index));
    return success();
  }
  auto broadcast = cast<BroadcastOp>(op);
  KernelBuilder &k = make("broadcast");
  k.comment("broadcast " + shapeText(shapeOf(input)) + " -> " +
            shapeText(shapeOf(result)) + ", one thread per output element");
  k.threadPerElement(numElements(result));
  k.use({{input, "input"}});
  k.line("{}[i] = {};", k.out(result, "result"),
         k.at(input, "input", broadcastIndex(broadcast, "i")));
  return success();
}

void emitConstant(ConstantOp op, const EntryContext &context,
                  const MakeKernel &make) {
  KernelBuilder &k = make("constant");
  Value result = op.getResult();
  std::string t = cType(result.getType());
  auto dense = cast<DenseElementsAttr>(op.getValue());
  std::string values;
  int64_t count = 0;
  for (Attribute value : dense.getValues<Attribute>()) {
    double number =
        isa<FloatAttr>(value)
            ? cast<FloatAttr>(value).getValueAsDouble()
            : static_cast<double>(cast<IntegerAttr>(value).getInt());
    values += (count++ % 8 ? ", " : (count > 1 ? ",\n    " : "    ")) +
              literal(number, result.getType());
  }
  k.prologue("__device__ const " + t + " @NAME@_values[] = {\n" + values +
             "};\n");
  k.comment("a constant " + shapeText(shapeOf(result)));
  k.threadPerElement(numElements(result));
  k.line("{}[i] = @NAME@_values[i];", k.out(result, "result"));
}

void emitCopy(Slot from, Slot to, Type tensorType, const EntryContext &,
              const MakeKernel &make) {
  auto type = cast<ShapedType>(tensorType);
  KernelBuilder &k = make("copy");
  std::string t = cType(type);
  k.comment("copy of " + std::to_string(type.getNumElements()) +
            " elements into a result's buffer");
  k.threadPerElement(type.getNumElements());
  std::string source = k.inSlot(from, t, "source");
  k.line("{}[i] = {}[i];", k.outSlot(to, t, "destination"), source);
}

void emitFill(double value, Slot to, Type tensorType, const EntryContext &,
              const MakeKernel &make) {
  auto type = cast<ShapedType>(tensorType);
  KernelBuilder &k = make("fill");
  k.comment("a constant result");
  k.threadPerElement(type.getNumElements());
  k.line("{}[i] = {};", k.outSlot(to, cType(type), "destination"),
         literal(value, type));
}

} // namespace kiln::cudagen
