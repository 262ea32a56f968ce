// The state and helpers that the per-op-family loop lowerings share.
#ifndef KILN_CONVERSION_LOOPEMITTER_H
#define KILN_CONVERSION_LOOPEMITTER_H

#include "kiln/Dialect/KilnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

#include <functional>

namespace kiln {

/// Iterations of a cheap elementwise loop below which splitting it across
/// threads costs more than it saves.
inline constexpr int64_t kElementwiseGrain = 8192;
/// The same for multiply-adds of a matrix product.
inline constexpr int64_t kMatmulGrain = 16384;
/// Floats per vector in vector code: an AVX-512 register (LLVM splits
/// vectors for narrower CPUs).
inline constexpr int64_t kVectorWidth = 16;

/// Maps each tensor value of the function being lowered to its buffer and
/// builds the loops, loads and stores that the lowerings are made of.
class LoopEmitter {
public:
  using Body = std::function<void(mlir::ValueRange ivs)>;
  using ReduceBody =
      std::function<mlir::SmallVector<mlir::Value>(mlir::ValueRange ivs,
                                                   mlir::ValueRange acc)>;
  using PartBody =
      std::function<void(mlir::Value begin, mlir::Value end, mlir::Value part)>;

  LoopEmitter(mlir::OpBuilder &builder, mlir::ModuleOp module)
      : b(builder), module(module) {}

  mlir::OpBuilder &b;
  mlir::Location loc = mlir::UnknownLoc::get(b.getContext());

  /// The buffer holding `tensor`, materialising splat constants on demand.
  mlir::Value buffer(mlir::Value tensor);
  /// The buffer `result` is written into: a preassigned one (an output or
  /// an updated argument) or a fresh allocation.
  mlir::Value resultBuffer(mlir::Value result);
  void setBuffer(mlir::Value tensor, mlir::Value memref) {
    buffers[tensor] = memref;
  }
  void preassign(mlir::Value tensor, mlir::Value memref) {
    preassigned[tensor] = memref;
  }
  bool hasPreassigned(mlir::Value tensor) const {
    return preassigned.count(tensor);
  }
  /// The scalar every element of `tensor` equals, when it is a splat constant.
  std::optional<double> splatValue(mlir::Value tensor) const;

  /// A 1-D view of a contiguous buffer, for elementwise loops.
  mlir::Value flat(mlir::Value memref);
  mlir::Value index(int64_t value);
  mlir::Value floatConst(mlir::Type type, double value);

  /// A loop nest over [0, ubs[i]) for every i; the body gets the indices.
  void loops(llvm::ArrayRef<int64_t> ubs, const Body &body);
  /// Loops from dynamic bounds.
  void loops(mlir::ValueRange lbs, mlir::ValueRange ubs, const Body &body);
  /// A loop nest carrying accumulators; returns their final values.
  mlir::SmallVector<mlir::Value> reduce(llvm::ArrayRef<int64_t> ubs,
                                        mlir::ValueRange init,
                                        const ReduceBody &body);
  /// Sets every element of `memref` to `value`.
  void fill(mlir::Value memref, double value);

  /// Parts that parallel loops are split into (kiln-lower-to-loops' threads).
  int64_t threads = 1;
  /// How many parts parallelParts splits `n` iterations into: at most
  /// `threads`, none smaller than `grain` iterations, at least one.
  int64_t parts(int64_t n, int64_t grain = 1) const;
  /// Splits [0, n) into parts(n, grain) contiguous ranges and emits `body`
  /// for each as one iteration of an scf.parallel (plain code for one part,
  /// or inside another parallel loop). `part` numbers the range, to pick
  /// the part's own scratch buffer (see perPart).
  void parallelParts(int64_t n, int64_t grain, const PartBody &body);
  /// Loops over [0, ubs[i]) whose outermost loop is split with parallelParts.
  void parallelLoops(llvm::ArrayRef<int64_t> ubs, int64_t grain,
                     const Body &body);
  /// A fresh buffer holding `count` copies of a `shape` buffer, one per part.
  mlir::Value perPart(int64_t count, llvm::ArrayRef<int64_t> shape,
                      mlir::Type element);
  /// Copy `part` of a perPart buffer, as a `shape` buffer.
  mlir::Value partOf(mlir::Value copies, mlir::Value part);
  /// Item `i` of a contiguous buffer (a view with its trailing dimensions).
  mlir::Value itemOf(mlir::Value buffer, mlir::Value i);
  /// out = the sum of the copies of a perPart buffer, added in part order.
  void sumParts(mlir::Value copies, mlir::Value out);

