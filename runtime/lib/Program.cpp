// Binding entry points to buffers, checking inputs, and calling compiled code.
#include "kiln/runtime/Program.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Parallel.h"

#include <cmath>
#include <sstream>

namespace kiln {

static std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

struct Program::Bound {
  EntryPoint entry;
  std::vector<void *> pointers;
  std::vector<void *> packed;
  std::vector<size_t> inputSlots;
  std::vector<Tensor> outputs;
  Tensor arena;
};

Program::Program(std::vector<EntryPoint> entries,
                 std::vector<std::pair<std::string, Tensor>> params,
                 std::shared_ptr<void> keepAlive)
    : params_(std::move(params)), threads_(hardwareThreads()),
      keepAlive_(std::move(keepAlive)) {
  step_ = Tensor::zeros({}, DType::I64);
  reserveThreads(threads_); // started now, so that a step allocates nothing
  auto findNamed = [](std::vector<std::pair<std::string, Tensor>> &list,
                      const std::string &name) -> Tensor * {
    for (auto &[own, tensor] : list) {
      if (own == name)
        return &tensor;
    }
    return nullptr;
  };
  for (EntryPoint &entry : entries) {
    auto bound = std::make_shared<Bound>();
    bound->entry = entry;
    for (const ArgSpec &arg : entry.args) {
      Tensor tensor;
      switch (arg.role) {
      case ArgRole::Param:
        if (Tensor *param = findNamed(params_, arg.name))
          tensor = *param;
        else
          throw Error("compiled entry '" + entry.name + "' needs parameter '" +
                      arg.name + "', which the model does not have");
        if (tensor.shape() != arg.shape || tensor.dtype() != arg.dtype)
          throw Error("parameter '" + arg.name + "' has shape " +
                      shapeText(tensor.shape()) + " but '" + entry.name +
                      "' was compiled for " + shapeText(arg.shape));
        break;
      case ArgRole::State:
        if (Tensor *state = findNamed(state_, arg.name)) {
          tensor = *state;
        } else {
          tensor = Tensor::zeros(arg.shape, arg.dtype);
          state_.emplace_back(arg.name, tensor);
        }
        break;
      case ArgRole::Step:
        tensor = step_;
        break;
      case ArgRole::Input:
        bound->inputSlots.push_back(bound->pointers.size());
        break;
      case ArgRole::Output:
        tensor = Tensor::zeros(arg.shape, arg.dtype);
        bound->outputs.push_back(tensor);
        break;
      case ArgRole::Arena:
        // 64 extra bytes so the arena can start on a 64-byte boundary.
        tensor = Tensor::zeros({arg.shape[0] + 64}, DType::F32);
        bound->arena = tensor;
        break;
      }
      void *pointer = tensor.defined() ? tensor.rawData() : nullptr;
      if (arg.role == ArgRole::Arena) {
        auto address = reinterpret_cast<uintptr_t>(pointer);
        pointer = reinterpret_cast<void *>((address + 63) & ~uintptr_t{63});
      }
      bound->pointers.push_back(pointer);
    }
    bound->packed.resize(bound->pointers.size());
    for (size_t i = 0; i < bound->pointers.size(); ++i)
      bound->packed[i] = &bound->pointers[i];
    bound_.push_back(std::move(bound));
  }
}

bool Program::hasEntry(const std::string &name) const {
  for (const auto &b : bound_) {
    if (b->entry.name == name)
      return true;
  }
  return false;
}

std::vector<std::string> Program::entryNames() const {
  std::vector<std::string> names;
  for (const auto &b : bound_)
    names.push_back(b->entry.name);
  return names;
}

Program::Bound &Program::bound(const std::string &name) {
  for (auto &b : bound_) {
    if (b->entry.name == name)
      return *b;
  }
  throw Error("this program has no entry point '" + name +
              "'; compile it for training or prediction first");
}

const EntryPoint &Program::entry(const std::string &name) const {
  return const_cast<Program *>(this)->bound(name).entry;
}

const std::vector<Tensor> &Program::run(const std::string &name,
                                        const std::vector<Tensor> &inputs) {
  std::vector<const Tensor *> pointers;
  for (const Tensor &input : inputs)
    pointers.push_back(&input);
  return call(bound(name), pointers.data(), pointers.size());
}

const std::vector<Tensor> &Program::call(Bound &b, const Tensor *const *inputs,
                                         size_t count) {
  checkInputs(b, inputs, count);
  if (device_) {
    device_->run(b.entry, inputs, count, stepsTaken(), b.outputs);
    return b.outputs;
  }
  ThreadLimit limit(threads_);
  b.entry.function(b.packed.data());
  return b.outputs;
}

void Program::checkInputs(Bound &b, const Tensor *const *inputs,
                          size_t count) {
  const std::string &name = b.entry.name;
  if (count != b.inputSlots.size())
    throw Error("'" + name + "' takes " + std::to_string(b.inputSlots.size()) +
                " inputs, got " + std::to_string(count));
  for (size_t i = 0; i < count; ++i) {
    size_t slot = b.inputSlots[i];
    const ArgSpec &spec = b.entry.args[slot];
    const Tensor &input = *inputs[i];
    if (!input.defined() || input.shape() != spec.shape ||
        input.dtype() != spec.dtype || !input.isContiguous())
      throw Error("input '" + spec.name + "' of '" + name + "' must be a " +
                  "contiguous " + dtypeName(spec.dtype) + " tensor of shape " +
                  shapeText(spec.shape) + ", got " +
                  (input.defined() ? std::string(dtypeName(input.dtype())) +
                                         " " + shapeText(input.shape())
                                   : std::string("an undefined tensor")));
    if (spec.bound > 0) {
      const int64_t *labels = input.data<int64_t>();
      for (int64_t j = 0; j < input.numel(); ++j) {
        if (labels[j] < 0 || labels[j] >= spec.bound)
          throw Error("label " + std::to_string(labels[j]) + " at position " +
                      std::to_string(j) + " is outside [0, " +
                      std::to_string(spec.bound) + ")");
      }
    }
    b.pointers[slot] = const_cast<void *>(input.rawData());
  }
}

void Program::enqueueTrainStep(const Tensor &images, const Tensor &labels) {
  if (!device_) {
    hostLossSum_ += trainStep(images, labels);
    ++hostLossCount_;
    return;
  }
  Bound &b = bound("train_step");
  const Tensor *inputs[] = {&images, &labels};
  checkInputs(b, inputs, 2);
  device_->enqueue(b.entry, inputs, 2, stepsTaken());
  step_.data<int64_t>()[0] += 1;
}

Program::TrainInputs Program::trainInputs() {
  Bound &b = bound("train_step");
  if (b.inputSlots.size() != 2)
    throw Error("'train_step' takes " + std::to_string(b.inputSlots.size()) +
                " inputs, not images and labels");
  const ArgSpec &images = b.entry.args[b.inputSlots[0]];
  const ArgSpec &labels = b.entry.args[b.inputSlots[1]];
  void *staged[2];
  if (device_ && device_->staging(b.entry, staged, 2) == 2) {
    // One pair of views per staging buffer, made the first time it is seen,
    // so that a step allocates nothing.
    for (const TrainInputs &views : stagedInputs_)
      if (views.images.rawData() == staged[0])
        return views;
    stagedInputs_.push_back(
        {Tensor::fromBlob(staged[0], images.shape, images.dtype),
         Tensor::fromBlob(staged[1], labels.shape, labels.dtype)});
    return stagedInputs_.back();
  }
  if (!hostInputs_.images.defined())
    hostInputs_ = {Tensor::empty(images.shape, images.dtype),
                   Tensor::zeros(labels.shape, labels.dtype)};
  return hostInputs_;
}

std::pair<double, int64_t> Program::takeLosses() {
  std::pair<double, int64_t> taken{hostLossSum_, hostLossCount_};
  hostLossSum_ = 0.0;
  hostLossCount_ = 0;
  if (device_) {
    auto [sum, count] = device_->takeLosses();
    taken.first += sum;
    taken.second += count;
  }
  return taken;
}

const std::vector<std::pair<std::string, Tensor>> &
Program::namedParameters() const {
  if (device_)
    device_->pull(params_, state_);
  return params_;
}

const std::vector<std::pair<std::string, Tensor>> &Program::namedState() const {
  if (device_)
    device_->pull(params_, state_);
  return state_;
}

void Program::attachDevice(std::shared_ptr<DeviceRunner> runner) {
  device_ = std::move(runner);
  stagedInputs_.clear(); // views of the previous device's memory
  if (device_)
    device_->push(params_, state_);
}

void Program::pushToDevice() {
  if (device_)
    device_->push(params_, state_);
}

std::string Program::deviceDescription() const {
  return device_ ? device_->description() : "cpu";
}

// trainStep and predict pass their inputs by pointer so that a step
// allocates nothing.
double Program::trainStep(const Tensor &images, const Tensor &labels) {
  const Tensor *inputs[] = {&images, &labels};
  double loss = call(bound("train_step"), inputs, 2).at(0).item();
  step_.data<int64_t>()[0] += 1;
  return loss;
}

const Tensor &Program::predict(const Tensor &images) {
  const Tensor *inputs[] = {&images};
  return call(bound("predict"), inputs, 1).at(0);
}

void Program::setThreads(int threads) {
  if (threads < 1)
    throw Error("a program needs at least 1 thread, got " +
                std::to_string(threads));
  threads_ = threads;
  reserveThreads(threads);
}

Program::Evaluation Program::evalStep(const Tensor &images,
                                      const Tensor &labels) {
  Bound &b = bound("eval_step");
  const Tensor *inputs[] = {&images, &labels};
  if (labels.defined() && labels.dtype() != DType::I64)
    throw Error("evalStep needs a classifier's eval_step, with int64 labels; "
                "run(\"eval_step\", ...) returns the loss of other models");
  const std::vector<Tensor> &outputs = call(b, inputs, 2);
  Evaluation result;
  result.loss = outputs.at(0).item();
  result.logits = outputs.at(1);
  if (result.logits.dim() != 2 || result.logits.dtype() != DType::F32)
    throw Error("evalStep needs an eval_step returning float32 logits "
                "[batch, classes], got " +
                shapeText(result.logits.shape()));
  const int64_t rows = result.logits.size(0), classes = result.logits.size(1);
  const float *logits = result.logits.data<float>();
  const int64_t *truth = labels.data<int64_t>();
  for (int64_t row = 0; row < rows; ++row) {
    const float *scores = logits + row * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes && !std::isnan(scores[best]); ++c) {
      if (std::isnan(scores[c]) || scores[c] > scores[best])
        best = c;
    }
    result.correct += best == truth[row];
  }
  return result;
}

