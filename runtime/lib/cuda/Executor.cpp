// The CUDA executor: device buffers for parameters, state, inputs and
// outputs, one graph per entry point and input buffer set, and the
// double-buffered upload that lets step k+1's batch travel while step k runs.
#include "kiln/runtime/cuda/Executor.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>

#include <cstring>

namespace kiln::cuda {

namespace {

constexpr int kSets = 2;                 // input buffer sets per entry
constexpr int64_t kLossCapacity = 4096;  // enqueued losses held before a wait

size_t bytesOf(const Tensor &tensor) { return tensor.nbytes(); }

} // namespace

/// One entry point's buffers and graphs.
struct Executor::Entry {
  const CudaEntry *plan = nullptr;
  std::vector<size_t> inputArgs;  ///< plan->args indices of the inputs
  std::vector<size_t> outputArgs; ///< ... of the outputs
  std::vector<DeviceBuffer> outputs;
  PinnedBuffer outputStaging;
  std::vector<size_t> outputOffsets; ///< in outputStaging
  struct Set {
    DeviceBuffer inputs;          ///< every input and the step, packed
    PinnedBuffer staging;         ///< host side of the same, same layout
    std::vector<size_t> offsets;  ///< of each input in both
    Event uploaded, consumed;
    Graph graph;
    bool pending = false;  ///< an upload or a run may still use the set
    bool uploadDone = false; ///< its last upload is known to have finished
  };
  Set sets[kSets];
  int next = 0;
};

Executor::Executor(CudaProgram plan, const std::string &image, int device,
                   const std::vector<std::pair<std::string, Tensor>> &params)
    : plan_(std::move(plan)), context_(device) {
  module_ = std::make_unique<Module>(
      image.data(), fmt::format("the kernels compiled for {}",
                                context_.info().arch()));
  int64_t arenaBytes = 0;
  for (const CudaEntry &planned : plan_.entries) {
    arenaBytes = std::max(arenaBytes, planned.arenaBytes);
    auto e = std::make_unique<Entry>();
    e->plan = &planned;
    size_t stagingBytes = 0;
    std::vector<size_t> inputBytes;
    for (size_t i = 0; i < planned.args.size(); ++i) {
      const ArgSpec &arg = planned.args[i];
      size_t bytes = static_cast<size_t>(argumentBytes(arg));
      switch (arg.role) {
      case ArgRole::Param:
        if (!params_.count(arg.name)) {
          bool found = false;
          for (const auto &[name, tensor] : params)
            if (name == arg.name) {
              if (tensor.shape() != arg.shape || tensor.dtype() != arg.dtype)
                throw Error(fmt::format(
                    "parameter '{}' has shape {} but the CUDA program was "
                    "compiled for {}",
                    name, shapeToString(tensor.shape()),
                    shapeToString(arg.shape)));
              found = true;
            }
          if (!found)
            throw Error(fmt::format("the CUDA program needs parameter '{}', "
                                    "which the model does not have",
                                    arg.name));
          params_.emplace(arg.name, DeviceBuffer(bytes));
        }
        break;
      case ArgRole::State:
        if (!state_.count(arg.name)) {
          DeviceBuffer buffer(bytes);
          Driver &cu = Driver::get();
          cu.check(cu.api().cuMemsetD8Async(buffer.get(), 0, bytes,
                                            compute_.get()),
                   "cuMemsetD8Async");
          state_.emplace(arg.name, std::move(buffer));
        }
        break;
      case ArgRole::Step:
      case ArgRole::Input:
        e->inputArgs.push_back(i);
        inputBytes.push_back(bytes);
        stagingBytes += (bytes + 255) / 256 * 256;
        break;
      case ArgRole::Output:
        e->outputArgs.push_back(i);
        e->outputs.emplace_back(bytes);
        e->outputOffsets.push_back(0);
        break;
      case ArgRole::Arena:
        throw Error("a CUDA plan's arguments hold no arena; the plan is "
                    "corrupt, compile it again");
      }
    }
    size_t outputBytes = 0;
    for (size_t j = 0; j < e->outputArgs.size(); ++j) {
      e->outputOffsets[j] = outputBytes;
      outputBytes += (e->outputs[j].size() + 255) / 256 * 256;
    }
    e->outputStaging = PinnedBuffer(outputBytes);
    for (Entry::Set &set : e->sets) {
      size_t offset = 0;
      for (size_t bytes : inputBytes) {
        set.offsets.push_back(offset);
        offset += (bytes + 255) / 256 * 256;
      }
      set.inputs = DeviceBuffer(stagingBytes);
      set.staging = PinnedBuffer(stagingBytes);
    }
    entries_.push_back(std::move(e));
  }
  arena_ = DeviceBuffer(static_cast<size_t>(arenaBytes));
  losses_ = PinnedBuffer(kLossCapacity * sizeof(float));
  copyNamed(params, /*toDevice=*/true, /*isState=*/false);
  compute_.synchronize();
}

Executor::~Executor() {
  try {
    compute_.synchronize();
    copy_.synchronize();
  } catch (...) {
    // A failed step has been reported already; freeing goes on regardless.
  }
}

Executor::Entry &Executor::entry(const std::string &name) {
  for (auto &e : entries_)
    if (e->plan->name == name)
      return *e;
  throw Error(fmt::format("the CUDA program has no entry point '{}'; "
                          "compile it for training or prediction first",
                          name));
}

int Executor::start(Entry &e, const Tensor *const *inputs, size_t count,
                    int64_t step) {
  Driver &cu = Driver::get();
  int index = e.next;
  e.next = (e.next + 1) % kSets;
  Entry::Set &set = e.sets[index];
  if (set.pending && !set.uploadDone)
    set.uploaded.synchronize(); // its staging memory is about to be reused

  // Stage every input (and the step counter) in pinned memory, then copy it
  // all in one transfer on the copy stream once the set's previous run has
  // finished reading.
  auto *staging = static_cast<std::byte *>(set.staging.get());
  size_t input = 0;
  for (size_t k = 0; k < e.inputArgs.size(); ++k) {
    const ArgSpec &arg = e.plan->args[e.inputArgs[k]];
    std::byte *to = staging + set.offsets[k];
    if (arg.role == ArgRole::Step) {
      std::memcpy(to, &step, sizeof step);
    } else {
      if (input >= count)
        throw Error(fmt::format("'{}' takes more inputs than the {} given",
                                e.plan->name, count));
      if (inputs[input]->rawData() != to) // not written in place (staging())
        std::memcpy(to, inputs[input]->rawData(), bytesOf(*inputs[input]));
      ++input;
    }
  }
  if (set.pending)
    set.consumed.makeWait(copy_);
  set.uploadDone = false; // before the copy, so that a failure keeps the wait
  if (set.inputs.size() > 0)
    cu.check(cu.api().cuMemcpyHtoDAsync(set.inputs.get(), staging,
                                        set.inputs.size(), copy_.get()),
             "cuMemcpyHtoDAsync");
  set.uploaded.record(copy_);
  set.uploaded.makeWait(compute_);

  if (!set.graph.captured()) {
    // Kernel parameters: each a device pointer, resolved for this set.
    auto pointerOf = [&](const KernelArg &arg) -> CUdeviceptr {
      if (arg.kind == KernelArg::Kind::Arena)
        return arena_.get() + static_cast<CUdeviceptr>(arg.value);
      size_t i = static_cast<size_t>(arg.value);
      const ArgSpec &spec = e.plan->args[i];
      switch (spec.role) {
      case ArgRole::Param:
        return params_.at(spec.name).get();
      case ArgRole::State:
        return state_.at(spec.name).get();
      case ArgRole::Output:
        for (size_t j = 0; j < e.outputArgs.size(); ++j)
          if (e.outputArgs[j] == i)
            return e.outputs[j].get();
        break;
      default:
        for (size_t k = 0; k < e.inputArgs.size(); ++k)
          if (e.inputArgs[k] == i)
            return set.inputs.get() + set.offsets[k];
      }
      throw Error(fmt::format("a kernel of '{}' names argument {}, which the "
                              "plan does not bind; compile it again",
                              e.plan->name, i));
    };
    // Everything is resolved before capturing: only launches are recorded.
    struct Resolved {
      CUfunction function;
      std::vector<CUdeviceptr> values;
      std::vector<void *> params;
    };
    std::vector<Resolved> resolved(e.plan->launches.size());
    for (size_t n = 0; n < resolved.size(); ++n) {
      const KernelLaunch &l = e.plan->launches[n];
      resolved[n].function = module_->function(l.kernel);
      for (const KernelArg &arg : l.args)
        resolved[n].values.push_back(pointerOf(arg));
      for (CUdeviceptr &value : resolved[n].values)
        resolved[n].params.push_back(&value);
    }
    set.graph.capture(compute_, [&] {
      for (size_t n = 0; n < resolved.size(); ++n) {
        const KernelLaunch &l = e.plan->launches[n];
        unsigned grid[3] = {l.grid.x, l.grid.y, l.grid.z};
        unsigned block[3] = {l.block.x, l.block.y, l.block.z};
        launch(resolved[n].function, grid, block, l.sharedBytes, compute_,
               resolved[n].params.data(), l.kernel);
      }
    });
  }
  set.graph.launch(compute_);
  set.consumed.record(compute_);
  set.pending = true;
  return index;
}

void Executor::run(const EntryPoint &entryPoint, const Tensor *const *inputs,
                   size_t count, int64_t step, std::vector<Tensor> &outputs) {
  Entry &e = entry(entryPoint.name);
  start(e, inputs, count, step);
  Driver &cu = Driver::get();
  auto *staging = static_cast<std::byte *>(e.outputStaging.get());
  for (size_t j = 0; j < e.outputs.size(); ++j)
    cu.check(cu.api().cuMemcpyDtoHAsync(staging + e.outputOffsets[j],
                                        e.outputs[j].get(),
                                        e.outputs[j].size(), compute_.get()),
             "cuMemcpyDtoHAsync");
  compute_.synchronize();
  for (size_t j = 0; j < e.outputs.size() && j < outputs.size(); ++j)
    std::memcpy(outputs[j].rawData(), staging + e.outputOffsets[j],
                bytesOf(outputs[j]));
}

void Executor::enqueue(const EntryPoint &entryPoint,
                       const Tensor *const *inputs, size_t count,
                       int64_t step) {
  Entry &e = entry(entryPoint.name);
  if (e.outputs.empty() || e.outputs[0].size() != sizeof(float))
    throw Error(fmt::format("'{}' has no scalar loss to keep; enqueue only "
                            "train_step",
                            entryPoint.name));
  if (pendingLosses_ == kLossCapacity) {
    auto [sum, counted] = takeLosses();
    takenSum_ += sum;
    takenCount_ += counted;
  }
  start(e, inputs, count, step);
  Driver &cu = Driver::get();
  auto *slot = static_cast<float *>(losses_.get()) + pendingLosses_;
  cu.check(cu.api().cuMemcpyDtoHAsync(slot, e.outputs[0].get(), sizeof(float),
                                      compute_.get()),
           "cuMemcpyDtoHAsync");
  ++pendingLosses_;
}

size_t Executor::staging(const EntryPoint &entryPoint, void **buffers,
                         size_t capacity) {
  Entry &e = entry(entryPoint.name);
  Entry::Set &set = e.sets[e.next]; // the set start() takes next
  if (set.pending && !set.uploadDone) {
    set.uploaded.synchronize(); // its last upload has left the memory
    set.uploadDone = true;      // start() need not wait again
  }
  auto *staging = static_cast<std::byte *>(set.staging.get());
  size_t written = 0;
  for (size_t k = 0; k < e.inputArgs.size() && written < capacity; ++k)
    if (e.plan->args[e.inputArgs[k]].role == ArgRole::Input)
      buffers[written++] = staging + set.offsets[k];
  return written;
}

std::pair<double, int64_t> Executor::takeLosses() {
  compute_.synchronize();
  double sum = takenSum_;
  int64_t count = takenCount_ + pendingLosses_;
  const auto *losses = static_cast<const float *>(losses_.get());
  for (int64_t i = 0; i < pendingLosses_; ++i)
    sum += losses[i];
  pendingLosses_ = 0;
  takenSum_ = 0.0;
  takenCount_ = 0;
  return {sum, count};
}

void Executor::copyNamed(
    const std::vector<std::pair<std::string, Tensor>> &tensors, bool toDevice,
    bool isState) {
  Driver &cu = Driver::get();
  std::map<std::string, DeviceBuffer> &buffers = isState ? state_ : params_;
  compute_.synchronize();
  for (const auto &[name, tensor] : tensors) {
    auto found = buffers.find(name);
    if (found == buffers.end())
      continue; // an entry point of the CPU program the plan does not use
    if (found->second.size() != bytesOf(tensor) || !tensor.isContiguous())
      throw Error(fmt::format("'{}' holds {} bytes on the device but {} on "
                              "the host; the model changed since compiling",
                              name, found->second.size(), bytesOf(tensor)));
    void *host = const_cast<void *>(tensor.rawData());
    if (toDevice)
      cu.check(cu.api().cuMemcpyHtoDAsync(found->second.get(), host,
                                          found->second.size(),
                                          compute_.get()),
               "cuMemcpyHtoDAsync");
    else
      cu.check(cu.api().cuMemcpyDtoHAsync(host, found->second.get(),
                                          found->second.size(),
                                          compute_.get()),
               "cuMemcpyDtoHAsync");
  }
  compute_.synchronize();
}

void Executor::pull(const std::vector<std::pair<std::string, Tensor>> &params,
                    const std::vector<std::pair<std::string, Tensor>> &state) {
  copyNamed(params, /*toDevice=*/false, /*isState=*/false);
  copyNamed(state, /*toDevice=*/false, /*isState=*/true);
}

void Executor::push(const std::vector<std::pair<std::string, Tensor>> &params,
                    const std::vector<std::pair<std::string, Tensor>> &state) {
  copyNamed(params, /*toDevice=*/true, /*isState=*/false);
  copyNamed(state, /*toDevice=*/true, /*isState=*/true);
}

std::string Executor::description() const {
  const DeviceInfo &info = context_.info();
  return fmt::format("cuda:{} ({}, {})", info.index, info.name, info.arch());
}

} // namespace kiln::cuda
