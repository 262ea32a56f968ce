// A compiled program's entry points, bound to their buffers: what the JIT
// and AOT paths both hand to user code. No compiler types appear here.
#ifndef KILN_RUNTIME_PROGRAM_H
#define KILN_RUNTIME_PROGRAM_H

#include "kiln/runtime/Tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln {

enum class ArgRole { Param, State, Step, Input, Output, Arena };

/// One argument of an entry point, in call order.
struct ArgSpec {
  ArgRole role;
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  /// For int64 inputs holding class labels: values must lie in [0, bound).
  int64_t bound = 0;
};

/// Compiled code takes one array holding a pointer to each argument's
/// buffer pointer (MLIR's packed calling convention).
using PackedFunction = void (*)(void **);

struct EntryPoint {
  std::string name;
  PackedFunction function = nullptr;
  std::vector<ArgSpec> args;
};

/// Entry points as text, one line per argument: how the program cache and
/// AOT bundles describe compiled code. parseEntryPoints throws kiln::Error
/// on text it did not write.
std::string formatEntryPoints(const std::vector<EntryPoint> &entries);
std::vector<EntryPoint> parseEntryPoints(const std::string &text);

/// Owns parameters (shared with the model they came from), optimizer state,
/// one arena and the output tensors of every entry point. Calls allocate
/// nothing: inputs are passed by pointer, outputs are preallocated.
class Program {
public:
  Program(std::vector<EntryPoint> entries,
          std::vector<std::pair<std::string, Tensor>> params,
          std::shared_ptr<void> keepAlive);

  bool hasEntry(const std::string &name) const;
  std::vector<std::string> entryNames() const;
  const EntryPoint &entry(const std::string &name) const;

  /// Runs an entry point on `inputs` (in the order of its Input arguments)
  /// and returns its outputs, which stay valid until the next call.
  const std::vector<Tensor> &run(const std::string &name,
                                 const std::vector<Tensor> &inputs);

  /// One optimizer step on a batch; returns the loss before the update.
  double trainStep(const Tensor &images, const Tensor &labels);
  /// Logits for a batch.
  const Tensor &predict(const Tensor &images);

  const std::vector<std::pair<std::string, Tensor>> &namedParameters() const {
    return params_;
  }
  const std::vector<std::pair<std::string, Tensor>> &namedState() const {
    return state_;
  }
  int64_t stepsTaken() const;
  /// Sets the optimizer's step counter, e.g. when resuming from a checkpoint:
  /// SGD's first step (counter 0) starts the momentum buffers afresh.
  void setStepsTaken(int64_t steps);
  /// Bytes of the entry's arena (activations and scratch).
  int64_t arenaBytes(const std::string &name) const;

private:
  struct Bound;
  Bound &bound(const std::string &name);
  const std::vector<Tensor> &call(Bound &b, const Tensor *const *inputs,
                                  size_t count);

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> state_;
  Tensor step_;
  std::vector<std::shared_ptr<Bound>> bound_;
  std::shared_ptr<void> keepAlive_;
};

} // namespace kiln

#endif // KILN_RUNTIME_PROGRAM_H
