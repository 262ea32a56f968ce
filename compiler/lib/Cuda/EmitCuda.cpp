// Generating CUDA C++ and its launch plan from a fused kiln module: one
// kernel per op or elementwise group, in program order, every tensor placed
// in an argument buffer or at a liveness-planned offset of one arena.
#include "EmitCuda.h"

#include "../Frontend/Importer.h"
#include "../Pipeline/Pipeline.h"
#include "CudaEmitter.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/Cuda.h"
#include "kiln/runtime/Error.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/DenseSet.h"

#include <deque>
#include <map>
#include <memory>

using namespace mlir;

namespace kiln::cudagen {

namespace {

bool isElementwise(Operation *op) {
  return isa_and_nonnull<AddOp, SubOp, MulOp, DivOp, PowOp, NegOp, ExpOp, LogOp,
                         ReluOp, ReluBackwardOp>(op);
}

// Whether `op` leaves its unused result `result` uncomputed: the fused ops
// do, but for the activation that a convolution passes to a separate pool.
bool skipsUnused(Operation *op, Value result) {
  if (auto fused = dyn_cast<Conv2dReluPoolOp>(op))
    return result != fused.getActivation() || poolTilesExactly(fused);
  return isa<Conv2dReluPoolBackwardOp, BiasReluBackwardOp>(op);
}

// Ops whose result is their operand's buffer seen differently.
bool isAlias(Operation *op) {
  return isa_and_nonnull<ReshapeOp, StopGradientOp>(op);
}

Value throughAliases(Value value) {
  while (isAlias(value.getDefiningOp()))
    value = value.getDefiningOp()->getOperand(0);
  return value;
}

} // namespace

Slot EntryContext::slot(Value value) const {
  auto it = slots.find(throughAliases(value));
  return it == slots.end() ? Slot{} : it->second;
}

std::optional<double> EntryContext::splat(Value value) const {
  auto constant = throughAliases(value).getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || !dense.isSplat() || !isa<FloatType>(dense.getElementType()))
    return std::nullopt;
  return dense.getSplatValue<FloatAttr>().getValueAsDouble();
}

BroadcastOp EntryContext::foldedBroadcast(Value value) const {
  return folded.lookup(value);
}

std::string EntryContext::nameOf(Value value) const {
  value = throughAliases(value);
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    for (StringRef key : {"kiln.param", "kiln.state", "kiln.input"}) {
      if (auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), key))
        return name.getValue().str();
    }
    return "arg" + std::to_string(arg.getArgNumber());
  }
  Operation *op = value.getDefiningOp();
  if (op->getNumResults() == 1)
    return op->getName().stripDialect().str();
  // Several results: the names the IR prints them with (%activation).
  std::string name = op->getName().stripDialect().str() + "_" +
                     std::to_string(cast<OpResult>(value).getResultNumber());
  if (auto asmOp = dyn_cast<OpAsmOpInterface>(op)) {
    asmOp.getAsmResultNames([&](Value result, StringRef asmName) {
      if (result == value)
        name = asmName.str();
    });
  }
  return name;
}

namespace {

/// Emits one function: groups, slots, arena plan, kernels.
class EntryEmitter {
public:
  EntryEmitter(func::FuncOp fn, int &counter, std::string &source,
               std::map<std::string, std::string> &names)
      : counter_(counter), source_(source), names_(names) {
    context_.fn = fn;
    for (auto [i, op] : llvm::enumerate(fn.front()))
      position_[&op] = static_cast<int64_t>(i);
    returnOp_ = fn.front().getTerminator();
  }

  LogicalResult run(cuda::CudaEntry &entry) {
    func::FuncOp fn = context_.fn;
    entry.name = fn.getName().str();
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      entry.args.push_back(describeArgument(fn, i));
    foldBroadcasts();
    formGroups();
    formUpdateGroups();
    if (failed(assignSlots(entry)))
      return failure();
    entry.arenaBytes = planArena();
    return emitKernels(entry);
  }

private:
  // Where an op's kernel runs: a group's at its last member, the final
  // copies after the last op.
  int64_t kernelPosition(Operation *op) const {
    if (op == returnOp_)
      return position_.lookup(op) + 1;
    if (FusionGroup *group = context_.groupOf.lookup(op))
      return position_.lookup(group->members.back());
    return position_.lookup(op);
  }

