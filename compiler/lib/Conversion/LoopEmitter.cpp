// Buffers, loop nests and fast-math arithmetic for the kiln loop lowerings.
#include "LoopEmitter.h"

#include "mlir/Dialect/SCF/Utils/Utils.h"

#include <algorithm>

using namespace mlir;
using namespace kiln;

namespace {
arith::FastMathFlagsAttr fastMath(OpBuilder &b) {
  return arith::FastMathFlagsAttr::get(
      b.getContext(), arith::FastMathFlags::reassoc |
                          arith::FastMathFlags::contract);
}

MemRefType bufferTypeOf(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return MemRefType::get(type.getShape(), type.getElementType());
}
} // namespace

std::optional<double> LoopEmitter::splatValue(Value tensor) const {
  auto constant = tensor.getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || !dense.isSplat() ||
      !isa<FloatType>(dense.getElementType()))
    return std::nullopt;
  return dense.getSplatValue<APFloat>().convertToDouble();
}

Value LoopEmitter::buffer(Value tensor) {
  if (Value found = buffers.lookup(tensor))
    return found;
  auto constant = tensor.getDefiningOp<ConstantOp>();
  assert(constant && "every non-constant value is lowered before its uses");
  Value memref;
  if (std::optional<double> value = splatValue(tensor)) {
    memref = b.create<memref::AllocOp>(loc, bufferTypeOf(tensor),
                                       b.getI64IntegerAttr(64));
    fill(memref, *value);
  } else {
    // A non-splat constant lives in a read-only global.
    std::string name = "kiln_constant_" + std::to_string(globalCounter++);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(module.getBody());
      b.create<memref::GlobalOp>(loc, name, b.getStringAttr("private"),
                                 bufferTypeOf(tensor), constant.getValue(),
                                 /*constant=*/true, /*alignment=*/nullptr);
    }
    memref = b.create<memref::GetGlobalOp>(loc, bufferTypeOf(tensor), name);
  }
  buffers[tensor] = memref;
  return memref;
}

Value LoopEmitter::resultBuffer(Value result) {
  Value memref = preassigned.lookup(result);
  if (!memref)
    memref = b.create<memref::AllocOp>(loc, bufferTypeOf(result),
                                       b.getI64IntegerAttr(64));
  buffers[result] = memref;
  return memref;
}

Value LoopEmitter::flat(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 1)
    return memref;
  int64_t n = type.getNumElements();
  if (type.getLayout().isIdentity()) {
    auto flatType = MemRefType::get({n}, type.getElementType());
    return b.create<memref::ReinterpretCastOp>(
        loc, flatType, memref, 0, ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1});
  }
  // A contiguous part of a bigger buffer (partOf): keep its offset.
  Value offset =
      b.create<memref::ExtractStridedMetadataOp>(loc, memref).getOffset();
  auto flatType = MemRefType::get(
      {n}, type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}));
  return b.create<memref::ReinterpretCastOp>(
      loc, flatType, memref, OpFoldResult(offset),
      ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
}

Value LoopEmitter::index(int64_t value) {
  return b.create<arith::ConstantIndexOp>(loc, value);
}

Value LoopEmitter::floatConst(Type type, double value) {
  return b.create<arith::ConstantOp>(loc,
                                     b.getFloatAttr(type, value));
}

void LoopEmitter::loops(ArrayRef<int64_t> ubs, const Body &body) {
  SmallVector<Value> lbValues, ubValues;
  for (int64_t ub : ubs) {
    lbValues.push_back(index(0));
    ubValues.push_back(index(ub));
  }
  loops(lbValues, ubValues, body);
}

void LoopEmitter::loops(ValueRange lbs, ValueRange ubs, const Body &body) {
  SmallVector<Value> steps(lbs.size(), index(1));
  scf::buildLoopNest(b, loc, lbs, ubs, steps,
                     [&](OpBuilder &nested, Location, ValueRange ivs) {
                       OpBuilder::InsertionGuard guard(b);
                       b.setInsertionPoint(nested.getInsertionBlock(),
                                           nested.getInsertionPoint());
                       body(ivs);
                     });
}

SmallVector<Value> LoopEmitter::reduce(ArrayRef<int64_t> ubs, ValueRange init,
                                       const ReduceBody &body) {
  SmallVector<Value> lbValues, ubValues, steps;
  for (int64_t ub : ubs) {
    lbValues.push_back(index(0));
    ubValues.push_back(index(ub));
    steps.push_back(index(1));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbValues, ubValues, steps, init,
      [&](OpBuilder &nested, Location, ValueRange ivs, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        return scf::ValueVector(body(ivs, acc));
      });
  return SmallVector<Value>(nest.results);
}

void LoopEmitter::fill(Value memref, double value) {
  Value target = flat(memref);
  auto type = cast<MemRefType>(target.getType());
  Value constant = floatConst(type.getElementType(), value);
  loops({type.getDimSize(0)},
        [&](ValueRange ivs) { store(constant, target, ivs); });
}

int64_t LoopEmitter::parts(int64_t n, int64_t grain) const {
  if (insideParallel)
    return 1;
  return std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1,
                             std::max<int64_t>(threads, 1));
}

