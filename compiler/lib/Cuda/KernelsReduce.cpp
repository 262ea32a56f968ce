// CUDA kernels for reductions, matrix products (linear layers with their
// bias and relu) and losses. The launch shape
// follows the sizes: short reductions run one thread per result, long ones
// one block per result (warp shuffles, then shared memory); a matrix product
// is tiled through shared memory when both sides are large, split over a
// warp when the output is small and the inner dimension long, and one
// thread per output otherwise.
#include "CudaEmitter.h"

#include <cmath>

using namespace mlir;

namespace kiln::cudagen {

namespace {

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// The offset that linear index `var` over `sizes` contributes when each of
// its coordinates moves by `strides`: "var / 28 % 6 * 784 + ...".
std::string offsetOf(const std::string &var, ArrayRef<int64_t> sizes,
                     ArrayRef<int64_t> strides) {
  SmallVector<int64_t> own = stridesOf(sizes);
  std::string sum;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1)
      continue;
    std::string term = var;
    if (own[d] != 1)
      term += " / " + std::to_string(own[d]);
    if (d > 0)
      term += " % " + std::to_string(sizes[d]);
    if (strides[d] != 1)
      term = (term == var ? term : "(" + term + ")") + " * " +
             std::to_string(strides[d]);
    sum += (sum.empty() ? "" : " + ") + term;
  }
  return sum.empty() ? "0" : sum;
}

// A reduction's input split into kept dimensions (one result each) and
// reduced ones, with their strides in the input.
struct Split {
  SmallVector<int64_t> keptSizes, keptStrides, reducedSizes, reducedStrides;
  int64_t kept = 1, reduced = 1;
};

Split splitAxes(Value input, ArrayRef<int64_t> axes) {
  Split s;
  ArrayRef<int64_t> shape = shapeOf(input);
  SmallVector<int64_t> strides = stridesOf(shape);
  for (auto [axis, size] : llvm::enumerate(shape)) {
    bool reduced = llvm::is_contained(axes, static_cast<int64_t>(axis));
    (reduced ? s.reducedSizes : s.keptSizes).push_back(size);
    (reduced ? s.reducedStrides : s.keptStrides).push_back(strides[axis]);
    (reduced ? s.reduced : s.kept) *= size;
  }
  return s;
}

std::string axesText(ArrayRef<int64_t> axes) {
  std::string text = "{";
  for (size_t i = 0; i < axes.size(); ++i)
    text += (i ? "," : "") + std::to_string(axes[i]);
  return text + "}";
}

void emitMaxBackward(MaxBackwardOp op, const MakeKernel &make) {
  Value input = op.getInput(), result = op.getResult();
  Split s = splitAxes(input, op.getAxes());
  std::string t = cType(result.getType());
  KernelBuilder &k = make("max_backward");
  k.comment("gradient of max over axes " + axesText(op.getAxes()) + " of " +
            shapeText(shapeOf(input)) +
            ": each group's gradient to its first maximum");
  k.comment("one thread per group, writing every element of it");
  k.threadPerElement(s.kept, "g");
  k.line("const int base = {};", offsetOf("g", s.keptSizes, s.keptStrides));
  std::string offset =
      "base + " + offsetOf("r", s.reducedSizes, s.reducedStrides);
  k.line("{} best = {};", t, literal(-INFINITY, result.getType()));
  k.line("int at = base;");
  k.open("for (int r = 0; r < {}; ++r) {{", s.reduced);
  k.line("const int offset = {};", offset);
  k.line("const {} v = {};", t, k.at(input, "input", "offset"));
  k.open("if (v > best) {{");
  k.line("best = v;");
  k.line("at = offset;");
  k.close();
  k.close();
  k.line("const {} dy = {};", t, k.at(op.getGrad(), "grad", "g"));
  k.open("for (int r = 0; r < {}; ++r) {{", s.reduced);
  k.line("const int offset = {};", offset);
  k.line("{}[offset] = offset == at ? dy : {};", k.out(result, "result"),
         literal(0.0, result.getType()));
  k.close();
}

