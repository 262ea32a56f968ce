// Buffers, loop nests and fast-math arithmetic for the kiln loop lowerings.
#include "LoopEmitter.h"

#include "mlir/Dialect/SCF/Utils/Utils.h"

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
  auto flatType = MemRefType::get({n}, type.getElementType());
  return b.create<memref::ReinterpretCastOp>(loc, flatType, memref, 0,
                                             ArrayRef<int64_t>{n},
                                             ArrayRef<int64_t>{1});
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
