// Eager tensor operations: checks, broadcasting and dtype dispatch around the
// kiln::ref kernels, which do the arithmetic.
#include "kiln/runtime/Ops.h"

#include "kiln/kernels/Elementwise.h"
#include "kiln/kernels/Linalg.h"
#include "kiln/kernels/Reduce.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace kiln {

namespace {

enum class Binary { Add, Sub, Mul, Div };
enum class Unary { Neg, Exp, Log, Relu };

const char *binaryName(Binary op) {
  switch (op) {
  case Binary::Add:
    return "add";
  case Binary::Sub:
    return "sub";
  case Binary::Mul:
    return "mul";
  case Binary::Div:
    return "div";
  }
  return "?";
}

void checkDefined(const char *op, const Tensor &t) {
  if (!t.defined())
    throw Error(fmt::format("{}: an operand is undefined; create it (e.g. "
                            "kiln::zeros) before using it",
                            op));
}

/// Calls body.template operator()<T>() with T the C++ type of `dtype`;
/// int64 only when `integers` says the operation makes sense for it.
template <class Body>
decltype(auto) dispatch(const char *op, DType dtype, bool integers,
                        Body &&body) {
  switch (dtype) {
  case DType::F32:
    return body.template operator()<float>();
  case DType::F64:
    return body.template operator()<double>();
  case DType::I64:
    break;
  case DType::U8:
    throw Error(fmt::format("{}: kiln computes on float32, float64 and int64 "
                            "tensors, got uint8; convert with "
                            "to(DType::F32) first",
                            op));
  }
  if (!integers)
    throw Error(fmt::format("{}: needs a floating tensor, got int64; convert "
                            "with to(DType::F32) first",
                            op));
  return body.template operator()<int64_t>();
}

/// Whether int64 can hold `value` exactly.
bool isWholeInt64(double value) {
  return value == std::trunc(value) && value >= -0x1p63 && value < 0x1p63;
}

/// Requires a common dtype; kiln never promotes.
void checkSameDType(const char *op, const Tensor &a, const Tensor &b) {
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: operands of shape {} ({}) and shape {} ({}) "
                            "differ in dtype; convert one with to(DType)",
                            op, shapeToString(a.shape()), dtypeName(a.dtype()),
                            shapeToString(b.shape()), dtypeName(b.dtype())));
}

/// NumPy's rule: align on the right; sizes must match or one must be 1.
std::vector<int64_t> broadcastShape(const char *op, const Tensor &a,
                                    const Tensor &b) {
  const std::vector<int64_t> &x = a.shape(), &y = b.shape();
  std::vector<int64_t> shape(std::max(x.size(), y.size()));
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t xs = i < x.size() ? x[x.size() - 1 - i] : 1;
    int64_t ys = i < y.size() ? y[y.size() - 1 - i] : 1;
    if (xs != ys && xs != 1 && ys != 1)
      throw Error(fmt::format("{}: shapes {} and {} cannot be broadcast "
                              "together (axis {} from the end: {} vs {}); "
                              "sizes must match or be 1",
                              op, shapeToString(x), shapeToString(y), i, xs,
                              ys));
    shape[shape.size() - 1 - i] = xs == 1 ? ys : xs;
  }
  return shape;
}

/// `t` as a contiguous tensor of `shape`, repeating it where it broadcasts.
template <class T>
Tensor expandTo(const Tensor &t, const std::vector<int64_t> &shape) {
  Tensor source = t.contiguous();
  if (source.shape() == shape)
    return source;
  Tensor result = Tensor::empty(shape, t.dtype());
  ref::broadcastTo(source.data<T>(), source.shape(), result.data<T>(), shape);
  return result;
}

Tensor scalarLike(const char *op, const Tensor &t, double value) {
  checkDefined(op, t);
  if (t.dtype() == DType::I64 && !isWholeInt64(value))
    throw Error(fmt::format("{}: scalar {} is not a whole number, but the "
                            "tensor of shape {} is int64; convert it with "
                            "to(DType::F32) first",
                            op, value, shapeToString(t.shape())));
  return Tensor::full({}, value, t.dtype());
}

Tensor binary(Binary op, const Tensor &a, const Tensor &b) {
  const char *name = binaryName(op);
  checkDefined(name, a);
  checkDefined(name, b);
  checkSameDType(name, a, b);
  std::vector<int64_t> shape = broadcastShape(name, a, b);
  Tensor result = Tensor::empty(shape, a.dtype());
  // Integer division by zero is undefined behaviour, and PyTorch's true
  // division of integers promotes, which kiln does not.
  dispatch(name, a.dtype(), op != Binary::Div, [&]<class T>() {
    Tensor x = expandTo<T>(a, shape), y = expandTo<T>(b, shape);
    const T *xs = x.template data<T>(), *ys = y.template data<T>();
    T *out = result.template data<T>();
    int64_t n = result.numel();
    switch (op) {
    case Binary::Add:
      return ref::add(xs, ys, out, n);
    case Binary::Sub:
      return ref::sub(xs, ys, out, n);
    case Binary::Mul:
      return ref::mul(xs, ys, out, n);
    case Binary::Div:
      if constexpr (std::is_floating_point_v<T>)
        return ref::div(xs, ys, out, n);
    }
  });
  return result;
}