  // The ops that read `value`, seen through aliases and folded broadcasts;
  // `viaBroadcast` says the read goes through a broadcast's index map.
  void forEachConsumer(Value value,
                       const std::function<void(Operation *, bool)> &visit,
                       bool viaBroadcast = false) const {
    for (Operation *user : value.getUsers()) {
      if (isAlias(user))
        forEachConsumer(user->getResult(0), visit, viaBroadcast);
      else if (context_.folded.count(user->getResult(0)))
        forEachConsumer(user->getResult(0), visit, true);
      else
        visit(user, viaBroadcast);
    }
  }

  // A broadcast read only by elementwise ops is folded into them as an
  // index map. One of an elementwise result is not: a thread of the group
  // would read another thread's element.
  void foldBroadcasts() {
    for (auto broadcast : context_.fn.front().getOps<BroadcastOp>()) {
      if (isElementwise(broadcast.getInput().getDefiningOp()) ||
          broadcast->getUsers().empty())
        continue;
      if (llvm::all_of(broadcast->getUsers(), isElementwise))
        context_.folded[broadcast.getResult()] = broadcast;
    }
  }

  // Whether `other`'s members can join `op`'s group, whose kernel runs at
  // `op`: everything outside the group that reads a member must come later.
  bool canMerge(FusionGroup *other, Operation *op) const {
    FusionGroup *own = context_.groupOf.lookup(op);
    int64_t at = position_.lookup(op);
    for (Operation *member : other->members) {
      bool ok = true;
      forEachConsumer(member->getResult(0), [&](Operation *user, bool via) {
        FusionGroup *group = context_.groupOf.lookup(user);
        if (group == other || group == own)
          ok &= !via;
        else
          ok &= kernelPosition(user) > at;
      });
      if (!ok)
        return false;
    }
    return true;
  }

  void formGroups() {
    for (Operation &op : context_.fn.front()) {
      if (!isElementwise(&op))
        continue;
      groups_.push_back(std::make_unique<FusionGroup>());
      FusionGroup *group = groups_.back().get();
      group->members.push_back(&op);
      context_.groupOf[&op] = group;
      for (Value operand : op.getOperands()) {
        Operation *producer = operand.getDefiningOp();
        if (!isElementwise(producer))
          continue;
        FusionGroup *other = context_.groupOf.lookup(producer);
        if (other == group || !canMerge(other, &op))
          continue;
        for (Operation *member : other->members)
          context_.groupOf[member] = group;
        group->members.insert(group->members.end(), other->members.begin(),
                              other->members.end());
        llvm::sort(group->members, [&](Operation *a, Operation *b) {
          return position_.lookup(a) < position_.lookup(b);
        });
        other->members.clear();
      }
    }
    for (auto &group : groups_) {
      for (Operation *member : group->members) {
        bool outside = false;
        forEachConsumer(member->getResult(0), [&](Operation *user, bool) {
          outside |= context_.groupOf.lookup(user) != group.get();
        });
        if (outside)
          group->outputs.push_back(member->getResult(0));
      }
    }
  }

  // Consecutive optimizer updates of one kind and one set of options share
  // a kernel at the last one's place, when nothing reads their results
  // before it (in train_step only the return does).
  void formUpdateGroups() {
    FusionGroup *open = nullptr;
    for (Operation &op : context_.fn.front()) {
      if (!isa<SgdUpdateOp, AdamUpdateOp, RmsPropUpdateOp>(&op))
        continue;
      if (open && sameUpdate(open->members.front(), &op) &&
          readLater(*open, &op)) {
        open->members.push_back(&op);
        context_.groupOf[&op] = open;
        continue;
      }
      groups_.push_back(std::make_unique<FusionGroup>());
      open = groups_.back().get();
      open->kind = FusionGroup::Kind::Updates;
      open->members.push_back(&op);
      context_.groupOf[&op] = open;
    }
  }