void LoopEmitter::parallelParts(int64_t n, int64_t grain,
                                const PartBody &body) {
  int64_t count = parts(n, grain);
  if (count == 1) {
    body(index(0), index(n), index(0));
    return;
  }
  b.create<scf::ParallelOp>(
      loc, ValueRange{index(0)}, ValueRange{index(count)}, ValueRange{index(1)},
      [&](OpBuilder &nested, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        insideParallel = true;
        // Part p covers [p * n / count, (p + 1) * n / count).
        auto boundary = [&](Value p) {
          return b.create<arith::DivUIOp>(loc, muli(p, n), index(count));
        };
        Value part = ivs[0];
        body(boundary(part), boundary(addi(part, index(1))), part);
        insideParallel = false;
      });
}

void LoopEmitter::parallelLoops(ArrayRef<int64_t> ubs, int64_t grain,
                                const Body &body) {
  parallelParts(ubs[0], grain, [&](Value begin, Value end, Value) {
    SmallVector<Value> lbValues = {begin}, ubValues = {end};
    for (int64_t ub : ubs.drop_front()) {
      lbValues.push_back(index(0));
      ubValues.push_back(index(ub));
    }
    loops(lbValues, ubValues, body);
  });
}

Value LoopEmitter::perPart(int64_t count, ArrayRef<int64_t> shape,
                           Type element) {
  if (count == 1) { // a plain buffer, as serial code has always used
    Value single = b.create<memref::AllocOp>(
        loc, MemRefType::get(shape, element), b.getI64IntegerAttr(64));
    singleParts.insert(single);
    return single;
  }
  SmallVector<int64_t> all = {count};
  all.append(shape.begin(), shape.end());
  return b.create<memref::AllocOp>(loc, MemRefType::get(all, element),
                                   b.getI64IntegerAttr(64));
}

Value LoopEmitter::partOf(Value copies, Value part) {
  if (singleParts.contains(copies))
    return copies;
  return itemOf(copies, part);
}

Value LoopEmitter::itemOf(Value copies, Value part) {
  auto type = cast<MemRefType>(copies.getType());
  ArrayRef<int64_t> shape = type.getShape().drop_front();
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  int64_t size = shape.empty() ? 1 : strides[0] * shape[0];
  auto partType = MemRefType::get(
      shape, type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  SmallVector<OpFoldResult> sizes, strideValues;
  for (auto [extent, stride] : llvm::zip(shape, strides)) {
    sizes.push_back(b.getIndexAttr(extent));
    strideValues.push_back(b.getIndexAttr(stride));
  }
  Value offset = muli(part, size);
  if (!type.getLayout().isIdentity()) // itself a part: offsets add up
    offset = addi(
        b.create<memref::ExtractStridedMetadataOp>(loc, copies).getOffset(),
        offset);
  return b.create<memref::ReinterpretCastOp>(
      loc, partType, copies, OpFoldResult(offset), sizes, strideValues);
}

void LoopEmitter::sumParts(Value copies, Value out) {
  auto type = cast<MemRefType>(copies.getType());
  int64_t count = type.getDimSize(0), size = type.getNumElements() / count;
  Value all = flat(copies), target = flat(out);
  parallelLoops({size}, kElementwiseGrain, [&](ValueRange i) {
    Value total = load(all, i);
    for (int64_t part = 1; part < count; ++part)
      total = add(total, load(all, {addi(i[0], index(part * size))}));
    store(total, target, i);
  });
}

Value LoopEmitter::load(Value memref, ValueRange indices) {
  return b.create<memref::LoadOp>(loc, memref, indices);
}

void LoopEmitter::store(Value value, Value memref, ValueRange indices) {
  b.create<memref::StoreOp>(loc, value, memref, indices);
}

Value LoopEmitter::add(Value x, Value y) {
  return b.create<arith::AddFOp>(loc, x, y, fastMath(b));
}
Value LoopEmitter::sub(Value x, Value y) {
  return b.create<arith::SubFOp>(loc, x, y, fastMath(b));
}
Value LoopEmitter::mul(Value x, Value y) {
  return b.create<arith::MulFOp>(loc, x, y, fastMath(b));
}
Value LoopEmitter::div(Value x, Value y) {
  return b.create<arith::DivFOp>(loc, x, y, fastMath(b));
}
Value LoopEmitter::greater(Value x, Value y) {
  return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, y);
}
Value LoopEmitter::select(Value cond, Value x, Value y) {
  return b.create<arith::SelectOp>(loc, cond, x, y);
}
Value LoopEmitter::addi(Value x, Value y) {
  return b.create<arith::AddIOp>(loc, x, y);
}
Value LoopEmitter::muli(Value x, int64_t factor) {
  if (factor == 1)
    return x;
  return b.create<arith::MulIOp>(loc, x, index(factor));
}
Value LoopEmitter::affine(Value x, int64_t scale, Value y, int64_t offset) {
  Value result = addi(muli(x, scale), y);
  if (offset != 0)
    result = addi(result, index(offset));
  return result;
}
