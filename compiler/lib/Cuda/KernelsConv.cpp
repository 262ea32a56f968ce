// CUDA kernels for convolution, pooling and their gradients. Each writes
// every output element once (gathers, no atomics): the forward ops and the
// input gradients take one thread per output element, the filter gradient
// one block per weight, reducing over the batch and the image.
#include "CudaEmitter.h"

using namespace mlir;

namespace kiln::cudagen {

namespace {

struct ConvDims {
  int64_t n, c, h, w, f, kh, kw, oh, ow, stride, pad;
};

ConvDims dimsOf(Value input, Value weight, int64_t stride, int64_t pad) {
  auto x = shapeOf(input), k = shapeOf(weight);
  ConvDims d{x[0], x[1], x[2], x[3], k[0], k[2], k[3], 0, 0, stride, pad};
  d.oh = convOutputSize(d.h, d.kh, stride, pad);
  d.ow = convOutputSize(d.w, d.kw, stride, pad);
  return d;
}

std::string describe(const ConvDims &d) {
  return fmt::format("[{},{},{},{}] * [{},{},{},{}] -> [{},{},{},{}], stride "
                     "{}, padding {}",
                     d.n, d.c, d.h, d.w, d.f, d.c, d.kh, d.kw, d.n, d.f, d.oh,
                     d.ow, d.stride, d.pad);
}

void declareDims(KernelBuilder &k, const ConvDims &d) {
  k.line("constexpr int N = {}, C = {}, H = {}, W = {}, F = {}, KH = {}, "
         "KW = {};",
         d.n, d.c, d.h, d.w, d.f, d.kh, d.kw);
  k.line("constexpr int OH = {}, OW = {}, S = {}, P = {};", d.oh, d.ow,
         d.stride, d.pad);
}

// acc = bias[f] + the convolution at output (n, f, oh, ow), taps in (c, ki,
// kj) order as the CPU lowering sums them.
void emitConvSum(KernelBuilder &k, const ConvDims &d, Value input, Value weight,
                 Value bias, const std::string &t, const std::string &acc) {
  k.use({{input, "input"}, {weight, "weight"}, {bias, "bias"}});
  k.line("{} {} = {};", t, acc,
         bias ? k.at(bias, "bias", "f") : literal(0.0, input.getType()));
  k.open("for (int c = 0; c < C; ++c) {{");
  k.line("#pragma unroll");
  k.open("for (int ki = 0; ki < KH; ++ki) {{");
  k.line("const int ih = oh * S + ki - P;");
  if (d.pad > 0) {
    k.line("if (ih < 0 || ih >= H)");
    k.line("  continue;");
  }
  k.line("#pragma unroll");
  k.open("for (int kj = 0; kj < KW; ++kj) {{");
  k.line("const int iw = ow * S + kj - P;");
  if (d.pad > 0) {
    k.line("if (iw < 0 || iw >= W)");
    k.line("  continue;");
  }
  k.line("{} += {} * {};", acc,
         k.at(weight, "weight", "((f * C + c) * KH + ki) * KW + kj"),
         k.at(input, "input", "((n * C + c) * H + ih) * W + iw"));
  k.close();
  k.close();
  k.close();
}

// One thread per convolution output, optionally through relu.
void emitConv(KernelBuilder &k, const ConvDims &d, Value input, Value weight,
              Value bias, Value result, bool relu) {
  std::string t = cType(result.getType());
  k.comment(std::string(relu ? "conv2d and relu " : "conv2d ") + describe(d) +
            ", one thread per output");
  k.threadPerElement(d.n * d.f * d.oh * d.ow);
  declareDims(k, d);
  k.coordinates("i", {"n", "f", "oh", "ow"}, {d.n, d.f, d.oh, d.ow});
  emitConvSum(k, d, input, weight, bias, t, "acc");
  std::string zero = literal(0.0, result.getType());
  k.line("{}[i] = {};", k.out(result, relu ? "activation" : "result"),
         relu ? "acc > " + zero + " ? acc : " + zero : std::string("acc"));
}

// One thread per pooled output: the first maximum of its window.
void emitPool(KernelBuilder &k, Value input, Value result, int64_t kernel,
              int64_t stride) {
  auto x = shapeOf(input), y = shapeOf(result);
  std::string t = cType(result.getType());
  k.comment(fmt::format("max_pool2d [{},{},{},{}] -> [{},{},{},{}], window "
                        "{}, stride {}, one thread per output",
                        x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3], kernel,
                        stride));
  k.threadPerElement(numElements(result));
  k.line("constexpr int H = {}, W = {}, K = {}, S = {};", x[2], x[3], kernel,
         stride);
  k.coordinates("i", {"plane", "oh", "ow"}, {y[0] * y[1], y[2], y[3]});
  k.line("{} best = {};", t, literal(-INFINITY, result.getType()));
  k.line("#pragma unroll");
  k.open("for (int ki = 0; ki < K; ++ki) {{");
  k.line("#pragma unroll");
  k.open("for (int kj = 0; kj < K; ++kj) {{");
  k.line("const {} v = {};", t,
         k.at(input, "input", "(plane * H + oh * S + ki) * W + ow * S + kj"));
  k.line("best = v > best ? v : best;");
  k.close();
  k.close();
  k.line("{}[i] = best;", k.out(result, "result"));
}

void emitConvReluPool(Conv2dReluPoolOp op, const MakeKernel &make) {
  ConvDims d =
      dimsOf(op.getInput(), op.getWeight(), op.getStride(), op.getPadding());
  int64_t kernel = op.getPoolKernel(), stride = op.getPoolStride();
  if (!poolTilesExactly(op)) {
    emitConv(make("conv2d_relu"), d, op.getInput(), op.getWeight(),
             op.getBias(), op.getActivation(), /*relu=*/true);
    emitPool(make("max_pool2d"), op.getActivation(), op.getPooled(), kernel,
             stride);
    return;
  }
  KernelBuilder &k = make("conv2d_relu_pool");
  Value pooled = op.getPooled(), activation = op.getActivation();
  std::string t = cType(pooled.getType()),
              zero = literal(0.0, pooled.getType());
  int64_t ph = d.oh / kernel, pw = d.ow / kernel;
  bool keep = k.written(activation);
  k.comment("conv2d " + describe(d) + ", relu, max_pool2d " +
            fmt::format("{}x{} stride {}", kernel, kernel, stride));
  k.comment(
      fmt::format("fused: one thread per pooled output computes its "
                  "window's {} convolution outputs{}",
                  kernel * kernel,
                  keep ? " and writes them, after relu, to activation" : ""));
  k.threadPerElement(d.n * d.f * ph * pw);
  declareDims(k, d);
  k.line("constexpr int PK = {}, PH = {}, PW = {};", kernel, ph, pw);
  k.coordinates("i", {"n", "f", "ph", "pw"}, {d.n, d.f, ph, pw});
  k.line("{} best = {};", t, literal(-INFINITY, pooled.getType()));
  k.open("for (int wi = 0; wi < PK; ++wi) {{");
  k.open("for (int wj = 0; wj < PK; ++wj) {{");
  k.line("const int oh = ph * PK + wi, ow = pw * PK + wj;");
  emitConvSum(k, d, op.getInput(), op.getWeight(), op.getBias(), t, "acc");
  k.line("const {} r = acc > {} ? acc : {};", t, zero, zero);
  if (keep)
    k.line("{}[((n * F + f) * OH + oh) * OW + ow] = r;",
           k.out(activation, "activation"));
  k.line("best = r > best ? r : best;");
  k.close();
  k.close();
  k.line("{}[i] = best;", k.out(pooled, "pooled"));
}

void emitPoolBackward(MaxPool2dBackwardOp op, const MakeKernel &make) {
  Value input = op.getInput(), grad = op.getGrad(), result = op.getResult();
  auto x = shapeOf(input), y = shapeOf(grad);
  int64_t kernel = op.getKernel(), stride = op.getStride();
  std::string t = cType(result.getType());
  KernelBuilder &k = make("max_pool2d_backward");
  k.comment(fmt::format("gradient of max_pool2d [{},{},{},{}] -> "
                        "[{},{},{},{}], window {}, stride {}",
                        x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3], kernel,
                        stride));
  k.comment("one thread per input element: the sum of the gradients of the "
            "windows whose first maximum it is");
  k.threadPerElement(numElements(result));
  k.line("constexpr int H = {}, W = {}, OH = {}, OW = {}, K = {}, S = {};",
         x[2], x[3], y[2], y[3], kernel, stride);
  k.coordinates("i", {"plane", "h", "w"}, {x[0] * x[1], x[2], x[3]});
  k.line("{} acc = {};", t, literal(0.0, result.getType()));
  // Windows (oh, ow) with oh * S <= h < oh * S + K.
  k.line(
      "const int oh0 = h < K ? 0 : (h - K) / S + 1, oh1 = min(h / S, OH - 1);");
  k.line(
      "const int ow0 = w < K ? 0 : (w - K) / S + 1, ow1 = min(w / S, OW - 1);");
  k.open("for (int oh = oh0; oh <= oh1; ++oh) {{");
  k.open("for (int ow = ow0; ow <= ow1; ++ow) {{");
  k.line("{} best = {};", t, literal(-INFINITY, result.getType()));
  k.line("int at = oh * S * W + ow * S;");
  k.line("#pragma unroll");
  k.open("for (int ki = 0; ki < K; ++ki) {{");
  k.line("#pragma unroll");
  k.open("for (int kj = 0; kj < K; ++kj) {{");
  k.line("const int here = (oh * S + ki) * W + ow * S + kj;");
  k.line("const {} v = {};", t, k.at(input, "input", "plane * H * W + here"));
  k.open("if (v > best) {{");
  k.line("best = v;");
  k.line("at = here;");
  k.close();
  k.close();
  k.close();
  k.line("if (at == h * W + w)");
  k.line("  acc += {};", k.at(grad, "grad", "(plane * OH + oh) * OW + ow"));
  k.close();
  k.close();
  k.line("{}[i] = acc;", k.out(result, "result"));
}

