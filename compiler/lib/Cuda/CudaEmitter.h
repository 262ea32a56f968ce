// What the CUDA kernel emitters share: where each tensor lives (Slot), the
// function-wide facts they need (EntryContext) and the builder of one
// kernel's parameters, body and launch geometry (KernelBuilder).
#ifndef KILN_CUDA_CUDAEMITTER_H
#define KILN_CUDA_CUDAEMITTER_H

#include "kiln/Dialect/KilnDialect.h"
#include "kiln/runtime/CudaProgram.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <functional>

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

namespace kiln::cudagen {

/// Where a tensor lives while an entry point runs: nowhere (a splat constant,
/// a broadcast folded into its users, a result nobody reads), a byte offset
/// into the arena, or one of the entry's argument buffers.
struct Slot {
  enum class Kind { None, Arena, Argument };
  Kind kind = Kind::None;
  int64_t value = 0;
  bool operator==(const Slot &) const = default;
  cuda::KernelArg arg() const {
    return kind == Kind::Arena ? cuda::KernelArg::arena(value)
                               : cuda::KernelArg::argument(value);
  }
};

/// Ops computed by one kernel, one thread per element, at the place of the
/// last member (members are in program order). Either same-shape elementwise
/// ops, where `outputs` are the members whose results are read outside the
/// group (the rest stay in registers); or optimizer updates of one kind and
/// one set of options over several parameters.
struct FusionGroup {
  enum class Kind { Elementwise, Updates };
  Kind kind = Kind::Elementwise;
  std::vector<mlir::Operation *> members;
  std::vector<mlir::Value> outputs;
};

/// The function being emitted: slots, groups, constants.
class EntryContext {
public:
  Slot slot(mlir::Value value) const;
  /// The value of a splat constant, or nothing.
  std::optional<double> splat(mlir::Value value) const;
  /// The broadcast op a value comes from when it is folded into its
  /// elementwise users (no kernel of its own), else null.
  BroadcastOp foldedBroadcast(mlir::Value value) const;
  /// A C identifier for a value: the argument's name, or its producer's.
  std::string nameOf(mlir::Value value) const;

  llvm::DenseMap<mlir::Value, Slot> slots;
  llvm::DenseMap<mlir::Operation *, FusionGroup *> groupOf;
  llvm::DenseMap<mlir::Value, BroadcastOp> folded;
  mutable mlir::func::FuncOp fn; // MLIR op handles have no const methods
};

/// "float", "double", "long long", "int" or "signed char": the C type of a
/// tensor's elements.
std::string cType(mlir::Type tensorOrElement);
/// A C literal of `value` for elements of `element`'s type.
std::string literal(double value, mlir::Type element);
/// Row-major strides of a shape.
llvm::SmallVector<int64_t> stridesOf(llvm::ArrayRef<int64_t> shape);
int64_t numElements(mlir::Value value);
llvm::ArrayRef<int64_t> shapeOf(mlir::Value value);

/// One kernel under construction. Each distinct buffer the kernel touches
/// becomes one pointer parameter, so an update written in place reads and
/// writes through the same parameter.
class KernelBuilder {
public:
  KernelBuilder(const EntryContext &context, std::string baseName)
      : context_(context), base_(std::move(baseName)) {}

  /// Binds the parameters of `values` in this order (splat constants need
  /// none): a kernel's parameter order must not depend on the order in which
  /// C++ evaluates the arguments of one call.
  void use(std::initializer_list<std::pair<mlir::Value, const char *>> values);
  /// The parameter through which the kernel reads `value` (`hint` names it).
  std::string in(mlir::Value value, const std::string &hint);
  /// The parameter through which the kernel writes `value`.
  std::string out(mlir::Value value, const std::string &hint);
  /// An expression for element `index` of `value`: a literal for a splat
  /// constant, else a load through in().
  std::string at(mlir::Value value, const std::string &hint,
                 const std::string &index);
  /// Like out(), for a buffer that is no tensor of the function (the target
  /// of a final copy): `type` is its element type in C.
  std::string outSlot(Slot slot, const std::string &type,
                      const std::string &hint);
  std::string inSlot(Slot slot, const std::string &type,
                     const std::string &hint);
  /// Whether `value` has a buffer at all (a result nobody reads may not).
  bool written(mlir::Value value) const;
  /// Whether two values share one buffer (an update in place).
  bool sameBuffer(mlir::Value a, mlir::Value b) const;