// A matrix product op(lhs) x op(rhs), with linear's bias and relu applied
// to each element before it is stored.
struct Product {
  Value lhs, rhs, bias, result;
  bool ta = false, tb = false, relu = false;
  std::string name; // "matmul" or "linear", "_relu", ...
};

Product productOf(MatmulOp op) {
  return {op.getLhs(),          op.getRhs(),          Value(), op.getResult(),
          op.getTransposeLhs(), op.getTransposeRhs(), false,   "matmul"};
}

Product productOf(LinearOp op) {
  std::string name = "linear";
  if (op.getBias())
    name += "_bias";
  if (op.getRelu())
    name += "_relu";
  return {op.getInput(), op.getWeight(), op.getBias(), op.getResult(),
          false,         true,           op.getRelu(), name};
}

LogicalResult emitProduct(const Product &p, const MakeKernel &make) {
  Value result = p.result;
  bool ta = p.ta, tb = p.tb;
  int64_t m = shapeOf(result)[0], n = shapeOf(result)[1];
  int64_t depth = shapeOf(p.lhs)[ta ? 0 : 1];
  std::string t = cType(result.getType());
  std::string zero = literal(0.0, result.getType());
  enum { Thread, Warp, Tiled } strategy = Thread;
  if (m >= 32 && n >= 32 && depth >= 16)
    strategy = Tiled;
  else if (m * n <= 4096 && depth >= 64)
    strategy = Warp;
  const char *suffixes[] = {"", "_warp", "_tiled"};
  KernelBuilder &k = make(p.name + suffixes[strategy]);
  k.use({{p.lhs, "lhs"}, {p.rhs, "rhs"}, {p.bias, "bias"}});
  k.comment(fmt::format(
      "{} {}{} x {}{} -> [{},{}]{}{}", p.bias || p.relu ? "linear" : "matmul",
      shapeText(shapeOf(p.lhs)), ta ? "^T" : "", shapeText(shapeOf(p.rhs)),
      tb ? "^T" : "", m, n, p.bias ? ", + bias" : "", p.relu ? ", relu" : ""));
  // The stored value of output (row, col) from its sum `acc`.
  auto finish = [&](const std::string &col) {
    std::string v = "acc";
    if (p.bias)
      v += " + " + k.at(p.bias, "bias", col);
    if (p.relu)
      return fmt::format("fmax{}({}, {})", t == "float" ? "f" : "", v, zero);
    return v;
  };
  // Element (row, kk) of op(lhs) and (kk, col) of op(rhs).
  auto lhs = [&](const std::string &row, const std::string &kk) {
    return k.at(p.lhs, "lhs", ta ? kk + " * M + " + row : row + " * K + " + kk);
  };
  auto rhs = [&](const std::string &kk, const std::string &col) {
    return k.at(p.rhs, "rhs", tb ? col + " * K + " + kk : kk + " * N + " + col);
  };
  if (strategy == Tiled) {
    k.comment("16x16 output tiles, operands staged through shared memory");
    uint32_t tiles[] = {static_cast<uint32_t>((n + 15) / 16),
                        static_cast<uint32_t>((m + 15) / 16), 1};
    k.setGeometry({tiles[0], tiles[1], 1}, {256, 1, 1});
    k.line("constexpr int M = {}, N = {}, K = {}, TILE = 16;", m, n, depth);
    k.line("__shared__ {} lhs_tile[TILE][TILE + 1], rhs_tile[TILE][TILE + 1];",
           t);
    k.line("const int tx = threadIdx.x % TILE, ty = threadIdx.x / TILE;");
    k.line("const int row0 = blockIdx.y * TILE, col0 = blockIdx.x * TILE;");
    k.line("{} acc = {};", t, zero);
    k.open("for (int k0 = 0; k0 < K; k0 += TILE) {{");
    // Each load walks memory contiguously along tx.
    if (ta)
      k.line("lhs_tile[tx][ty] = row0 + tx < M && k0 + ty < K ? {} : {};",
             lhs("(row0 + tx)", "(k0 + ty)"), zero);
    else
      k.line("lhs_tile[ty][tx] = row0 + ty < M && k0 + tx < K ? {} : {};",
             lhs("(row0 + ty)", "(k0 + tx)"), zero);
    if (tb)
      k.line("rhs_tile[tx][ty] = k0 + tx < K && col0 + ty < N ? {} : {};",
             rhs("(k0 + tx)", "(col0 + ty)"), zero);
    else
      k.line("rhs_tile[ty][tx] = k0 + ty < K && col0 + tx < N ? {} : {};",
             rhs("(k0 + ty)", "(col0 + tx)"), zero);
    k.line("__syncthreads();");
    k.line("#pragma unroll");
    k.line("for (int kk = 0; kk < TILE; ++kk)");
    k.line("  acc += lhs_tile[ty][kk] * rhs_tile[kk][tx];");
    k.line("__syncthreads();");
    k.close();
    k.line("if (row0 + ty < M && col0 + tx < N)");
    k.line("  {}[(row0 + ty) * N + col0 + tx] = {};", k.out(result, "result"),
           finish("col0 + tx"));
    return success();
  }
  if (strategy == Warp) {
    k.comment("one warp per output element, its lanes splitting the inner "
              "dimension");
    int64_t threads = m * n * 32;
    int64_t block = std::min<int64_t>(256, threads);
    k.setGeometry({static_cast<uint32_t>((threads + block - 1) / block), 1, 1},
                  {static_cast<uint32_t>(block), 1, 1});
    k.line("constexpr int M = {}, N = {}, K = {};", m, n, depth);
    k.line("const int i = (blockIdx.x * blockDim.x + threadIdx.x) / 32, "
           "lane = threadIdx.x % 32;");
    k.line("if (i >= M * N)");
    k.line("  return; // a whole warp at once");
    k.line("const int row = i / N, col = i % N;");
    k.line("{} acc = {};", t, zero);
    k.line("for (int kk = lane; kk < K; kk += 32)");
    k.line("  acc += {} * {};", lhs("row", "kk"), rhs("kk", "col"));
    k.line("acc = kiln_warp_sum(acc);");
    k.line("if (lane == 0)");
    k.line("  {}[i] = {};", k.out(result, "result"), finish("col"));
    return success();
  }
  k.comment("one thread per output element");
  k.threadPerElement(m * n);
  k.line("constexpr int M = {}, N = {}, K = {};", m, n, depth);
  k.line("const int row = i / N, col = i % N;");
  k.line("{} acc = {};", t, zero);
  k.line("for (int kk = 0; kk < K; ++kk)");
  k.line("  acc += {} * {};", lhs("row", "kk"), rhs("kk", "col"));
  k.line("{}[i] = {};", k.out(result, "result"), finish("col"));
  return success();
}

