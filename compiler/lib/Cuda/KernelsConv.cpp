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

// indices[i] = the window position `at` of maximum `best`, or -1 where
// relu left nothing above zero to pass a gradient back to.
void storeIndex(KernelBuilder &k, Value indices, const std::string &best,
                const std::string &zero) {
  k.line("{}[i] = ({})({} > {} ? at : -1);", k.out(indices, "indices"),
         cType(indices.getType()), best, zero);
}

// best = max(best, value); with `keepAt`, also at = position where the
// maximum first came (a later equal value does not move it).
void keepMax(KernelBuilder &k, const std::string &value,
             const std::string &position, bool keepAt) {
  if (!keepAt) {
    k.line("best = {0} > best ? {0} : best;", value);
    return;
  }
  k.open("if ({} > best) {{", value);
  k.line("best = {};", value);
  k.line("at = {};", position);
  k.close();
}

// One thread per pooled output: the first maximum of its window.
// With `indices`, also each window's first maximum (ki * K + kj), or -1
// where it is not above zero (the pooled input is a relu output).
void emitPool(KernelBuilder &k, Value input, Value result, int64_t kernel,
              int64_t stride, Value indices = Value()) {
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
  bool keep = indices && k.written(indices);
  k.line("{} best = {};", t, literal(-INFINITY, result.getType()));
  if (keep)
    k.line("int at = -1;");
  k.line("#pragma unroll");
  k.open("for (int ki = 0; ki < K; ++ki) {{");
  k.line("#pragma unroll");
  k.open("for (int kj = 0; kj < K; ++kj) {{");
  k.line("const {} v = {};", t,
         k.at(input, "input", "(plane * H + oh * S + ki) * W + ow * S + kj"));
  keepMax(k, "v", "ki * K + kj", keep);
  k.close();
  k.close();
  k.line("{}[i] = best;", k.out(result, "result"));
  if (keep)
    storeIndex(k, indices, "best", literal(0.0, result.getType()));
}

