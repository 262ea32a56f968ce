// Runs a compiled program's CUDA plan (kiln/runtime/CudaProgram.h) on one
// GPU, behind kiln::Program: attach it with Program::attachDevice and the
// program's entry points run on the device.
//
//   auto executor = std::make_shared<kiln::cuda::Executor>(
//       plan, image, /*device=*/0, program.namedParameters());
//   program.attachDevice(executor);
//   program.enqueueTrainStep(images, labels);   // returns at once
//   auto [lossSum, steps] = program.takeLosses(); // waits
//
// Parameters and optimizer state stay in device memory between calls. Each
// entry point's launches are captured once as a CUDA graph per input buffer
// set and replayed. Inputs are double-buffered: the batch of step k+1 is
// copied on its own stream while step k runs, and a training loop that
// enqueues steps only waits when it asks for the losses.
#pragma once

#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/cuda/Driver.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::cuda {

class Executor final : public DeviceRunner {
public:
  /// `image` is `plan.source` compiled for `device` (a cubin, or PTX text),
  /// `params` the host parameters to upload (every Param the plan names).
  /// Throws kiln::Error for a parameter that is missing or mis-shaped, and
  /// for any CUDA failure (naming the call).
  Executor(CudaProgram plan, const std::string &image, int device,
           const std::vector<std::pair<std::string, Tensor>> &params);
  ~Executor() override;

  void run(const EntryPoint &entry, const Tensor *const *inputs, size_t count,
           int64_t step, std::vector<Tensor> &outputs) override;
  void enqueue(const EntryPoint &entry, const Tensor *const *inputs,
               size_t count, int64_t step) override;
  std::pair<double, int64_t> takeLosses() override;
  size_t staging(const EntryPoint &entry, void **buffers,
                 size_t capacity) override;
  void pull(const std::vector<std::pair<std::string, Tensor>> &params,
            const std::vector<std::pair<std::string, Tensor>> &state) override;
  void push(const std::vector<std::pair<std::string, Tensor>> &params,
            const std::vector<std::pair<std::string, Tensor>> &state) override;
  std::string description() const override;

private:
  struct Entry;
  Entry &entry(const std::string &name);
  /// Uploads the inputs and step into the entry's next buffer set and
  /// launches its graph; returns the set used.
  int start(Entry &e, const Tensor *const *inputs, size_t count, int64_t step);
  void copyNamed(const std::vector<std::pair<std::string, Tensor>> &tensors,
                 bool toDevice, bool isState);

  CudaProgram plan_;
  Context context_;
  Stream compute_, copy_;
  std::unique_ptr<Module> module_;
  std::map<std::string, DeviceBuffer> params_, state_;
  DeviceBuffer arena_;
  std::vector<std::unique_ptr<Entry>> entries_;
  PinnedBuffer losses_; ///< the loss of each enqueued step not yet taken
  int64_t pendingLosses_ = 0;
  double takenSum_ = 0.0;
  int64_t takenCount_ = 0;
};

} // namespace kiln::cuda
