// Text and Graphviz views of kiln-level programs.
#include "kiln/Inspect.h"

#include "Pipeline.h"
#include "kiln/Compiler/Passes.h"
#include "kiln/Dialect/KilnDialect.h"
#include "kiln/runtime/Error.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Format.h"

#include <sstream>

using namespace mlir;

namespace kiln {

namespace {

enum class Phase { Forward, Backward, Update };

// Forward ops are those the loss (or prediction) depends on through forward
// values only; optimizer updates are the update phase; the rest is backward.
DenseMap<Operation *, Phase> classify(func::FuncOp fn) {
  DenseMap<Operation *, Phase> phase;
  auto ret = cast<func::ReturnOp>(fn.front().getTerminator());
  llvm::DenseSet<Operation *> forward;
  SmallVector<Value> worklist = {ret.getOperand(0)};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val().getDefiningOp();
    if (!op || !forward.insert(op).second)
      continue;
    worklist.append(op->operand_begin(), op->operand_end());
  }
  for (Operation &op : fn.front().without_terminator()) {
    if (forward.contains(&op))
      phase[&op] = Phase::Forward;
    else if (op.getName().getStringRef().ends_with("_update"))
      phase[&op] = Phase::Update;
    else
      phase[&op] = Phase::Backward;
  }
  return phase;
}

std::string shapeOf(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return "";
  std::string text = shapeString(
      std::vector<int64_t>(tensor.getShape().begin(), tensor.getShape().end()));
  if (!tensor.getElementType().isF32()) {
    std::string element;
    llvm::raw_string_ostream stream(element);
    stream << tensor.getElementType();
    text += " " + element;
  }
  return text;
}

// The op's attributes that say what it does (stride, axes, ...).
std::string attributesOf(Operation *op) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  for (NamedAttribute attr : op->getAttrs()) {
    if (attr.getName() == "value") {
      auto dense = dyn_cast<DenseElementsAttr>(attr.getValue());
      if (dense && dense.isSplat() && isa<FloatType>(dense.getElementType()))
        stream << " value="
               << llvm::format(
                      "%g", dense.getSplatValue<APFloat>().convertToDouble());
      continue;
    }
    stream << " " << attr.getName().getValue() << "=";
    if (auto flag = dyn_cast<BoolAttr>(attr.getValue()))
      stream << (flag.getValue() ? "true" : "false");
    else if (auto integer = dyn_cast<IntegerAttr>(attr.getValue()))
      stream << integer.getInt();
    else if (auto real = dyn_cast<FloatAttr>(attr.getValue()))
      stream << llvm::format("%g", real.getValueAsDouble());
    else if (auto array = dyn_cast<DenseI64ArrayAttr>(attr.getValue()))
      stream << shapeString(std::vector<int64_t>(array.asArrayRef().begin(),
                                                 array.asArrayRef().end()));
    else
      stream << attr.getValue();
  }
  return text;
}

struct Namer {
  DenseMap<Value, std::string> names;
  int next = 0;

  std::string operator()(Value value) {
    auto [it, added] = names.try_emplace(value, "");
    if (added)
      it->second = "%" + std::to_string(next++);
    return it->second;
  }
};

std::string opLabel(Operation *op) {
  StringRef name = op->getName().getStringRef();
  name.consume_front("kiln.");
  return name.str();
}

// "conv2d + relu + max_pool2d" for an op kiln-fuse made; empty otherwise.
std::string fusedOps(Operation *op) {
  auto fused = dyn_cast<FusedOpInterface>(op);
  if (!fused)
    return "";
  std::string text;
  for (StringRef name : fused.getFusedOps())
    text += (text.empty() ? "" : " + ") + name.str();
  return text;
}