// result = grad where input > 0, else 0, and bias_grad = its column sums:
// one thread per column for a few rows, else one block per column.
void emitBiasReluBackward(BiasReluBackwardOp op, const MakeKernel &make) {
  Value grad = op.getGrad(), input = op.getInput();
  Value result = op.getResult(), biasGrad = op.getBiasGrad();
  int64_t rows = shapeOf(grad)[0], columns = shapeOf(grad)[1];
  std::string t = cType(grad.getType());
  std::string zero = literal(0.0, grad.getType());
  bool keep = !result.use_empty();
  bool serial = rows <= 32;
  KernelBuilder &k = make("bias_relu_backward");
  k.use({{grad, "grad"}, {input, "input"}});
  k.comment(fmt::format("relu gradient of {} and its column sums (a bias "
                        "gradient){}",
                        shapeText(shapeOf(grad)),
                        keep ? "" : "; the gradient itself is not stored"));
  if (serial) {
    k.comment("one thread per column");
    k.threadPerElement(columns, "group");
  } else {
    k.comment(fmt::format("one block per column, reducing {} rows", rows));
    k.blockPerGroup(columns, rows);
  }
  k.line("constexpr int ROWS = {}, COLUMNS = {};", rows, columns);
  k.line("{} acc = {};", t, zero);
  if (serial)
    k.open("for (int r = 0; r < ROWS; ++r) {{");
  else
    k.open("for (int r = threadIdx.x; r < ROWS; r += blockDim.x) {{");
  k.line("const int at = r * COLUMNS + group;");
  k.line("const {} v = {} > {} ? {} : {};", t, k.at(input, "input", "at"), zero,
         k.at(grad, "grad", "at"), zero);
  if (keep)
    k.line("{}[at] = v;", k.out(result, "result"));
  k.line("acc += v;");
  k.close();
  std::string out = k.out(biasGrad, "bias_grad");
  if (!serial) {
    k.line("acc = kiln_block_sum(acc);");
    k.line("if (threadIdx.x == 0)");
    k.line("  {}[group] = acc;", out);
    return;
  }
  k.line("{}[group] = acc;", out);
}