int64_t Program::stepsTaken() const { return step_.data<int64_t>()[0]; }

void Program::setStepsTaken(int64_t steps) {
  if (steps < 0)
    throw Error("the step count must not be negative, got " +
                std::to_string(steps));
  step_.data<int64_t>()[0] = steps;
}

int64_t Program::arenaBytes(const std::string &name) const {
  const EntryPoint &e = entry(name);
  for (const ArgSpec &arg : e.args) {
    if (arg.role == ArgRole::Arena)
      return arg.shape[0];
  }
  return 0;
}

namespace {
constexpr const char *kEntriesFormat = "kiln-program-entries 1";
} // namespace

std::string formatEntryPoints(const std::vector<EntryPoint> &entries) {
  std::ostringstream out;
  out << kEntriesFormat << "\n";
  for (const EntryPoint &entry : entries) {
    out << "entry " << entry.name << " " << entry.args.size() << "\n";
    for (const ArgSpec &arg : entry.args) {
      out << "arg " << static_cast<int>(arg.role) << " "
          << static_cast<int>(arg.dtype) << " " << arg.bound << " "
          << arg.shape.size();
      for (int64_t size : arg.shape)
        out << " " << size;
      out << " " << arg.name << "\n";
    }
  }
  return out.str();
}

std::vector<EntryPoint> parseEntryPoints(const std::string &text) {
  std::istringstream in(text);
  auto fail = [](const std::string &what) {
    return Error("not a kiln entry-point description: " + what +
                 "; regenerate it with this version of kiln");
  };
  std::string line;
  if (!std::getline(in, line) || line != kEntriesFormat)
    throw fail("the first line is not '" + std::string(kEntriesFormat) + "'");
  std::vector<EntryPoint> entries;
  std::string word;
  while (in >> word) {
    size_t count = 0;
    EntryPoint entry;
    if (word != "entry" || !(in >> entry.name >> count) || count > 10000)
      throw fail("bad entry line");
    for (size_t i = 0; i < count; ++i) {
      ArgSpec arg;
      int role = 0, dtype = 0;
      size_t rank = 0;
      if (!(in >> word >> role >> dtype >> arg.bound >> rank) ||
          word != "arg" || role < 0 || role > 5 || dtype < 0 || dtype > 2 ||
          rank > 8)
        throw fail("bad argument of entry '" + entry.name + "'");
      arg.role = static_cast<ArgRole>(role);
      arg.dtype = static_cast<DType>(dtype);
      arg.shape.resize(rank);
      for (int64_t &size : arg.shape) {
        if (!(in >> size) || size < 0 || size > (int64_t{1} << 40))
          throw fail("bad shape in entry '" + entry.name + "'");
      }
      if (!(in >> arg.name))
        throw fail("an argument of entry '" + entry.name + "' has no name");
      entry.args.push_back(std::move(arg));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

} // namespace kiln