  /// A body line at the current indentation; open/close add braces.
  template <typename... Args>
  void line(fmt::format_string<Args...> format, Args &&...args) {
    body_ += std::string(indent_ * 2, ' ') +
             fmt::format(format, std::forward<Args>(args)...) + "\n";
  }
  template <typename... Args>
  void open(fmt::format_string<Args...> format, Args &&...args) {
    line(format, std::forward<Args>(args)...);
    ++indent_;
  }
  /// Closes a brace and opens the next: `} else {`.
  template <typename... Args>
  void reopen(fmt::format_string<Args...> format, Args &&...args) {
    --indent_;
    line(format, std::forward<Args>(args)...);
    ++indent_;
  }
  void close(const char *text = "}") {
    --indent_;
    body_ += std::string(indent_ * 2, ' ') + text + "\n";
  }
  /// Splits linear index `index` over `shape` into named coordinates:
  /// `const int n = i / 4704, f = i / 784 % 6, ...`.
  void coordinates(const std::string &index,
                   const std::vector<std::string> &names,
                   llvm::ArrayRef<int64_t> shape);

  /// Launch geometry: one thread per element of `count` (blocks of up to
  /// 256 threads), or one block per group of a `length`-long reduction.
  /// Both declare `i` / `group` in the body.
  void threadPerElement(int64_t count, const char *index = "i");
  void blockPerGroup(int64_t groups, int64_t length);
  void setGeometry(cuda::Dim3 grid, cuda::Dim3 block) {
    grid_ = grid;
    block_ = block;
  }

  void comment(const std::string &text) { comments_.push_back(text); }
  /// Text placed before the kernel at namespace scope (constant tables).
  void prologue(const std::string &text) { prologue_ += text; }

  /// The kernel's source, named `name`, and its launch.
  std::string render(const std::string &name) const;
  cuda::KernelLaunch launch(const std::string &name) const;
  const std::string &baseName() const { return base_; }

private:
  struct Param {
    std::string name, type;
    Slot slot;
    bool written = false;
  };
  Param &bind(Slot slot, const std::string &type, const std::string &hint);

  const EntryContext &context_;
  std::string base_, body_, prologue_;
  std::vector<std::string> comments_;
  std::vector<Param> params_;
  cuda::Dim3 grid_, block_;
  int indent_ = 1;
};

/// Threads per block for `count` independent elements: 256, or the fewest
/// whole warps covering a smaller count.
int64_t elementBlockSize(int64_t count);
/// Threads per block reducing `length` values: a power of two in [32, 256]
/// leaving each thread about four values before the tree.
int64_t reductionBlockSize(int64_t length);

// The emitters, one per op family. Each fills the builders it is given or
// makes its own through `make`, in launch order.
using MakeKernel = std::function<KernelBuilder &(const std::string &base)>;
mlir::LogicalResult emitConvOp(mlir::Operation *op, const EntryContext &context,
                               const MakeKernel &make);
mlir::LogicalResult emitReductionOp(mlir::Operation *op,
                                    const EntryContext &context,
                                    const MakeKernel &make);
/// matmul, or linear with its bias and relu.
mlir::LogicalResult emitMatmulOp(mlir::Operation *op,
                                 const EntryContext &context,
                                 const MakeKernel &make);
mlir::LogicalResult emitLossOp(mlir::Operation *op, const EntryContext &context,
                               const MakeKernel &make);
/// Optimizer updates of one kind and options (one or more parameters).
void emitUpdates(llvm::ArrayRef<mlir::Operation *> updates,
                 const EntryContext &context, const MakeKernel &make);
/// An elementwise group, a shape op (transpose, broadcast), a constant or a
/// copy of `from` into `to`.
void emitElementwiseGroup(const FusionGroup &group, const EntryContext &context,
                          const MakeKernel &make);
mlir::LogicalResult emitShapeOp(mlir::Operation *op,
                                const EntryContext &context,
                                const MakeKernel &make);
void emitConstant(ConstantOp op, const EntryContext &context,
                  const MakeKernel &make);
void emitCopy(Slot from, Slot to, mlir::Type tensorType,
              const EntryContext &context, const MakeKernel &make);
void emitFill(double value, Slot to, mlir::Type tensorType,
              const EntryContext &context, const MakeKernel &make);

/// Whether conv2d_relu_pool's pooling windows tile its convolution output
/// exactly, so one thread per pooled value covers every activation once.
/// Otherwise it runs as a convolution (writing the activation) and a pool.
bool poolTilesExactly(Conv2dReluPoolOp op);

/// Helpers at the top of every generated source: warp and block reductions.
extern const char *const kPrelude;

} // namespace kiln::cudagen

#endif // KILN_CUDA_CUDAEMITTER_H
