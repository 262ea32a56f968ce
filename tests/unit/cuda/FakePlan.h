// The hand-written CUDA plan that the fake driver (FakeDriver.cpp) runs:
// shared by the executor's and the AOT bundle's tests.
#pragma once

#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Program.h"

namespace kiln::test {

using kiln::cuda::KernelArg;

inline ArgSpec arg(ArgRole role, const std::string &name,
                   std::vector<int64_t> shape, DType dtype = DType::F32) {
  return ArgSpec{role, name, std::move(shape), dtype, 0};
}

inline cuda::KernelLaunch launch(const std::string &kernel,
                                 std::vector<KernelArg> args) {
  cuda::KernelLaunch l;
  l.kernel = kernel;
  l.block = {32, 1, 1};
  l.args = std::move(args);
  return l;
}

/// train_step(w; step; x, labels) -> loss = sum(w + x), then w += x;
/// predict(w; x) -> w + x; probe(step) -> step.
inline cuda::CudaProgram plan() {
  cuda::CudaProgram p;
  p.source = "FAKE fake_add4 fake_sum4 fake_step";
  cuda::CudaEntry train;
  train.name = "train_step";
  train.args = {arg(ArgRole::Param, "w", {4}),
                arg(ArgRole::Step, "step", {}, DType::I64),
                arg(ArgRole::Input, "x", {4}),
                arg(ArgRole::Input, "labels", {1}, DType::I64),
                arg(ArgRole::Output, "loss", {})};
  train.arenaBytes = 256;
  train.launches = {
      launch("fake_add4", {KernelArg::argument(0), KernelArg::argument(2),
                           KernelArg::arena(0)}),
      launch("fake_sum4", {KernelArg::arena(0), KernelArg::argument(4)}),
      launch("fake_add4", {KernelArg::argument(0), KernelArg::argument(2),
                           KernelArg::argument(0)})};
  cuda::CudaEntry predict;
  predict.name = "predict";
  predict.args = {arg(ArgRole::Param, "w", {4}), arg(ArgRole::Input, "x", {4}),
                  arg(ArgRole::Output, "y", {4})};
  predict.launches = {
      launch("fake_add4", {KernelArg::argument(0), KernelArg::argument(1),
                           KernelArg::argument(2)})};
  cuda::CudaEntry probe;
  probe.name = "probe";
  probe.args = {arg(ArgRole::Step, "step", {}, DType::I64),
                arg(ArgRole::Output, "seen", {})};
  probe.launches = {
      launch("fake_step", {KernelArg::argument(0), KernelArg::argument(1)})};
  p.entries = {train, predict, probe};
  return p;
}

inline Tensor vec(std::vector<float> values) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

} // namespace kiln::test
