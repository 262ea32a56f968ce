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

/// Runs a program's entry points on another device, a GPU
/// (kiln/runtime/cuda/Executor.h); Program::attachDevice hands it the calls.
class DeviceRunner {
public:
  virtual ~DeviceRunner() = default;
  /// Runs `entry` on checked `inputs` with the optimizer's step counter
  /// `step`, and waits for it; writes the outputs into `outputs`.
  virtual void run(const EntryPoint &entry, const Tensor *const *inputs,
                   size_t count, int64_t step, std::vector<Tensor> &outputs) = 0;
  /// Starts a train_step without waiting; its loss (output 0) is kept for
  /// takeLosses().
  virtual void enqueue(const EntryPoint &entry, const Tensor *const *inputs,
                       size_t count, int64_t step) = 0;
  /// Waits for every enqueued step; the sum and number of their losses.
  virtual std::pair<double, int64_t> takeLosses() = 0;
  /// Writes to `buffers` (room for `capacity`) the host memory the next
  /// enqueue of `entry` uploads each input from, in input order, ready to be
  /// written; an input found there already is not copied again. Returns how
  /// many it wrote: 0 where the device has no such memory.
  virtual size_t staging(const EntryPoint &, void **, size_t) { return 0; }
  /// Copies parameters and optimizer state, by name, from the device into
  /// these host tensors (pull) or from them to the device (push).
  virtual void pull(const std::vector<std::pair<std::string, Tensor>> &params,
                    const std::vector<std::pair<std::string, Tensor>> &state) = 0;
  virtual void push(const std::vector<std::pair<std::string, Tensor>> &params,
                    const std::vector<std::pair<std::string, Tensor>> &state) = 0;
  /// "cuda:0 (NVIDIA H200, sm_90)".
  virtual std::string description() const = 0;
};

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
  /// trainStep without waiting for the loss where the device allows it (on
  /// a GPU the next batch uploads while this step runs); the CPU runs it at
  /// once. takeLosses() waits and returns the sum and number of the losses
  /// of the steps enqueued since it was last called.
  void enqueueTrainStep(const Tensor &images, const Tensor &labels);
  std::pair<double, int64_t> takeLosses();
  /// Where the next enqueueTrainStep reads its batch in place. On a GPU these
  /// view the pinned memory the batch uploads from, so a loader that fills
  /// them spares enqueueTrainStep its copy of the batch; on the CPU they are
  /// tensors the program owns. Fill them and pass them to enqueueTrainStep
  /// (or trainStep), which checks their labels as any others; they are valid
  /// until the next enqueueTrainStep or trainStep (trainInputs again gives
  /// the same), and no longer than the program.
  struct TrainInputs {
    Tensor images, labels;
  };
  TrainInputs trainInputs();
  /// Logits for a batch.
  const Tensor &predict(const Tensor &images);

  /// What eval_step computes for a batch of a classifier.
  struct Evaluation {
    double loss = 0;     ///< what trainStep would return, before its update
    int64_t correct = 0; ///< images whose predicted class is their label
    Tensor logits;       ///< [batch, classes], valid until the next call
  };
  /// Loss, correct predictions and logits of a labelled batch, changing no
  /// parameter. The prediction is the first largest logit (NaN counting as
  /// largest), as torch.argmax and kiln::Accuracy choose it.
  Evaluation evalStep(const Tensor &images, const Tensor &labels);

  /// On a device, these first copy the device's values into the tensors.
  const std::vector<std::pair<std::string, Tensor>> &namedParameters() const;
  const std::vector<std::pair<std::string, Tensor>> &namedState() const;

  /// Runs every entry point on `runner` from now on; it has been given the
  /// current parameters. Where the host tensors change later (a checkpoint
  /// loaded into them), pushToDevice() copies them over.
  void attachDevice(std::shared_ptr<DeviceRunner> runner);
  void pushToDevice();
  /// "cpu", or the device's description.
  std::string deviceDescription() const;
  int64_t stepsTaken() const;
  /// Sets the optimizer's step counter, e.g. when resuming from a checkpoint:
  /// SGD's first step (counter 0) starts the momentum buffers afresh.
  void setStepsTaken(int64_t steps);
  /// Bytes of the entry's arena (activations and scratch).
  int64_t arenaBytes(const std::string &name) const;

  /// Runs compiled code on at most `threads` threads (default: every
  /// hardware thread). Results do not depend on it: compiled code splits its
  /// work into the parts it was compiled for (CompileSpec::threads) and
  /// fewer threads run those parts in turn. Throws kiln::Error below 1.
  void setThreads(int threads);
  int threads() const { return threads_; }

  /// The kiln-level graph this program was compiled from, as MLIR bytecode:
  /// what saveProgram stores. Empty for AOT bundles and C API models.
  const std::string &graphBytecode() const { return graph_; }
  void setGraphBytecode(std::string bytecode) { graph_ = std::move(bytecode); }

private:
  struct Bound;
  Bound &bound(const std::string &name);
  const std::vector<Tensor> &call(Bound &b, const Tensor *const *inputs,
                                  size_t count);
  /// Checks shapes, dtypes and label bounds; points the call at the inputs.
  void checkInputs(Bound &b, const Tensor *const *inputs, size_t count);

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> state_;
  Tensor step_;
  int threads_;
  std::vector<std::shared_ptr<Bound>> bound_;
  std::shared_ptr<void> keepAlive_;
  std::shared_ptr<DeviceRunner> device_;
  TrainInputs hostInputs_;   ///< trainInputs() without device staging
  std::vector<TrainInputs> stagedInputs_; ///< views of each staging buffer
  double hostLossSum_ = 0.0; ///< enqueued CPU steps' losses not yet taken
  int64_t hostLossCount_ = 0;
  std::string graph_;
};

} // namespace kiln

#endif // KILN_RUNTIME_PROGRAM_H
