// CUDA kernels for the optimizer updates: one thread per parameter element,
// reading each element before writing it, so they update in place. The
// arithmetic is the CPU lowering's (LowerOptimizer.cpp), in the same order.
#include "CudaEmitter.h"

using namespace mlir;

namespace kiln::cudagen {

namespace {

std::string optionText(const char *name, double value) {
  return fmt::format("{} {}", name, value);
}

// Writes `updated` from `old` unchanged when they are separate buffers (a
// state the options leave unused must still reach its result).
void passThrough(KernelBuilder &k, Value old, Value updated,
                 const std::string &hint) {
  if (k.sameBuffer(old, updated))
    return;
  std::string from = k.at(old, hint, "i");
  k.line("{}[i] = {};", k.out(updated, "new_" + hint), from);
}

LogicalResult emitSgd(SgdUpdateOp op, const MakeKernel &make) {
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double momentum = op.getMomentum().convertToDouble();
  double dampening = op.getDampening().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  KernelBuilder &k = make("sgd_update");
  k.comment(fmt::format("SGD (PyTorch's rule) over {} elements: {}, {}, {}, "
                        "{}{}; in place",
                        numElements(op.getParam()),
                        optionText("lr", op.getLr().convertToDouble()),
                        optionText("momentum", momentum),
                        optionText("dampening", dampening),
                        optionText("weight_decay", weightDecay),
                        op.getNesterov() ? ", nesterov" : ""));
  k.threadPerElement(numElements(op.getParam()));
  k.line("const {} p = {};", t, k.at(op.getParam(), "param", "i"));
  k.line("{} g = {};", t, k.at(op.getGrad(), "grad", "i"));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  if (momentum == 0) {
    passThrough(k, op.getMomentumBuffer(), op.getNewMomentumBuffer(),
                "momentum_buffer");
  } else {
    // The first step (no update done yet) starts the buffer at g.
    std::string first = k.at(op.getStep(), "step", "0") + " == 0";
    std::string old = k.at(op.getMomentumBuffer(), "momentum_buffer", "i");
    k.line("const {} m = {} ? g : {} * {} + {} * g;", t, first, c(momentum),
           old, c(1.0 - dampening));
    k.line("{}[i] = m;",
           k.out(op.getNewMomentumBuffer(), "new_momentum_buffer"));
    if (op.getNesterov())
      k.line("g = g + {} * m;", c(momentum));
    else
      k.line("g = m;");
  }
  k.line("{}[i] = p - {} * g;", k.out(op.getNewParam(), "new_param"),
         c(op.getLr().convertToDouble()));
  return success();
}

LogicalResult emitAdam(AdamUpdateOp op, const MakeKernel &make) {
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double beta1 = op.getBeta1().convertToDouble();
  double beta2 = op.getBeta2().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  KernelBuilder &k = make("adam_update");
  k.comment(fmt::format("Adam (PyTorch's rule) over {} elements: {}, {}, {}, "
                        "{}, {}{}; in place",
                        numElements(op.getParam()),
                        optionText("lr", op.getLr().convertToDouble()),
                        optionText("beta1", beta1), optionText("beta2", beta2),
                        optionText("eps", op.getEps().convertToDouble()),
                        optionText("weight_decay", weightDecay),
                        op.getAmsgrad() ? ", amsgrad" : ""));
  k.threadPerElement(numElements(op.getParam()));
  // Bias corrections in double, as PyTorch computes them in Python floats.
  k.line("const double t = (double)({} + 1);", k.at(op.getStep(), "step", "0"));
  k.line("const {} step_size = ({})({:.17g} / (1.0 - pow({:.17g}, t)));", t, t,
         op.getLr().convertToDouble(), beta1);
  k.line("const {} correction2 = ({})sqrt(1.0 - pow({:.17g}, t));", t, t,
         beta2);
  k.line("const {} p = {};", t, k.at(op.getParam(), "param", "i"));
  k.line("{} g = {};", t, k.at(op.getGrad(), "grad", "i"));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  k.line("const {} m = {} * {} + {} * g;", t, c(beta1),
         k.at(op.getExpAvg(), "exp_avg", "i"), c(1.0 - beta1));
  k.line("const {} v = {} * {} + {} * (g * g);", t, c(beta2),
         k.at(op.getExpAvgSq(), "exp_avg_sq", "i"), c(1.0 - beta2));
  k.line("{}[i] = m;", k.out(op.getNewExpAvg(), "new_exp_avg"));
  k.line("{}[i] = v;", k.out(op.getNewExpAvgSq(), "new_exp_avg_sq"));
  std::string second = "v";
  if (op.getAmsgrad()) {
    std::string old = k.at(op.getMaxExpAvgSq(), "max_exp_avg_sq", "i");
    k.line("const {} vmax = {} > v ? {} : v;", t, old, old);
    k.line("{}[i] = vmax;",
           k.out(op.getNewMaxExpAvgSq(), "new_max_exp_avg_sq"));
    second = "vmax";
  } else {
    passThrough(k, op.getMaxExpAvgSq(), op.getNewMaxExpAvgSq(),
                "max_exp_avg_sq");
  }
  k.line("const {} denom = {}({}) / correction2 + {};", t,
         t == "float" ? "sqrtf" : "sqrt", second,
         c(op.getEps().convertToDouble()));
  k.line("{}[i] = p - step_size * (m / denom);",
         k.out(op.getNewParam(), "new_param"));
  return success();
}

LogicalResult emitRmsProp(RmsPropUpdateOp op, const MakeKernel &make) {
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double alpha = op.getAlpha().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  double momentum = op.getMomentum().convertToDouble();
  KernelBuilder &k = make("rmsprop_update");
  k.comment(fmt::format("RMSProp (PyTorch's rule) over {} elements: {}, {}, "
                        "{}, {}, {}{}; in place",
                        numElements(op.getParam()),
                        optionText("lr", op.getLr().convertToDouble()),
                        optionText("alpha", alpha),
                        optionText("eps", op.getEps().convertToDouble()),
                        optionText("weight_decay", weightDecay),
                        optionText("momentum", momentum),
                        op.getCentered() ? ", centered" : ""));
  k.threadPerElement(numElements(op.getParam()));
  k.line("const {} p = {};", t, k.at(op.getParam(), "param", "i"));
  k.line("{} g = {};", t, k.at(op.getGrad(), "grad", "i"));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  k.line("const {} s = {} * {} + {} * (g * g);", t, c(alpha),
         k.at(op.getSquareAvg(), "square_avg", "i"), c(1.0 - alpha));
  k.line("{}[i] = s;", k.out(op.getNewSquareAvg(), "new_square_avg"));
  std::string variance = "s";
  if (op.getCentered()) {
    k.line("const {} a = {} * {} + {} * g;", t, c(alpha),
           k.at(op.getGradAvg(), "grad_avg", "i"), c(1.0 - alpha));
    k.line("{}[i] = a;", k.out(op.getNewGradAvg(), "new_grad_avg"));
    variance = "s - a * a";
  } else {
    passThrough(k, op.getGradAvg(), op.getNewGradAvg(), "grad_avg");
  }
  k.line("const {} avg = {}({}) + {};", t, t == "float" ? "sqrtf" : "sqrt",
         variance, c(op.getEps().convertToDouble()));
  std::string step = "g / avg";
  if (momentum > 0) {
    k.line("const {} buf = {} * {} + g / avg;", t, c(momentum),
           k.at(op.getMomentumBuffer(), "momentum_buffer", "i"));
    k.line("{}[i] = buf;",
           k.out(op.getNewMomentumBuffer(), "new_momentum_buffer"));
    step = "buf";
  } else {
    passThrough(k, op.getMomentumBuffer(), op.getNewMomentumBuffer(),
                "momentum_buffer");
  }
  k.line("{}[i] = p - {} * ({});", k.out(op.getNewParam(), "new_param"),
         c(op.getLr().convertToDouble()), step);
  return success();
}

} // namespace

LogicalResult emitOptimizerOp(Operation *op, const EntryContext &,
                              const MakeKernel &make) {
  if (auto adam = dyn_cast<AdamUpdateOp>(op))
    return emitAdam(adam, make);
  if (auto rms = dyn_cast<RmsPropUpdateOp>(op))
    return emitRmsProp(rms, make);
  return emitSgd(cast<SgdUpdateOp>(op), make);
}

} // namespace kiln::cudagen