// Max and sum of exp(x - max) of row `row` of the logits.
void emitRowSoftmax(KernelBuilder &k, Value logits, const std::string &t,
                    const std::string &row) {
  Type type = logits.getType();
  std::string exp = t == "float" ? "expf" : "exp";
  k.line("{} max = {};", t, literal(-INFINITY, type));
  k.open("for (int c = 0; c < CLASSES; ++c) {{");
  k.line("const {} v = {};", t, k.at(logits, "logits", row + " * CLASSES + c"));
  k.line("max = v > max ? v : max;");
  k.close();
  k.line("{} sum = {};", t, literal(0.0, type));
  k.line("for (int c = 0; c < CLASSES; ++c)");
  k.line("  sum += {}({} - max);", exp,
         k.at(logits, "logits", row + " * CLASSES + c"));
}

// The label of row `row`, clamped into [0, CLASSES) so a bad label never
// reads out of bounds (the runtime rejects such labels before the call).
void emitLabel(KernelBuilder &k, Value labels, const std::string &row) {
  k.line("long long label = {};", k.at(labels, "labels", row));
  k.line("label = label < 0 ? 0 : label >= CLASSES ? CLASSES - 1 : label;");
}

} // namespace

LogicalResult emitReductionOp(Operation *op, const EntryContext &,
                              const MakeKernel &make) {
  if (auto back = dyn_cast<MaxBackwardOp>(op)) {
    emitMaxBackward(back, make);
    return success();
  }
  if (auto back = dyn_cast<BiasReluBackwardOp>(op)) {
    emitBiasReluBackward(back, make);
    return success();
  }
  Value input = op->getOperand(0), result = op->getResult(0);
  auto axes = cast<DenseI64ArrayAttr>(op->getAttr("axes")).asArrayRef();
  Split s = splitAxes(input, axes);
  bool isMax = isa<MaxOp>(op);
  std::string t = cType(result.getType());
  std::string name = op->getName().stripDialect().str();
  Type type = result.getType();
  std::string init = literal(isMax ? -INFINITY : 0.0, type);
  std::string scale =
      isa<MeanOp>(op) ? " * " + literal(1.0 / s.reduced, type) : "";
  KernelBuilder &k = make(name);
  k.comment(name + " over axes " + axesText(axes) + " of " +
            shapeText(shapeOf(input)) + " -> " + shapeText(shapeOf(result)));
  // Short reductions: one thread per result, summing in order.
  bool serial = s.reduced <= 32;
  if (serial) {
    k.comment("one thread per result");
    k.threadPerElement(s.kept, "group");
  } else {
    k.comment(
        fmt::format("one block per result, reducing {} values", s.reduced));
    k.blockPerGroup(s.kept, s.reduced);
  }
  k.line("const int base = {};", offsetOf("group", s.keptSizes, s.keptStrides));
  k.line("{} acc = {};", t, init);
  if (serial)
    k.open("for (int r = 0; r < {}; ++r) {{", s.reduced);
  else
    k.open("for (int r = threadIdx.x; r < {}; r += blockDim.x) {{", s.reduced);
  k.line("const {} v = {};", t,
         k.at(input, "input",
              "base + " + offsetOf("r", s.reducedSizes, s.reducedStrides)));
  k.line("{}", isMax ? "acc = v > acc ? v : acc;" : "acc += v;");
  k.close();
  std::string out = k.out(result, "result");
  if (serial) {
    k.line("{}[group] = acc{};", out, scale);
    return success();
  }
  if (isMax)
    k.line("acc = kiln_block_max(acc, {});", init);
  else
    k.line("acc = kiln_block_sum(acc);");
  k.line("if (threadIdx.x == 0)");
  k.line("  {}[group] = acc{};", out, scale);
  return success();
}