  static bool sameUpdate(Operation *a, Operation *b) {
    return a->getName() == b->getName() &&
           a->getAttrDictionary() == b->getAttrDictionary() &&
           cast<ShapedType>(a->getOperand(0).getType()).getElementType() ==
               cast<ShapedType>(b->getOperand(0).getType()).getElementType();
  }

  // Whether everything that reads the group's results comes after `op`.
  bool readLater(const FusionGroup &group, Operation *op) const {
    int64_t at = position_.lookup(op);
    bool later = true;
    for (Operation *member : group.members)
      for (Value result : member->getResults())
        forEachConsumer(result, [&](Operation *user, bool) {
          later &= kernelPosition(user) > at;
        });
    return later;
  }

  // Whether `value`'s kernel may write it straight over argument `arg`:
  // every other read of the argument happens earlier, or in the same
  // elementwise kernel at the same element.
  bool inPlaceSafe(Value value, unsigned arg) const {
    Operation *writer = value.getDefiningOp();
    int64_t at = kernelPosition(writer);
    bool elementwise = isElementwise(writer) ||
                       isa<SgdUpdateOp, AdamUpdateOp, RmsPropUpdateOp>(writer);
    FusionGroup *group = context_.groupOf.lookup(writer);
    bool ok = true;
    forEachConsumer(
        context_.fn.getArgument(arg), [&](Operation *user, bool via) {
          int64_t read = kernelPosition(user);
          bool sameKernel = user == writer ||
                            (group && context_.groupOf.lookup(user) == group);
          ok &= read < at || (read == at && elementwise && sameKernel && !via);
        });
    return ok;
  }

  LogicalResult assignSlots(cuda::CudaEntry &entry) {
    func::FuncOp fn = context_.fn;
    for (BlockArgument arg : fn.getArguments())
      context_.slots[arg] = {Slot::Kind::Argument, arg.getArgNumber()};
    // Results: written by their producer straight into the output or the
    // argument they update where that is safe, else copied there at the end.
    llvm::DenseSet<Value> claimed;
    int64_t nextOutput = fn.getNumArguments();
    for (auto [r, value] : llvm::enumerate(returnOp_->getOperands())) {
      Slot destination;
      bool update = false;
      if (auto attr = fn.getResultAttrOfType<IntegerAttr>(r, kUpdatesAttr)) {
        destination = {Slot::Kind::Argument, attr.getInt()};
        update = true;
      } else {
        destination = {Slot::Kind::Argument, nextOutput++};
        ArgSpec output;
        output.role = ArgRole::Output;
        output.name = "output" + std::to_string(r);
        output.shape.assign(shapeOf(value).begin(), shapeOf(value).end());
        Type element = cast<ShapedType>(value.getType()).getElementType();
        output.dtype = element.isF64()   ? DType::F64
                       : element.isF32() ? DType::F32
                                         : DType::I64;
        entry.args.push_back(output);
      }
      Operation *producer = value.getDefiningOp();
      bool direct = producer && !isAlias(producer) &&
                    !isa<ConstantOp>(producer) &&
                    !context_.folded.count(value) && !claimed.count(value) &&
                    (!update || inPlaceSafe(value, destination.value));
      if (direct) {
        context_.slots[value] = destination;
        claimed.insert(value);
      } else {
        copies_.push_back({value, destination});
      }
    }
    // Everything else a kernel writes lives in the arena.
    for (Operation &op : fn.front().without_terminator()) {
      if (isAlias(&op) || context_.folded.count(op.getResult(0)) ||
          context_.splat(op.getResult(0)))
        continue;
      FusionGroup *group = context_.groupOf.lookup(&op);
      for (Value result : op.getResults()) {
        if (context_.slots.count(result))
          continue;
        if (group && group->kind == FusionGroup::Kind::Elementwise &&
            !llvm::is_contained(group->outputs, result))
          continue;
        if (result.use_empty() && skipsUnused(&op, result))
          continue;
        arenaValues_.push_back(result);
      }
    }
    return success();
  }