Tensor binaryInto(Binary op, const char *name, const Tensor &a, const Tensor &b,
                  Tensor out) {
  checkDefined(name, out);
  Tensor result = binary(op, a, b);
  if (out.shape() != result.shape() || out.dtype() != result.dtype())
    throw Error(
        fmt::format("{}: the result of {} and {} is {} of shape {}, "
                    "but the output is {} of shape {}; pass an "
                    "output of the result's shape and dtype",
                    name, shapeToString(a.shape()), shapeToString(b.shape()),
                    dtypeName(result.dtype()), shapeToString(result.shape()),
                    dtypeName(out.dtype()), shapeToString(out.shape())));
  out.copyFrom(result);
  return out;
}

Tensor unary(Unary op, const char *name, const Tensor &t) {
  checkDefined(name, t);
  Tensor source = t.contiguous();
  Tensor result = Tensor::empty(t.shape(), t.dtype());
  bool integers = op == Unary::Neg || op == Unary::Relu;
  dispatch(name, t.dtype(), integers, [&]<class T>() {
    const T *x = source.template data<T>();
    T *y = result.template data<T>();
    int64_t n = result.numel();
    switch (op) {
    case Unary::Neg:
      return ref::neg(x, y, n);
    case Unary::Relu:
      return ref::relu(x, y, n);
    case Unary::Exp:
      if constexpr (std::is_floating_point_v<T>)
        return ref::exp(x, y, n);
      return;
    case Unary::Log:
      if constexpr (std::is_floating_point_v<T>)
        return ref::log(x, y, n);
      return;
    }
  });
  return result;
}

/// Every value converted to `dtype`, refusing fractions for int64.
Tensor fromValues(const char *op, const std::vector<double> &values,
                  std::vector<int64_t> shape, DType dtype) {
  int64_t count = 1;
  for (int64_t size : shape) {
    if (size < 0 || __builtin_mul_overflow(count, size, &count))
      throw Error(fmt::format("{}: shape {} is not a valid shape; sizes must "
                              "be >= 0",
                              op, shapeToString(shape)));
  }
  if (count != static_cast<int64_t>(values.size()))
    throw Error(fmt::format("{}: got {} values for shape {}, which holds {}; "
                            "pass as many values as the shape has elements",
                            op, values.size(), shapeToString(shape), count));
  Tensor result = Tensor::empty(std::move(shape), DType::F64);
  std::copy(values.begin(), values.end(), result.data<double>());
  if (dtype == DType::I64) {
    for (double value : values) {
      if (!isWholeInt64(value))
        throw Error(fmt::format("{}: value {} is not a whole number that "
                                "fits int64; use a floating dtype",
                                op, value));
    }
  }
  return dtype == DType::F64 ? result : result.to(dtype);
}

void checkFloating(const char *op, DType dtype) {
  if (dtype == DType::I64)
    throw Error(fmt::format("{}: draws floating values, not int64; ask for "
                            "DType::F32 or DType::F64",
                            op));
}

enum class Reduction { Sum, Mean, Max };

/// Axes made non-negative and checked; empty means all of them.
std::vector<int64_t> normaliseAxes(const char *op, const Tensor &t,
                                   std::vector<int64_t> axes) {
  int64_t rank = t.dim();
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
    return axes;
  }
  std::vector<bool> seen(rank, false);
  for (int64_t &axis : axes) {
    if (axis < -rank || axis >= rank)
      throw Error(fmt::format("{}: axis {} is out of range for shape {}; use "
                              "an axis in [{}, {}]",
                              op, axis, shapeToString(t.shape()), -rank,
                              rank - 1));
    if (axis < 0)
      axis += rank;
    if (seen[axis])
      throw Error(fmt::format("{}: axis {} is listed twice for shape {}", op,
                              axis, shapeToString(t.shape())));
    seen[axis] = true;
  }
  return axes;
}

/// ref::reduceMax starts from -infinity, which int64 lacks.
void reduceMaxInt(const int64_t *x, const std::vector<int64_t> &shape,
                  const std::vector<int64_t> &axes, int64_t *y) {
  ref::detail::Reduction plan = ref::detail::planReduction(shape, axes);
  std::fill_n(y, plan.yCount, std::numeric_limits<int64_t>::lowest());
  ref::detail::forEachStrided(
      shape, plan.yStrides,
      [&](int64_t i, int64_t yAt) { y[yAt] = std::max(y[yAt], x[i]); });
}