LogicalResult emitMatmulOp(Operation *op, const EntryContext &,
                           const MakeKernel &make) {
  if (auto linear = dyn_cast<LinearOp>(op))
    return emitProduct(productOf(linear), make);
  return emitProduct(productOf(cast<MatmulOp>(op)), make);
}

LogicalResult emitLossOp(Operation *op, const EntryContext &,
                         const MakeKernel &make) {
  if (auto mse = dyn_cast<MseLossOp>(op)) {
    Value input = mse.getInput(), result = mse.getResult();
    int64_t count = numElements(input);
    Type type = result.getType();
    std::string t = cType(type);
    LossReduction reduction = mse.getReduction();
    KernelBuilder &k = make("mse_loss");
    k.use({{input, "input"}, {mse.getTarget(), "target"}});
    if (reduction == LossReduction::None) {
      k.comment("squared error over " + shapeText(shapeOf(input)) +
                ", one thread per element");
      k.threadPerElement(count);
      k.line("const {} d = {} - {};", t, k.at(input, "input", "i"),
             k.at(mse.getTarget(), "target", "i"));
      k.line("{}[i] = d * d;", k.out(result, "loss"));
      return success();
    }
    k.comment(std::string(reduction == LossReduction::Mean ? "mean" : "sum") +
              " of squared errors over " + shapeText(shapeOf(input)) +
              ", one block");
    k.setGeometry({1, 1, 1},
                  {static_cast<uint32_t>(reductionBlockSize(count)), 1, 1});
    k.line("{} acc = {};", t, literal(0.0, type));
    k.open("for (int j = threadIdx.x; j < {}; j += blockDim.x) {{", count);
    k.line("const {} d = {} - {};", t, k.at(input, "input", "j"),
           k.at(mse.getTarget(), "target", "j"));
    k.line("acc += d * d;");
    k.close();
    k.line("acc = kiln_block_sum(acc);");
    k.line("if (threadIdx.x == 0)");
    k.line("  {}[0] = acc{};", k.out(result, "loss"),
           reduction == LossReduction::Mean ? " * " + literal(1.0 / count, type)
                                            : std::string());
    return success();
  }
  if (auto ce = dyn_cast<SoftmaxCrossEntropyOp>(op)) {
    Value logits = ce.getLogits(), result = ce.getResult();
    int64_t rows = shapeOf(logits)[0], classes = shapeOf(logits)[1];
    Type type = result.getType();
    std::string t = cType(type);
    LossReduction reduction = ce.getReduction();
    KernelBuilder &k = make("softmax_cross_entropy");
    k.use({{logits, "logits"}, {ce.getLabels(), "labels"}});
    if (reduction == LossReduction::None) {
      k.comment(fmt::format("cross-entropy of softmax per row, {} rows of {} "
                            "classes: a thread per row",
                            rows, classes));
      k.threadPerElement(rows, "row");
      k.line("constexpr int CLASSES = {};", classes);
      emitRowSoftmax(k, logits, t, "row");
      emitLabel(k, ce.getLabels(), "row");
      k.line("{}[row] = (max + {}(sum)) - {};", k.out(result, "loss"),
             t == "float" ? "logf" : "log",
             k.at(logits, "logits", "row * CLASSES + label"));
      return success();
    }
    k.comment(fmt::format("{} cross-entropy of softmax over {} rows of {} "
                          "classes: one block, a thread per row",
                          reduction == LossReduction::Mean ? "mean" : "summed",
                          rows, classes));
    int64_t block = std::min<int64_t>(256, (rows + 31) / 32 * 32);
    k.setGeometry({1, 1, 1}, {static_cast<uint32_t>(block), 1, 1});
    k.line("constexpr int ROWS = {}, CLASSES = {};", rows, classes);
    k.line("{} acc = {};", t, literal(0.0, type));
    k.open("for (int row = threadIdx.x; row < ROWS; row += blockDim.x) {{");
    emitRowSoftmax(k, logits, t, "row");
    emitLabel(k, ce.getLabels(), "row");
    k.line("acc += (max + {}(sum)) - {};", t == "float" ? "logf" : "log",
           k.at(logits, "logits", "row * CLASSES + label"));
    k.close();
    k.line("acc = kiln_block_sum(acc);");
    k.line("if (threadIdx.x == 0)");
    k.line("  {}[0] = acc{};", k.out(result, "loss"),
           reduction == LossReduction::Mean ? " * " + literal(1.0 / rows, type)
                                            : std::string());
    return success();
  }
  auto back = cast<SoftmaxCrossEntropyBackwardOp>(op);
  Value logits = back.getLogits(), result = back.getResult();
  int64_t rows = shapeOf(logits)[0], classes = shapeOf(logits)[1];
  Type type = result.getType();
  std::string t = cType(type);
  LossReduction reduction = back.getReduction();
  KernelBuilder &k = make("softmax_cross_entropy_backward");
  k.use({{back.getGrad(), "grad"},
         {logits, "logits"},
         {back.getLabels(), "labels"}});
  // Row factor: its own loss's gradient (none), the scalar gradient (sum),
  // or that over the row count (mean).
  std::string scale =
      reduction == LossReduction::None  ? k.at(back.getGrad(), "grad", "row")
      : reduction == LossReduction::Sum ? k.at(back.getGrad(), "grad", "0")
                                        : k.at(back.getGrad(), "grad", "0") +
                                              " * " + literal(1.0 / rows, type);
  k.comment(fmt::format("gradient of softmax cross-entropy ({}) for {} rows "
                        "of {} classes: (softmax - onehot) * {}",
                        reduction == LossReduction::None  ? "per row"
                        : reduction == LossReduction::Sum ? "summed"
                                                          : "mean",
                        rows, classes,
                        reduction == LossReduction::None  ? "grad[row]"
                        : reduction == LossReduction::Sum ? "grad"
                                                          : "grad / rows"));
  k.comment("one thread per logit, each recomputing its row's softmax");
  k.threadPerElement(rows * classes);
  k.line("constexpr int CLASSES = {};", classes);
  k.line("const int row = i / CLASSES, j = i % CLASSES;");
  emitRowSoftmax(k, logits, t, "row");
  emitLabel(k, back.getLabels(), "row");
  k.line("const {} scale = {};", t, scale);
  k.line("const {} p = {}({} - max) / sum;", t, t == "float" ? "expf" : "exp",
         k.at(logits, "logits", "i"));
  k.line("{}[i] = (p - (j == label ? {} : {})) * scale;",
         k.out(result, "result"), literal(1.0, type), literal(0.0, type));
  return success();
}

} // namespace kiln::cudagen
