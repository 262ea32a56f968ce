// CUDA kernels for the optimizer updates: one thread per parameter element,
// reading each element before writing it, so they update in place. Updates
// of one kind and options share one kernel over all their parameters. The
// arithmetic is the CPU lowering's (LowerOptimizer.cpp), in the same order.
#include "CudaEmitter.h"

#include <algorithm>
#include <map>

using namespace mlir;

namespace kiln::cudagen {

namespace {

// Operand names of each update; result r updates operand 0 (r = 0) or the
// state operand r + 1. The step comes last.
std::vector<std::string> operandNames(Operation *op) {
  if (isa<AdamUpdateOp>(op))
    return {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  if (isa<RmsPropUpdateOp>(op))
    return {"param", "grad", "square_avg", "momentum_buffer", "grad_avg"};
  return {"param", "grad", "momentum_buffer"};
}

unsigned updatedOperand(unsigned result) {
  return result == 0 ? 0 : result + 1;
}

/// Element access for the update code: `read(k)` is operand k's element,
/// `write(r)` result r's. With several parameters, each thread first picks
/// its parameter's pointers (a chain of range tests) into locals named after
/// the operands.
class Access {
public:
  Access(KernelBuilder &k, ArrayRef<Operation *> ops) {
    Operation *first = ops.front();
    std::vector<std::string> names = operandNames(first);
    std::string t = cType(first->getOperand(0).getType());
    int64_t total = 0;
    for (Operation *op : ops)
      total += numElements(op->getOperand(0));
    k.threadPerElement(total);
    if (ops.size() == 1) {
      for (unsigned i = 0; i < names.size(); ++i) {
        // A splat constant (a gradient folded to one value) is a literal.
        Value operand = first->getOperand(i);
        std::string literal = k.at(operand, names[i], "@");
        literals_.push_back(literal.find('@') == std::string::npos);
        operands_.push_back(literals_.back() ? literal
                                             : k.in(operand, names[i]));
      }
      for (unsigned r = 0; r < first->getNumResults(); ++r)
        results_.push_back(
            k.out(first->getResult(r), "new_" + names[updatedOperand(r)]));
      step_ = k.at(first->getOperands().back(), "step", "0");
      index_ = "i";
      return;
    }
    // Locals: one per operand, and one per result not written in place.
    operands_ = names;
    literals_.assign(names.size(), false);
    for (unsigned r = 0; r < first->getNumResults(); ++r) {
      const std::string &updated = names[updatedOperand(r)];
      results_.push_back(k.sameBuffer(first->getResult(r),
                                      first->getOperand(updatedOperand(r)))
                             ? updated
                             : "new_" + updated);
    }
    std::vector<std::string> locals = operands_;
    for (const std::string &result : results_) {
      if (std::find(locals.begin(), locals.end(), result) == locals.end())
        locals.push_back(result);
    }
    // Each parameter's pointers, bound as kernel parameters name_<n>.
    std::vector<std::map<std::string, std::string>> bound(ops.size());
    for (auto [n, op] : llvm::enumerate(ops)) {
      std::string suffix = "_" + std::to_string(n);
      for (unsigned i = 0; i < names.size(); ++i)
        bound[n][names[i]] = k.in(op->getOperand(i), names[i] + suffix);
      for (unsigned r = 0; r < op->getNumResults(); ++r)
        bound[n][results_[r]] = k.out(op->getResult(r), results_[r] + suffix);
    }
    step_ = k.at(first->getOperands().back(), "step", "0");
    k.line("int j = i;");
    for (const std::string &local : locals) {
      bool written =
          std::find(results_.begin(), results_.end(), local) != results_.end();
      k.line("{}{} *{};", written ? "" : "const ", t, local);
    }
    int64_t start = 0;
    for (auto [n, op] : llvm::enumerate(ops)) {
      int64_t end = start + numElements(op->getOperand(0));
      if (n == 0)
        k.open("if (i < {}) {{", end);
      else if (n + 1 < ops.size())
        k.reopen("}} else if (i < {}) {{", end);
      else
        k.reopen("}} else {{");
      if (start > 0)
        k.line("j = i - {};", start);
      for (const std::string &local : locals)
        k.line("{} = {};", local, bound[n][local]);
      start = end;
    }
    k.close();
    index_ = "j";
  }

  std::string read(unsigned operand) const {
    if (literals_[operand])
      return operands_[operand];
    return operands_[operand] + "[" + index_ + "]";
  }
  std::string write(unsigned result) const {
    return results_[result] + "[" + index_ + "]";
  }
  /// Writes result r from the operand it updates when they are separate
  /// buffers: a state the options leave unused still reaches its result.
  void passThrough(KernelBuilder &k, unsigned result) const {
    if (results_[result] != operands_[updatedOperand(result)])
      k.line("{} = {};", write(result), read(updatedOperand(result)));
  }
  const std::string &step() const { return step_; }

private:
  std::vector<std::string> operands_, results_;
  std::vector<bool> literals_;
  std::string index_, step_;
};

std::string describe(ArrayRef<Operation *> ops, const char *what,
                     const std::string &options) {
  int64_t total = 0;
  for (Operation *op : ops)
    total += numElements(op->getOperand(0));
  std::string where =
      ops.size() == 1
          ? fmt::format("{} elements", total)
          : fmt::format("{} parameters ({} elements)", ops.size(), total);
  return fmt::format("{} (PyTorch's rule) over {}: {}; in place", what, where,
                     options);
}

void emitSgd(ArrayRef<Operation *> ops, const MakeKernel &make) {
  auto op = cast<SgdUpdateOp>(ops.front());
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double lr = op.getLr().convertToDouble();
  double momentum = op.getMomentum().convertToDouble();
  double dampening = op.getDampening().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  KernelBuilder &k = make("sgd_update");
  k.comment(describe(ops, "SGD",
                     fmt::format("lr {}, momentum {}, dampening {}, "
                                 "weight_decay {}{}",
                                 lr, momentum, dampening, weightDecay,
                                 op.getNesterov() ? ", nesterov" : "")));
  Access a(k, ops);
  k.line("const {} p = {};", t, a.read(0));
  k.line("{} g = {};", t, a.read(1));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  if (momentum == 0) {
    a.passThrough(k, 1); // without momentum the buffer is unused
  } else {
    // The first step (no update done yet) starts the buffer at g.
    k.line("const {} m = {} == 0 ? g : {} * {} + {} * g;", t, a.step(),
           c(momentum), a.read(2), c(1.0 - dampening));
    k.line("{} = m;", a.write(1));
    if (op.getNesterov())
      k.line("g = g + {} * m;", c(momentum));
    else
      k.line("g = m;");
  }
  k.line("{} = p - {} * g;", a.write(0), c(lr));
}

void emitAdam(ArrayRef<Operation *> ops, const MakeKernel &make) {
  auto op = cast<AdamUpdateOp>(ops.front());
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double lr = op.getLr().convertToDouble();
  double beta1 = op.getBeta1().convertToDouble();
  double beta2 = op.getBeta2().convertToDouble();
  double eps = op.getEps().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  KernelBuilder &k = make("adam_update");
  k.comment(describe(ops, "Adam",
                     fmt::format("lr {}, beta1 {}, beta2 {}, eps {}, "
                                 "weight_decay {}{}",
                                 lr, beta1, beta2, eps, weightDecay,
                                 op.getAmsgrad() ? ", amsgrad" : "")));
  Access a(k, ops);
  // Bias corrections in double, as PyTorch computes them in Python floats.
  k.line("const double t = (double)({} + 1);", a.step());
  k.line("const {} step_size = ({})({:.17g} / (1.0 - pow({:.17g}, t)));", t, t,
         lr, beta1);
  k.line("const {} correction2 = ({})sqrt(1.0 - pow({:.17g}, t));", t, t,
         beta2);
  k.line("const {} p = {};", t, a.read(0));
  k.line("{} g = {};", t, a.read(1));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  k.line("const {} m = {} * {} + {} * g;", t, c(beta1), a.read(2),
         c(1.0 - beta1));
  k.line("const {} v = {} * {} + {} * (g * g);", t, c(beta2), a.read(3),
         c(1.0 - beta2));
  k.line("{} = m;", a.write(1));
  k.line("{} = v;", a.write(2));
  std::string second = "v";
  if (op.getAmsgrad()) {
    k.line("const {} vmax = {} > v ? {} : v;", t, a.read(4), a.read(4));
    k.line("{} = vmax;", a.write(3));
    second = "vmax";
  } else {
    a.passThrough(k, 3);
  }
  k.line("const {} denom = {}({}) / correction2 + {};", t,
         t == "float" ? "sqrtf" : "sqrt", second, c(eps));
  k.line("{} = p - step_size * (m / denom);", a.write(0));
}

void emitRmsProp(ArrayRef<Operation *> ops, const MakeKernel &make) {
  auto op = cast<RmsPropUpdateOp>(ops.front());
  Type type = op.getParam().getType();
  auto c = [&](double value) { return literal(value, type); };
  std::string t = cType(type);
  double lr = op.getLr().convertToDouble();
  double alpha = op.getAlpha().convertToDouble();
  double eps = op.getEps().convertToDouble();
  double weightDecay = op.getWeightDecay().convertToDouble();
  double momentum = op.getMomentum().convertToDouble();
  KernelBuilder &k = make("rmsprop_update");
  k.comment(describe(ops, "RMSProp",
                     fmt::format("lr {}, alpha {}, eps {}, weight_decay {}, "
                                 "momentum {}{}",
                                 lr, alpha, eps, weightDecay, momentum,
                                 op.getCentered() ? ", centered" : "")));
  Access a(k, ops);
  std::string sqrt = t == "float" ? "sqrtf" : "sqrt";
  k.line("const {} p = {};", t, a.read(0));
  k.line("{} g = {};", t, a.read(1));
  if (weightDecay != 0)
    k.line("g = g + {} * p;", c(weightDecay));
  k.line("const {} s = {} * {} + {} * (g * g);", t, c(alpha), a.read(2),
         c(1.0 - alpha));
  k.line("{} = s;", a.write(1));
  std::string variance = "s";
  if (op.getCentered()) {
    k.line("const {} a = {} * {} + {} * g;", t, c(alpha), a.read(4),
           c(1.0 - alpha));
    k.line("{} = a;", a.write(3));
    variance = "s - a * a";
  } else {
    a.passThrough(k, 3);
  }
  k.line("const {} avg = {}({}) + {};", t, sqrt, variance, c(eps));
  std::string step = "g / avg";
  if (momentum > 0) {
    k.line("const {} buf = {} * {} + g / avg;", t, c(momentum), a.read(3));
    k.line("{} = buf;", a.write(2));
    step = "buf";
  } else {
    a.passThrough(k, 2);
  }
  k.line("{} = p - {} * ({});", a.write(0), c(lr), step);
}

// Which results an update writes over its operands: updates share a kernel
// only when they agree, and have no constant operand.
std::vector<bool> inPlacePattern(const EntryContext &context, Operation *op) {
  std::vector<bool> pattern;
  for (unsigned r = 0; r < op->getNumResults(); ++r)
    pattern.push_back(context.slot(op->getResult(r)) ==
                      context.slot(op->getOperand(updatedOperand(r))));
  return pattern;
}

} // namespace

void emitUpdates(ArrayRef<Operation *> updates, const EntryContext &context,
                 const MakeKernel &make) {
  // Split by in-place pattern, keeping program order within each part.
  std::vector<std::pair<std::vector<bool>, std::vector<Operation *>>> parts;
  for (Operation *op : updates) {
    std::vector<bool> pattern = inPlacePattern(context, op);
    bool constant = llvm::any_of(op->getOperands(), [&](Value operand) {
      return context.splat(operand).has_value();
    });
    auto it = constant ? parts.end()
                       : std::find_if(parts.begin(), parts.end(),
                                      [&](const auto &part) {
                                        return part.first == pattern;
                                      });
    if (it == parts.end())
      parts.push_back({pattern, {op}});
    else
      it->second.push_back(op);
  }
  for (auto &[pattern, ops] : parts) {
    if (isa<AdamUpdateOp>(ops.front()))
      emitAdam(ops, make);
    else if (isa<RmsPropUpdateOp>(ops.front()))
      emitRmsProp(ops, make);
    else
      emitSgd(ops, make);
  }
}

} // namespace kiln::cudagen