  /// A matrix product c[i, j] = init(i) + sum_kk a(i, kk) * b[kk, j] for
  /// i < m, j < n, kk < k, or c[i, j] += ... when `init` is null. b and c
  /// are 2-D buffers with contiguous rows; `a` loads one scalar. Only rows
  /// [rowBegin, rowEnd) when those are set. Emitted as register tiles of
  /// vector fused multiply-adds (Microkernels.cpp).
  struct Gemm {
    int64_t m, n, k;
    std::function<mlir::Value(mlir::Value i, mlir::Value kk)> a;
    mlir::Value b, c;
    std::function<mlir::Value(mlir::Value i)> init;
    mlir::Value rowBegin = {}, rowEnd = {};
  };
  void gemm(const Gemm &g);
  /// The dot-product form c[i, j] = sum_kk a[i, kk] * b[j, kk] (plus the old
  /// c[i, j] with `accumulate`): a and b are 2-D buffers with contiguous
  /// rows. Rows and columns of c can be limited to a range. With `batch`
  /// set, a and b are 3-D and the sum also runs over batch items t <
  /// batch: a[batchBegin + t, i, kk] * b[t, j, kk].
  struct GemmDot {
    int64_t m, n, k;
    mlir::Value a, b, c;
    bool accumulate;
    mlir::Value rowBegin = {}, rowEnd = {}, columnBegin = {}, columnEnd = {};
    mlir::Value batch = {}, batchBegin = {};
    /// Applied to each result before it is stored (a bias, relu).
    std::function<mlir::Value(mlir::Value i, mlir::Value j, mlir::Value v)>
        finish = {};
  };
  void gemmDot(const GemmDot &g);
  /// to[toAt...] = from[fromAt...] (or +=, with `add`) for `length` <=
  /// `maxLength` elements along both buffers' last dimension, in vectors.
  void copyRow(mlir::Value from, mlir::ValueRange fromAt, mlir::Value to,
               mlir::ValueRange toAt, mlir::Value length, int64_t maxLength,
               bool add);

  mlir::Value load(mlir::Value memref, mlir::ValueRange indices);
  void store(mlir::Value value, mlir::Value memref, mlir::ValueRange indices);

  // Float arithmetic with the fast-math flags that let LLVM vectorise
  // reductions and fuse multiply-adds (results may differ by reassociation).
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value div(mlir::Value x, mlir::Value y);
  mlir::Value greater(mlir::Value x, mlir::Value y);
  mlir::Value select(mlir::Value cond, mlir::Value x, mlir::Value y);
  // Index arithmetic.
  mlir::Value addi(mlir::Value x, mlir::Value y);
  mlir::Value muli(mlir::Value x, int64_t factor);
  mlir::Value affine(mlir::Value x, int64_t scale, mlir::Value y,
                     int64_t offset); // x*scale + y + offset

  mlir::ModuleOp module;

private:
  llvm::DenseMap<mlir::Value, mlir::Value> buffers;
  llvm::DenseMap<mlir::Value, mlir::Value> preassigned;
  unsigned globalCounter = 0;
  bool insideParallel = false;
  llvm::DenseSet<mlir::Value> singleParts; // perPart buffers of one part
};

mlir::LogicalResult lowerShapeOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerElementwiseOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerReductionOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerConvOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerPoolOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerMatmulOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerLossOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerOptimizerOp(mlir::Operation *op, LoopEmitter &e);
mlir::LogicalResult lowerFusedOp(mlir::Operation *op, LoopEmitter &e);

} // namespace kiln

#endif // KILN_CONVERSION_LOOPEMITTER_H