void emitConvBackwardInput(Conv2dBackwardInputOp op, const MakeKernel &make) {
  ConvDims d =
      dimsOf(op.getResult(), op.getWeight(), op.getStride(), op.getPadding());
  Value result = op.getResult();
  std::string t = cType(result.getType());
  KernelBuilder &k = make("conv2d_backward_input");
  k.comment("gradient of conv2d " + describe(d) + " for its input");
  k.comment("one thread per input element, summing over the outputs it fed");
  k.threadPerElement(d.n * d.c * d.h * d.w);
  declareDims(k, d);
  k.coordinates("i", {"n", "c", "ih", "iw"}, {d.n, d.c, d.h, d.w});
  k.use({{op.getGrad(), "grad"}, {op.getWeight(), "weight"}});
  k.line("{} acc = {};", t, literal(0.0, result.getType()));
  k.open("for (int f = 0; f < F; ++f) {{");
  k.line("#pragma unroll");
  k.open("for (int ki = 0; ki < KH; ++ki) {{");
  k.line("const int th = ih + P - ki, oh = th / S;");
  k.line("{}", d.stride == 1 ? "if (th < 0 || oh >= OH)"
                             : "if (th < 0 || th % S != 0 || oh >= OH)");
  k.line("  continue;");
  k.line("#pragma unroll");
  k.open("for (int kj = 0; kj < KW; ++kj) {{");
  k.line("const int tw = iw + P - kj, ow = tw / S;");
  k.line("{}", d.stride == 1 ? "if (tw < 0 || ow >= OW)"
                             : "if (tw < 0 || tw % S != 0 || ow >= OW)");
  k.line("  continue;");
  k.line("acc += {} * {};",
         k.at(op.getWeight(), "weight", "((f * C + c) * KH + ki) * KW + kj"),
         k.at(op.getGrad(), "grad", "((n * F + f) * OH + oh) * OW + ow"));
  k.close();
  k.close();
  k.close();
  k.line("{}[i] = acc;", k.out(result, "result"));
}