void emitConvReluPool(Conv2dReluPoolOp op, const MakeKernel &make) {
  ConvDims d =
      dimsOf(op.getInput(), op.getWeight(), op.getStride(), op.getPadding());
  int64_t kernel = op.getPoolKernel(), stride = op.getPoolStride();
  if (!poolTilesExactly(op)) {
    emitConv(make("conv2d_relu"), d, op.getInput(), op.getWeight(),
             op.getBias(), op.getActivation(), /*relu=*/true);
    emitPool(make("max_pool2d"), op.getActivation(), op.getPooled(), kernel,
             stride, op.getIndices());
    return;
  }
  KernelBuilder &k = make("conv2d_relu_pool");
  Value pooled = op.getPooled(), activation = op.getActivation();
  std::string t = cType(pooled.getType()),
              zero = literal(0.0, pooled.getType());
  int64_t ph = d.oh / kernel, pw = d.ow / kernel;
  bool keep = k.written(activation), keepIndices = k.written(op.getIndices());
  k.comment("conv2d " + describe(d) + ", relu, max_pool2d " +
            fmt::format("{}x{} stride {}", kernel, kernel, stride));
  k.comment(
      fmt::format("fused: one thread per pooled output computes its "
                  "window's {} convolution outputs{}{}",
                  kernel * kernel,
                  keep ? " and writes them, after relu, to activation" : "",
                  keepIndices ? ", keeping where the maximum was" : ""));
  k.threadPerElement(d.n * d.f * ph * pw);
  declareDims(k, d);
  k.line("constexpr int PK = {}, PH = {}, PW = {};", kernel, ph, pw);
  k.coordinates("i", {"n", "f", "ph", "pw"}, {d.n, d.f, ph, pw});
  k.line("{} best = {};", t, literal(-INFINITY, pooled.getType()));
  if (keepIndices)
    k.line("int at = -1;");
  k.open("for (int wi = 0; wi < PK; ++wi) {{");
  k.open("for (int wj = 0; wj < PK; ++wj) {{");
  k.line("const int oh = ph * PK + wi, ow = pw * PK + wj;");
  emitConvSum(k, d, op.getInput(), op.getWeight(), op.getBias(), t, "acc");
  k.line("const {} r = acc > {} ? acc : {};", t, zero, zero);
  if (keep)
    k.line("{}[((n * F + f) * OH + oh) * OW + ow] = r;",
           k.out(activation, "activation"));
  keepMax(k, "r", "wi * PK + wj", keepIndices);
  k.close();
  k.close();
  k.line("{}[i] = best;", k.out(pooled, "pooled"));
  if (keepIndices)
    storeIndex(k, op.getIndices(), "best", zero);
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

// The gradients of conv2d_relu_pool from the pooled gradient and the kept
// window positions alone: no kernel writes the whole-batch activation,
// pooling or relu gradient. The pre-activation gradient at (n, f, oh, ow) is
// the sum of the pooled gradients whose kept maximum sits there.
class ConvReluPoolBackward {
public:
  ConvReluPoolBackward(Conv2dReluPoolBackwardOp op)
      : op_(op), d_(dimsOf(op.getInput(), op.getWeight(), op.getStride(),
                           op.getPadding())),
        kernel_(op.getPoolKernel()), stride_(op.getPoolStride()) {
    auto pooled = shapeOf(op.getGrad());
    ph_ = pooled[2];
    pw_ = pooled[3];
  }

  void emit(const MakeKernel &make) {
    if (!op_.getBiasGrad().use_empty())
      emitBias(make("conv2d_relu_pool_backward_bias"));
    if (!op_.getWeightGrad().use_empty())
      emitFilter(make("conv2d_relu_pool_backward_filter"));
    if (!op_.getInputGrad().use_empty())
      emitInput(make("conv2d_relu_pool_backward_input"));
  }

private:
  std::string what() const {
    return fmt::format("gradient of conv2d {}, relu, max_pool2d {}x{} stride "
                       "{}",
                       describe(d_), kernel_, kernel_, stride_);
  }

  void declare(KernelBuilder &k) {
    declareDims(k, d_);
    k.line("constexpr int PK = {}, PS = {}, PH = {}, PW = {};", kernel_,
           stride_, ph_, pw_);
    k.use({{op_.getGrad(), "grad"}, {op_.getIndices(), "indices"}});
  }

  // One block per filter: the kept pooled gradients of its planes.
  void emitBias(KernelBuilder &k) {
    Value result = op_.getBiasGrad();
    std::string t = cType(result.getType());
    int64_t length = d_.n * ph_ * pw_;
    k.comment(what() + " for its bias");
    k.comment(fmt::format("one block per filter, summing the {} pooled "
                          "gradients whose window kept a maximum",
                          length));
    k.blockPerGroup(d_.f, length);
    declare(k);
    k.line("{} acc = {};", t, literal(0.0, result.getType()));
    k.open("for (int r = threadIdx.x; r < N * PH * PW; r += blockDim.x) {{");
    k.line("const int g = (r / (PH * PW) * F + group) * PH * PW + r % (PH * "
           "PW);");
    k.line("if ({} >= 0)", k.at(op_.getIndices(), "indices", "g"));
    k.line("  acc += {};", k.at(op_.getGrad(), "grad", "g"));
    k.close();
    k.line("acc = kiln_block_sum(acc);");
    k.line("if (threadIdx.x == 0)");
    k.line("  {}[group] = acc;", k.out(result, "bias_grad"));
  }

  // One block per weight, over the pooled windows: only a kept maximum's
  // convolution output has a gradient.
  void emitFilter(KernelBuilder &k) {
    Value result = op_.getWeightGrad();
    std::string t = cType(result.getType());
    int64_t length = d_.n * ph_ * pw_;
    k.comment(what() + " for its weights");
    k.comment(fmt::format("one block per weight, reducing over the {} pooled "
                          "windows: each kept maximum's gradient times the "
                          "input under it",
                          length));
    k.blockPerGroup(d_.f * d_.c * d_.kh * d_.kw, length);
    declare(k);
    k.use({{op_.getInput(), "input"}});
    k.coordinates("group", {"f", "c", "ki", "kj"}, {d_.f, d_.c, d_.kh, d_.kw});
    k.line("{} acc = {};", t, literal(0.0, result.getType()));
    k.open("for (int r = threadIdx.x; r < N * PH * PW; r += blockDim.x) {{");
    k.line("const int n = r / (PH * PW), ph = r / PW % PH, pw = r % PW;");
    k.line("const int g = ((n * F + f) * PH + ph) * PW + pw;");
    k.line("const int at = {};", k.at(op_.getIndices(), "indices", "g"));
    k.line("if (at < 0)");
    k.line("  continue;");
    k.line("const int oh = ph * PS + at / PK, ow = pw * PS + at % PK;");
    k.line("const int ih = oh * S + ki - P, iw = ow * S + kj - P;");
    if (d_.pad > 0) {
      k.line("if (ih < 0 || ih >= H || iw < 0 || iw >= W)");
      k.line("  continue;");
    }
    k.line("acc += {} * {};", k.at(op_.getGrad(), "grad", "g"),
           k.at(op_.getInput(), "input", "((n * C + c) * H + ih) * W + iw"));
    k.close();
    k.line("acc = kiln_block_sum(acc);");
    k.line("if (threadIdx.x == 0)");
    k.line("  {}[group] = acc;", k.out(result, "weight_grad"));
  }

  // routed(n, f, oh, ow): the pre-activation gradient, looked up in the
  // window over (oh, ow), or in each window over it when windows overlap.
  void emitRouted(KernelBuilder &k, const std::string &t,
                  const std::string &zero) {
    k.open("auto routed = [&](int n, int f, int oh, int ow) -> {} {{", t);
    std::string at = k.at(op_.getIndices(), "indices", "g");
    std::string grad = k.at(op_.getGrad(), "grad", "g");
    if (stride_ == kernel_) {
      k.line("const int ph = oh / PK, pw = ow / PK;");
      k.line("if (ph >= PH || pw >= PW)");
      k.line("  return {};", zero);
      k.line("const int g = ((n * F + f) * PH + ph) * PW + pw;");
      k.line("return {} == oh % PK * PK + ow % PK ? {} : {};", at, grad, zero);
    } else {
      k.line("const int ph0 = oh < PK ? 0 : (oh - PK) / PS + 1, "
             "ph1 = min(oh / PS, PH - 1);");
      k.line("const int pw0 = ow < PK ? 0 : (ow - PK) / PS + 1, "
             "pw1 = min(ow / PS, PW - 1);");
      k.line("{} sum = {};", t, zero);
      k.open("for (int ph = ph0; ph <= ph1; ++ph) {{");
      k.open("for (int pw = pw0; pw <= pw1; ++pw) {{");
      k.line("const int g = ((n * F + f) * PH + ph) * PW + pw;");
      k.line("if ({} == (oh - ph * PS) * PK + ow - pw * PS)", at);
      k.line("  sum += {};", grad);
      k.close();
      k.close();
      k.line("return sum;");
    }
    k.close("};");
  }

  // One thread per input element, over the convolution outputs it fed.
  void emitInput(KernelBuilder &k) {
    Value result = op_.getInputGrad();
    std::string t = cType(result.getType());
    std::string zero = literal(0.0, result.getType());
    k.comment(what() + " for its input");
    k.comment("one thread per input element, summing weight times the "
              "routed gradient of each output it fed");
    k.threadPerElement(d_.n * d_.c * d_.h * d_.w);
    declare(k);
    k.use({{op_.getWeight(), "weight"}});
    k.coordinates("i", {"n", "c", "ih", "iw"}, {d_.n, d_.c, d_.h, d_.w});
    emitRouted(k, t, zero);
    k.line("{} acc = {};", t, zero);
    k.open("for (int f = 0; f < F; ++f) {{");
    k.line("#pragma unroll");
    k.open("for (int ki = 0; ki < KH; ++ki) {{");
    k.line("const int th = ih + P - ki, oh = th / S;");
    k.line("{}", d_.stride == 1 ? "if (th < 0 || oh >= OH)"
                                : "if (th < 0 || th % S != 0 || oh >= OH)");
    k.line("  continue;");
    k.line("#pragma unroll");
    k.open("for (int kj = 0; kj < KW; ++kj) {{");
    k.line("const int tw = iw + P - kj, ow = tw / S;");
    k.line("{}", d_.stride == 1 ? "if (tw < 0 || ow >= OW)"
                                : "if (tw < 0 || tw % S != 0 || ow >= OW)");
    k.line("  continue;");
    k.line(
        "acc += {} * routed(n, f, oh, ow);",
        k.at(op_.getWeight(), "weight", "((f * C + c) * KH + ki) * KW + kj"));
    k.close();
    k.close();
    k.close();
    k.line("{}[i] = acc;", k.out(result, "input_grad"));
  }

  Conv2dReluPoolBackwardOp op_;
  ConvDims d_;
  int64_t kernel_, stride_, ph_ = 0, pw_ = 0;
};

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
  } else if (auto back = dyn_cast<Conv2dReluPoolBackwardOp>(op)) {
    ConvReluPoolBackward(back).emit(make);
  } else if (auto back = dyn_cast<Conv2dBackwardInputOp>(op)) {
    emitConvBackwardInput(back, make);
  } else {
    emitConvBackwardFilter(cast<Conv2dBackwardFilterOp>(op), make);
  }
  return success();
}

} // namespace kiln::cudagen