Tensor reduce(Reduction kind, const char *op, const Tensor &t,
              std::vector<int64_t> axes, bool keepdim) {
  checkDefined(op, t);
  axes = normaliseAxes(op, t, std::move(axes));
  std::vector<int64_t> kept, keptDims = t.shape();
  for (int64_t d = 0; d < t.dim(); ++d) {
    bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (reduced && kind == Reduction::Max && t.shape()[d] == 0)
      throw Error(fmt::format("{}: axis {} of shape {} is empty, and an "
                              "empty set has no maximum",
                              op, d, shapeToString(t.shape())));
    if (reduced)
      keptDims[d] = 1;
    else
      kept.push_back(t.shape()[d]);
  }
  Tensor source = t.contiguous();
  Tensor result = Tensor::empty(kept, t.dtype());
  dispatch(op, t.dtype(), kind != Reduction::Mean, [&]<class T>() {
    const T *x = source.template data<T>();
    T *y = result.template data<T>();
    switch (kind) {
    case Reduction::Sum:
      return ref::reduceSum(x, t.shape(), axes, y);
    case Reduction::Mean:
      if constexpr (std::is_floating_point_v<T>)
        return ref::reduceMean(x, t.shape(), axes, y);
      return;
    case Reduction::Max:
      if constexpr (std::is_floating_point_v<T>)
        return ref::reduceMax(x, t.shape(), axes, y);
      else
        return reduceMaxInt(x, t.shape(), axes, y);
    }
  });
  return keepdim ? result.reshape(keptDims) : result;
}

} // namespace

Tensor zeros(std::vector<int64_t> shape, DType dtype) {
  return Tensor::zeros(std::move(shape), dtype);
}

Tensor ones(std::vector<int64_t> shape, DType dtype) {
  return Tensor::full(std::move(shape), 1.0, dtype);
}

Tensor rand(std::vector<int64_t> shape, Generator &gen, DType dtype) {
  checkFloating("rand", dtype);
  return uniformTensor(std::move(shape), 0.0, 1.0, gen, dtype);
}

Tensor rand(std::vector<int64_t> shape, uint64_t seed, DType dtype) {
  Generator gen(seed);
  return rand(std::move(shape), gen, dtype);
}

Tensor randn(std::vector<int64_t> shape, Generator &gen, DType dtype) {
  checkFloating("randn", dtype);
  return normalTensor(std::move(shape), gen, dtype);
}

Tensor randn(std::vector<int64_t> shape, uint64_t seed, DType dtype) {
  Generator gen(seed);
  return randn(std::move(shape), gen, dtype);
}

Tensor tensor(std::initializer_list<ListValue> values, DType dtype) {
  return tensor(values, {static_cast<int64_t>(values.size())}, dtype);
}

Tensor tensor(std::initializer_list<ListValue> values,
              std::vector<int64_t> shape, DType dtype) {
  std::vector<double> numbers;
  for (ListValue v : values)
    numbers.push_back(v.value);
  return fromValues("tensor", numbers, std::move(shape), dtype);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows,
              DType dtype) {
  std::vector<double> values;
  int64_t cols = rows.size() ? static_cast<int64_t>(rows.begin()->size()) : 0;
  int64_t row = 0;
  for (std::initializer_list<double> rowValues : rows) {
    if (static_cast<int64_t>(rowValues.size()) != cols)
      throw Error(fmt::format("tensor: row {} has {} values but row 0 has {}; "
                              "every row needs the same length",
                              row, rowValues.size(), cols));
    values.insert(values.end(), rowValues.begin(), rowValues.end());
    ++row;
  }
  return fromValues("tensor", values, {row, cols}, dtype);
}

Tensor scalarTensor(double value, DType dtype) {
  return fromValues("scalarTensor", {value}, {}, dtype);
}

Tensor zerosLike(const Tensor &like, std::optional<DType> dtype) {
  checkDefined("zerosLike", like);
  return Tensor::zeros(like.shape(), dtype.value_or(like.dtype()));
}

Tensor onesLike(const Tensor &like, std::optional<DType> dtype) {
  checkDefined("onesLike", like);
  return ones(like.shape(), dtype.value_or(like.dtype()));
}

Tensor randLike(const Tensor &like, Generator &gen,
                std::optional<DType> dtype) {
  checkDefined("randLike", like);
  return rand(like.shape(), gen, dtype.value_or(like.dtype()));
}

Tensor randnLike(const Tensor &like, Generator &gen,
                 std::optional<DType> dtype) {
  checkDefined("randnLike", like);
  return randn(like.shape(), gen, dtype.value_or(like.dtype()));
}