std::string text(func::FuncOp fn) {
  std::ostringstream out;
  DenseMap<Operation *, Phase> phase = classify(fn);
  Namer name;
  out << "func " << fn.getName().str() << "(\n";
  for (BlockArgument arg : fn.getArguments()) {
    std::string argName = "arg" + std::to_string(arg.getArgNumber());
    for (StringRef key : {"kiln.param", "kiln.input", "kiln.state"}) {
      if (auto attr = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), key))
        argName = attr.getValue().str();
    }
    name.names[arg] = "%" + argName;
    out << "    %" << argName << ": " << shapeOf(arg.getType()) << "\n";
  }
  out << ")\n";
  // Grouped by phase, in program order within each: forward values never
  // depend on backward ones, so every operand is named before its use.
  const char *headings[] = {"  -- forward\n", "  -- backward (kiln-autodiff)\n",
                            "  -- update (kiln-optimizer-step)\n"};
  for (int p = 0; p < 3; ++p) {
    bool first = true;
    for (Operation &op : fn.front().without_terminator()) {
      if (static_cast<int>(phase.lookup(&op)) != p)
        continue;
      if (first)
        out << headings[p];
      first = false;
      out << "  ";
      for (auto [i, result] : llvm::enumerate(op.getResults()))
        out << (i ? ", " : "") << name(result);
      out << " = " << opLabel(&op) << "(";
      for (auto [i, operand] : llvm::enumerate(op.getOperands()))
        out << (i ? ", " : "") << name(operand);
      out << ")" << attributesOf(&op);
      if (op.getNumResults() > 0)
        out << " -> " << shapeOf(op.getResult(0).getType());
      if (std::string group = fusedOps(&op); !group.empty())
        out << "  [fused: " << group << "]";
      out << "\n";
    }
  }
  out << "  return ";
  for (auto [i, value] :
       llvm::enumerate(fn.front().getTerminator()->getOperands()))
    out << (i ? ", " : "") << name(value);
  out << "\n";
  return out.str();
}

std::string dot(func::FuncOp fn) {
  std::ostringstream out;
  DenseMap<Operation *, Phase> phase = classify(fn);
  DenseMap<Value, std::string> node;
  out << "digraph " << fn.getName().str() << " {\n"
      << "  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", "
         "fontsize=10];\n";
  for (BlockArgument arg : fn.getArguments()) {
    std::string label = "arg" + std::to_string(arg.getArgNumber());
    for (StringRef key : {"kiln.param", "kiln.input", "kiln.state"}) {
      if (auto attr = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), key))
        label = attr.getValue().str();
    }
    std::string id = "a" + std::to_string(arg.getArgNumber());
    node[arg] = id;
    out << "  " << id << " [label=\"" << label << "\\n"
        << shapeOf(arg.getType()) << "\", shape=ellipse];\n";
  }
  const char *clusters[] = {"forward", "backward (kiln-autodiff)",
                            "update (kiln-optimizer-step)"};
  const char *colors[] = {"#dbe8f6", "#f6e3db", "#e0f0dc"};
  int index = 0;
  std::ostringstream edges;
  for (int p = 0; p < 3; ++p) {
    out << "  subgraph cluster_" << p << " {\n    label=\"" << clusters[p]
        << "\";\n    style=filled;\n    color=\"" << colors[p] << "\";\n";
    for (Operation &op : fn.front().without_terminator()) {
      if (static_cast<int>(phase.lookup(&op)) != p)
        continue;
      std::string id = "n" + std::to_string(index++);
      for (Value result : op.getResults())
        node[result] = id;
      // A fused op sits in a dashed box naming the ops it replaced.
      std::string group = fusedOps(&op);
      std::string indent = group.empty() ? "    " : "      ";
      if (!group.empty())
        out << "    subgraph cluster_fused_" << id << " {\n      label=\"fused: "
            << group << "\";\n      style=\"dashed,filled\";\n"
            << "      color=\"#7a5c00\";\n      fillcolor=\"#fff4c2\";\n";
      out << indent << id << " [label=\"" << opLabel(&op);
      if (op.getNumResults() > 0)
        out << "\\n" << shapeOf(op.getResult(0).getType());
      out << "\"" << (group.empty() ? "" : ", style=bold") << "];\n";
      if (!group.empty())
        out << "    }\n";
      for (Value operand : op.getOperands())
        edges << "  " << node.lookup(operand) << " -> " << id << ";\n";
    }
    out << "  }\n";
  }
  out << edges.str() << "}\n";
  return out.str();
}

} // namespace

std::string describeProgram(nn::Module &model, const CompileSpec &spec,
                            GraphFormat format) {
  auto context = makeContext();
  OwningOpRef<ModuleOp> module = buildKilnModule(*context, model, spec);
  auto fn =
      module->lookupSymbol<func::FuncOp>(spec.train ? "train_step" : "predict");
  if (!fn)
    throw Error("nothing to show: compile for training or give a prediction "
                "batch size");
  std::string result = format == GraphFormat::Dot ? dot(fn) : text(fn);
  module = nullptr; // The module must die before its context.
  return result;
}

} // namespace kiln