  // First fit, biggest first, among buffers whose lives overlap (as
  // kiln-plan-memory does for the CPU).
  int64_t planArena() {
    struct Interval {
      int64_t bytes, start, end, offset;
      Value value;  // a tensor of the function, or
      Slot *staged; // a copy's temporary
    };
    std::vector<Interval> intervals;
    int64_t copyAt = kernelPosition(returnOp_) - 1;
    for (Value value : arenaValues_) {
      auto type = cast<ShapedType>(value.getType());
      int64_t bytes =
          type.getNumElements() * (type.getElementTypeBitWidth() / 8);
      int64_t start = kernelPosition(value.getDefiningOp()), end = start;
      forEachConsumer(value, [&](Operation *user, bool) {
        end = std::max(end, kernelPosition(user));
      });
      intervals.push_back({bytes, start, end, 0, value, nullptr});
    }
    // A copy whose source is an argument that another copy overwrites goes
    // through a temporary first.
    for (Copy &copy : copies_) {
      Slot source = context_.slot(copy.value);
      bool overwritten = llvm::any_of(copies_, [&](const Copy &other) {
        return other.destination == source;
      });
      if (source.kind != Slot::Kind::Argument || !overwritten)
        continue;
      copy.staged = std::make_unique<Slot>();
      auto type = cast<ShapedType>(copy.value.getType());
      intervals.push_back(
          {type.getNumElements() * (type.getElementTypeBitWidth() / 8), copyAt,
           copyAt + 1, 0, Value(), copy.staged.get()});
    }
    std::vector<Interval *> order;
    for (Interval &interval : intervals)
      order.push_back(&interval);
    std::stable_sort(order.begin(), order.end(), [](Interval *a, Interval *b) {
      return a->bytes > b->bytes;
    });
    std::vector<Interval *> placed;
    int64_t arenaBytes = 0;
    const int64_t align = cuda::kCudaArenaAlignment;
    for (Interval *interval : order) {
      std::map<int64_t, int64_t> taken;
      for (Interval *other : placed) {
        if (other->start <= interval->end && interval->start <= other->end)
          taken[other->offset] =
              std::max(taken[other->offset], other->offset + other->bytes);
      }
      int64_t offset = 0;
      for (auto [begin, end] : taken) {
        if (offset + interval->bytes <= begin)
          break;
        offset = std::max(offset, (end + align - 1) / align * align);
      }
      interval->offset = offset;
      if (interval->staged)
        *interval->staged = {Slot::Kind::Arena, offset};
      else
        context_.slots[interval->value] = {Slot::Kind::Arena, offset};
      arenaBytes = std::max(arenaBytes, offset + interval->bytes);
      placed.push_back(interval);
    }
    return (arenaBytes + align - 1) / align * align;
  }

  LogicalResult emitOp(Operation *op, const MakeKernel &make) {
    if (isAlias(op) || context_.folded.count(op->getResult(0)))
      return success();
    if (auto constant = dyn_cast<ConstantOp>(op)) {
      if (context_.slot(constant.getResult()).kind != Slot::Kind::None)
        emitConstant(constant, context_, make);
      return success();
    }
    if (FusionGroup *group = context_.groupOf.lookup(op)) {
      if (op != group->members.back())
        return success();
      if (group->kind == FusionGroup::Kind::Updates)
        emitUpdates(group->members, context_, make);
      else
        emitElementwiseGroup(*group, context_, make);
      return success();
    }
    if (isa<TransposeOp, BroadcastOp>(op))
      return emitShapeOp(op, context_, make);
    if (isa<Conv2dOp, Conv2dBackwardInputOp, Conv2dBackwardFilterOp,
            Conv2dReluPoolOp, Conv2dReluPoolBackwardOp, MaxPool2dOp,
            MaxPool2dBackwardOp>(op))
      return emitConvOp(op, context_, make);
    if (isa<SumOp, MeanOp, MaxOp, MaxBackwardOp, BiasReluBackwardOp>(op))
      return emitReductionOp(op, context_, make);
    if (isa<MatmulOp, LinearOp>(op))
      return emitMatmulOp(op, context_, make);
    if (isa<SoftmaxCrossEntropyOp, SoftmaxCrossEntropyBackwardOp, MseLossOp>(
            op))
      return emitLossOp(op, context_, make);
    return op->emitOpError("has no CUDA kernel in kiln yet");
  }