void emitConvBackwardFilter(Conv2dBackwardFilterOp op, const MakeKernel &make) {
  ConvDims d =
      dimsOf(op.getInput(), op.getResult(), op.getStride(), op.getPadding());
  Value result = op.getResult();
  std::string t = cType(result.getType());
  int64_t length = d.n * d.oh * d.ow;
  KernelBuilder &k = make("conv2d_backward_filter");
  k.comment("gradient of conv2d " + describe(d) + " for its weights");
  k.comment(fmt::format("one block per weight, reducing {} products over "
                        "the batch and the output image",
                        length));
  k.blockPerGroup(d.f * d.c * d.kh * d.kw, length);
  declareDims(k, d);
  k.coordinates("group", {"f", "c", "ki", "kj"}, {d.f, d.c, d.kh, d.kw});
  k.use({{op.getGrad(), "grad"}, {op.getInput(), "input"}});
  k.line("{} acc = {};", t, literal(0.0, result.getType()));
  k.open("for (int r = threadIdx.x; r < N * OH * OW; r += blockDim.x) {{");
  k.line("const int n = r / (OH * OW), oh = r / OW % OH, ow = r % OW;");
  k.line("const int ih = oh * S + ki - P, iw = ow * S + kj - P;");
  if (d.pad > 0) {
    k.line("if (ih < 0 || ih >= H || iw < 0 || iw >= W)");
    k.line("  continue;");
  }
  k.line("acc += {} * {};",
         k.at(op.getGrad(), "grad", "((n * F + f) * OH + oh) * OW + ow"),
         k.at(op.getInput(), "input", "((n * C + c) * H + ih) * W + iw"));
  k.close();
  k.line("acc = kiln_block_sum(acc);");
  k.line("if (threadIdx.x == 0)");
  k.line("  {}[group] = acc;", k.out(result, "result"));
}

} // namespace