Tensor newOnes(const Tensor &like, std::vector<int64_t> shape,
               std::optional<DType> dtype) {
  checkDefined("newOnes", like);
  return ones(std::move(shape), dtype.value_or(like.dtype()));
}

Tensor newZeros(const Tensor &like, std::vector<int64_t> shape,
                std::optional<DType> dtype) {
  checkDefined("newZeros", like);
  return Tensor::zeros(std::move(shape), dtype.value_or(like.dtype()));
}

// The four arithmetic ops differ only in their name and kernel.
#define KILN_BINARY_OP(NAME, OP, SYMBOL)                                       \
  Tensor NAME(const Tensor &a, const Tensor &b) { return binary(OP, a, b); }   \
  Tensor NAME(const Tensor &a, double b) {                                     \
    return binary(OP, a, scalarLike(#NAME, a, b));                             \
  }                                                                            \
  Tensor NAME(const Tensor &a, const Tensor &b, Tensor out) {                  \
    return binaryInto(OP, #NAME, a, b, std::move(out));                        \
  }                                                                            \
  Tensor NAME##_(Tensor self, const Tensor &other) {                           \
    return binaryInto(OP, #NAME "_", self, other, self);                       \
  }                                                                            \
  Tensor NAME##_(Tensor self, double other) {                                  \
    return binaryInto(OP, #NAME "_", self, scalarLike(#NAME "_", self, other), \
                      self);                                                   \
  }                                                                            \
  Tensor operator SYMBOL(const Tensor &a, const Tensor &b) {                   \
    return NAME(a, b);                                                         \
  }                                                                            \
  Tensor operator SYMBOL(const Tensor &a, double b) { return NAME(a, b); }     \
  Tensor operator SYMBOL(double a, const Tensor &b) {                          \
    return binary(OP, scalarLike(#NAME, b, a), b);                             \
  }                                                                            \
  Tensor &operator SYMBOL##=(Tensor &self, const Tensor &other) {              \
    NAME##_(self, other);                                                      \
    return self;                                                               \
  }                                                                            \
  Tensor &operator SYMBOL##=(Tensor &self, double other) {                     \
    NAME##_(self, other);                                                      \
    return self;                                                               \
  }

KILN_BINARY_OP(add, Binary::Add, +)
KILN_BINARY_OP(sub, Binary::Sub, -)
KILN_BINARY_OP(mul, Binary::Mul, *)
KILN_BINARY_OP(div, Binary::Div, /)
#undef KILN_BINARY_OP

Tensor operator-(const Tensor &a) { return neg(a); }

Tensor matmul(const Tensor &a, const Tensor &b) {
  checkDefined("matmul", a);
  checkDefined("matmul", b);
  checkSameDType("matmul", a, b);
  if (a.dim() < 1 || a.dim() > 2 || b.dim() < 1 || b.dim() > 2)
    throw Error(fmt::format("matmul: shapes {} and {}: only 1-D and 2-D "
                            "operands are supported",
                            shapeToString(a.shape()),
                            shapeToString(b.shape())));
  int64_t m = a.dim() == 2 ? a.size(0) : 1, k = a.size(-1);
  int64_t n = b.dim() == 2 ? b.size(1) : 1;
  if (b.size(0) != k)
    throw Error(fmt::format("matmul: shapes {} and {} do not line up: {} "
                            "columns against {} rows",
                            shapeToString(a.shape()), shapeToString(b.shape()),
                            k, b.size(0)));
  std::vector<int64_t> shape;
  if (a.dim() == 2)
    shape.push_back(m);
  if (b.dim() == 2)
    shape.push_back(n);
  Tensor x = a.contiguous(), y = b.contiguous();
  Tensor result = Tensor::empty(shape, a.dtype());
  dispatch("matmul", a.dtype(), true, [&]<class T>() {
    ref::matmul(x.template data<T>(), y.template data<T>(),
                result.template data<T>(), m, k, n, false, false);
  });
  return result;
}

Tensor neg(const Tensor &t) { return unary(Unary::Neg, "neg", t); }
Tensor exp(const Tensor &t) { return unary(Unary::Exp, "exp", t); }
Tensor log(const Tensor &t) { return unary(Unary::Log, "log", t); }
Tensor relu(const Tensor &t) { return unary(Unary::Relu, "relu", t); }

Tensor sum(const Tensor &t, std::vector<int64_t> axes, bool keepdim) {
  return reduce(Reduction::Sum, "sum", t, std::move(axes), keepdim);
}

Tensor mean(const Tensor &t, std::vector<int64_t> axes, bool keepdim) {
  return reduce(Reduction::Mean, "mean", t, std::move(axes), keepdim);
}

Tensor max(const Tensor &t, std::vector<int64_t> axes, bool keepdim) {
  return reduce(Reduction::Max, "max", t, std::move(axes), keepdim);
}

} // namespace kiln