  LogicalResult emitKernels(cuda::CudaEntry &entry) {
    std::deque<KernelBuilder> kernels;
    MakeKernel make = [&](const std::string &base) -> KernelBuilder & {
      return kernels.emplace_back(context_, base);
    };
    for (Operation &op : context_.fn.front().without_terminator()) {
      if (failed(emitOp(&op, make)))
        return failure();
    }
    for (Copy &copy : copies_) {
      if (copy.staged)
        emitCopy(context_.slot(copy.value), *copy.staged, copy.value.getType(),
                 context_, make);
    }
    for (Copy &copy : copies_) {
      if (std::optional<double> value = context_.splat(copy.value)) {
        emitFill(*value, copy.destination, copy.value.getType(), context_,
                 make);
        continue;
      }
      Slot source = copy.staged ? *copy.staged : context_.slot(copy.value);
      if (source != copy.destination)
        emitCopy(source, copy.destination, copy.value.getType(), context_,
                 make);
    }
    // A kernel identical to an earlier one but for its name is launched
    // under that name (the same update for parameters of one size, say).
    const std::string placeholder = "@KERNEL@";
    for (KernelBuilder &kernel : kernels) {
      std::string text = kernel.render(placeholder);
      auto [it, fresh] = names_.try_emplace(text, "");
      if (fresh) {
        it->second = kernel.baseName() + "_" + std::to_string(counter_++);
        for (size_t at = text.find(placeholder); at != std::string::npos;
             at = text.find(placeholder, at))
          text.replace(at, placeholder.size(), it->second);
        source_ += "\n" + text;
      }
      entry.launches.push_back(kernel.launch(it->second));
    }
    return success();
  }

  struct Copy {
    Value value;
    Slot destination;
    std::unique_ptr<Slot> staged;
  };

  EntryContext context_;
  llvm::DenseMap<Operation *, int64_t> position_;
  Operation *returnOp_;
  std::vector<std::unique_ptr<FusionGroup>> groups_;
  std::vector<Value> arenaValues_;
  std::vector<Copy> copies_;
  int &counter_;
  std::string &source_;
  std::map<std::string, std::string> &names_; // kernel text -> name
};

} // namespace

cuda::CudaProgram generateCudaProgram(ModuleOp module) {
  std::string diagnostics;
  llvm::raw_string_ostream stream(diagnostics);
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    stream << d << "\n";
    return success();
  });
  cuda::CudaProgram program;
  std::string kernels;
  int counter = 0;
  std::map<std::string, std::string> kernelNames;
  std::string names;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    if (!fn.getBody().hasOneBlock())
      throw Error("kiln's CUDA backend needs single-block functions; '" +
                  fn.getName().str() + "' has more");
    cuda::CudaEntry entry;
    if (failed(EntryEmitter(fn, counter, kernels, kernelNames).run(entry)))
      throw Error("kiln cannot generate CUDA code for '" + fn.getName().str() +
                  "':\n" + stream.str() +
                  "run the model on the CPU (the default device) instead");
    names += (names.empty() ? "" : ", ") + entry.name;
    program.entries.push_back(std::move(entry));
  }
  program.source =
      "// CUDA kernels generated by kiln for " + names +
      ".\n// One kernel per op or fused group; every shape is a constant.\n\n" +
      kPrelude + kernels;
  return program;
}

} // namespace kiln::cudagen

namespace kiln {

cuda::CudaProgram generateCuda(nn::Module &model, const CompileSpec &spec) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  return cudagen::generateCudaProgram(*module);
}

cuda::CudaProgram generateCudaFunction(Graph &graph, Var result,
                                       bool gradient) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&*context));
  importGraph(*module, graph, result, "f", gradient);
  if (gradient) {
    runPasses(
        *module, [](OpPassManager &pm) { pm.addPass(createKilnAutodiff()); },
        "differentiate the function");
  }
  return cudagen::generateCudaProgram(*module);
}

} // namespace kiln
