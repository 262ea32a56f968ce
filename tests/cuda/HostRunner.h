// Runs a CUDA plan on the CPU: its source compiled as host C++ with
// CudaShim.h, its launches walked in order over buffers laid out as the plan
// says (CudaProgram.h). What a GPU executor does, without a GPU.
#pragma once

#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Tensor.h"

#include "../unit/runtime/TestSupport.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::test {

class HostRunner {
public:
  /// Compiles `program.source` with the host compiler into a shared library
  /// in a scratch folder and loads it; parameters start as `params`.
  HostRunner(cuda::CudaProgram program,
             const std::vector<std::pair<std::string, Tensor>> &params);
  ~HostRunner();

  /// Runs entry `name` on `inputs` (in the order of its Input arguments);
  /// returns its outputs. A train_step entry advances the step counter.
  std::vector<Tensor> run(const std::string &name,
                          const std::vector<Tensor> &inputs);

  /// Parameters and optimizer state by name, as the entries left them.
  const Tensor &named(const std::string &name) const;
  const cuda::CudaProgram &program() const { return program_; }

private:
  cuda::CudaProgram program_;
  std::map<std::string, Tensor> persistent_; // params, state, step
  TempDir folder_; // the source and library, removed after library_ closes
  void *library_ = nullptr;
  int (*launch_)(const char *, const unsigned *, const unsigned *,
                 void **) = nullptr;
};

} // namespace kiln::test