bool poolTilesExactly(Conv2dReluPoolOp op) {
  ConvDims d =
      dimsOf(op.getInput(), op.getWeight(), op.getStride(), op.getPadding());
  int64_t kernel = op.getPoolKernel();
  return op.getPoolStride() == kernel && d.oh % kernel == 0 &&
         d.ow % kernel == 0;
}

LogicalResult emitConvOp(Operation *op, const EntryContext &,
                         const MakeKernel &make) {
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    ConvDims d = dimsOf(conv.getInput(), conv.getWeight(), conv.getStride(),
                        conv.getPadding());
    emitConv(make("conv2d"), d, conv.getInput(), conv.getWeight(),
             conv.getBias(), conv.getResult(), /*relu=*/false);
  } else if (auto fused = dyn_cast<Conv2dReluPoolOp>(op)) {
    emitConvReluPool(fused, make);
  } else if (auto pool = dyn_cast<MaxPool2dOp>(op)) {
    emitPool(make("max_pool2d"), pool.getInput(), pool.getResult(),
             pool.getKernel(), pool.getStride());
  } else if (auto back = dyn_cast<MaxPool2dBackwardOp>(op)) {
    emitPoolBackward(back, make);
  } else if (auto back = dyn_cast<Conv2dBackwardInputOp>(op)) {
    emitConvBackwardInput(back, make);
  } else {
    emitConvBackwardFilter(cast<Conv2dBackwardFilterOp>(op), make);
  }
  return success();
}

} // namespace kiln::cudagen
