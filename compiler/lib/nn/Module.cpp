// Modules: parameter registration with PyTorch's default initialisation,
// dotted names, tracing of layers, and the printable summary.
#include "kiln/nn/Module.h"

#include "kiln/runtime/Error.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace kiln {

Generator &defaultGenerator() {
  static Generator generator(0);
  return generator;
}

void manualSeed(uint64_t seed) { defaultGenerator() = Generator(seed); }

namespace nn {

Var Module::operator()(Var x) {
  Var y = forward(x);
  std::string path = prefix_.empty() ? "" : prefix_.substr(0, prefix_.size() - 1);
  y.graph().recordLayer({path.empty() ? "(model)" : path, typeName_, y.shape()});
  return y;
}

Tensor Module::registerParameter(const std::string &name,
                                 std::vector<int64_t> shape, double bound) {
  Tensor value = uniformTensor(std::move(shape), -bound, bound,
                               defaultGenerator());
  params_.emplace_back(name, value);
  return value;
}

void Module::adopt(const std::string &name, std::shared_ptr<Module> child) {
  child->setPrefix(prefix_ + name + ".");
  children_.emplace_back(name, std::move(child));
}

void Module::setPrefix(const std::string &prefix) {
  prefix_ = prefix;
  for (auto &[name, child] : children_)
    child->setPrefix(prefix_ + name + ".");
}

Var Module::param(Var x, const std::string &name) const {
  for (const auto &[own, value] : params_) {
    if (own == name)
      return x.graph().param(prefix_ + name, value);
  }
  throw Error("module " + typeName_ + " has no parameter '" + name + "'");
}

std::vector<std::pair<std::string, Tensor>> Module::namedParameters() const {
  std::vector<std::pair<std::string, Tensor>> result;
  for (const auto &[name, value] : params_)
    result.emplace_back(prefix_ + name, value);
  for (const auto &[name, child] : children_) {
    auto nested = child->namedParameters();
    result.insert(result.end(), nested.begin(), nested.end());
  }
  return result;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> result;
  for (auto &[name, value] : namedParameters())
    result.push_back(value);
  return result;
}

int64_t Module::parameterCount() const {
  int64_t count = 0;
  for (const Tensor &p : parameters())
    count += p.numel();
  return count;
}

std::string Module::summary(const std::vector<int64_t> &inputShape) {
  Graph graph;
  (*this)(graph.input("input", inputShape));
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line, "%-12s %-10s %-18s %10s\n", "layer", "type",
                "output", "params");
  out << line;
  for (const Graph::Layer &layer : graph.layers()) {
    int64_t count = 0;
    for (const auto &[name, value] : namedParameters()) {
      if (name.rfind(layer.path + ".", 0) == 0)
        count += value.numel();
    }
    if (layer.path == "(model)")
      count = parameterCount();
    std::snprintf(line, sizeof line, "%-12s %-10s %-18s %10lld\n",
                  layer.path.c_str(), layer.type.c_str(),
                  shapeString(layer.outputShape).c_str(),
                  static_cast<long long>(count));
    out << line;
  }
  out << "total parameters: " << parameterCount() << "\n";
  return out.str();
}

// PyTorch's default: kaiming_uniform(a=sqrt(5)) for weights, which is
// U(±1/sqrt(fan_in)), and U(±1/sqrt(fan_in)) for biases.
Conv2d::Conv2d(int64_t inChannels, int64_t outChannels, int64_t kernel,
               int64_t stride, int64_t padding, bool bias)
    : Module("Conv2d"), stride_(stride), padding_(padding), bias_(bias) {
  if (inChannels < 1 || outChannels < 1 || kernel < 1 || stride < 1 ||
      padding < 0)
    throw Error("Conv2d needs positive channels, kernel and stride and a "
                "non-negative padding");
  double bound = 1.0 / std::sqrt(double(inChannels * kernel * kernel));
  registerParameter("weight", {outChannels, inChannels, kernel, kernel}, bound);
  if (bias)
    registerParameter("bias", {outChannels}, bound);
}

// Parameters are traced weight first, then bias, so compiled entry points
// list them in the module's registration order.
Var Conv2d::forward(Var x) {
  Var weight = param(x, "weight");
  Var bias = bias_ ? param(x, "bias") : Var();
  return conv2d(x, weight, bias, stride_, padding_);
}

Linear::Linear(int64_t inFeatures, int64_t outFeatures, bool bias)
    : Module("Linear"), bias_(bias) {
  if (inFeatures < 1 || outFeatures < 1)
    throw Error("Linear needs positive feature counts");
  double bound = 1.0 / std::sqrt(double(inFeatures));
  registerParameter("weight", {outFeatures, inFeatures}, bound);
  if (bias)
    registerParameter("bias", {outFeatures}, bound);
}

Var Linear::forward(Var x) {
  Var weight = param(x, "weight");
  Var bias = bias_ ? param(x, "bias") : Var();
  return linear(x, weight, bias);
}

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride)
    : Module("MaxPool2d"), kernel_(kernel), stride_(stride ? stride : kernel) {}

Var MaxPool2d::forward(Var x) { return maxPool2d(x, kernel_, stride_); }

} // namespace nn
} // namespace kiln
