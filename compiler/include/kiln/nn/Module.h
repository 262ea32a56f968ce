// kiln::nn — modules with named parameters, written like PyTorch's nn.Module.
#ifndef KILN_NN_MODULE_H
#define KILN_NN_MODULE_H

#include "kiln/nn/Graph.h"
#include "kiln/runtime/Random.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// Seeds the generator that new parameters are initialised from, like
/// torch.manual_seed: the same seed builds the same model.
void manualSeed(uint64_t seed);
Generator &defaultGenerator();

namespace nn {

/// A layer or a model: named parameters, named submodules, and forward().
/// forward() is ordinary C++ over symbolic values; calling a module through
/// operator() records it as a layer of the trace.
class Module {
public:
  explicit Module(std::string typeName) : typeName_(std::move(typeName)) {}
  virtual ~Module() = default;
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  virtual Var forward(Var x) = 0;
  Var operator()(Var x);

  /// Every parameter under its dotted PyTorch name ("conv1.weight"), in
  /// registration order; the tensors share storage with the module.
  std::vector<std::pair<std::string, Tensor>> namedParameters() const;
  std::vector<Tensor> parameters() const;
  int64_t parameterCount() const;
  const std::string &typeName() const { return typeName_; }

  /// A table of layers, output shapes and parameter counts for an input of
  /// `inputShape` (batch included).
  std::string summary(const std::vector<int64_t> &inputShape);

protected:
  /// Adds a parameter initialised uniformly in [-bound, bound).
  Tensor registerParameter(const std::string &name,
                           std::vector<int64_t> shape, double bound);
  template <class M, class... Args>
  M &registerModule(const std::string &name, Args &&...args) {
    auto module = std::make_shared<M>(std::forward<Args>(args)...);
    M &ref = *module;
    adopt(name, std::move(module));
    return ref;
  }
  /// The parameter `name` of this module as a node of x's trace.
  Var param(Var x, const std::string &name) const;

private:
  void adopt(const std::string &name, std::shared_ptr<Module> child);
  void setPrefix(const std::string &prefix);

  std::string typeName_;
  std::string prefix_;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

/// 2-D convolution, PyTorch's nn.Conv2d (square kernel, stride, padding).
class Conv2d : public Module {
public:
  Conv2d(int64_t inChannels, int64_t outChannels, int64_t kernel,
         int64_t stride = 1, int64_t padding = 0, bool bias = true);
  Var forward(Var x) override;

private:
  int64_t stride_, padding_;
  bool bias_;
};

/// Fully connected layer with [out, in] weights, PyTorch's nn.Linear.
class Linear : public Module {
public:
  Linear(int64_t inFeatures, int64_t outFeatures, bool bias = true);
  Var forward(Var x) override;

private:
  bool bias_;
};

/// Max pooling over square windows, PyTorch's nn.MaxPool2d (no padding).
class MaxPool2d : public Module {
public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0);
  Var forward(Var x) override;

private:
  int64_t kernel_, stride_;
};

} // namespace nn
} // namespace kiln

#endif // KILN_NN_MODULE_H
