// Eager tensor operations, computed at once by the reference kernels.
//
//   kiln::Tensor x = kiln::ones({2, 2});
//   kiln::Tensor y = (x + 2) * 3;                 // [[9., 9.], [9., 9.]]
//   kiln::Tensor row = kiln::tensor({1, 2});
//   kiln::add_(x.select(1, 0), row);              // x[:, 0] += row, in x
//   double total = kiln::sum(y).item();           // 36
//
// These are for trying things out and for tests; training runs compiled
// programs. Operands must share a dtype (kiln never promotes: convert with
// Tensor::to) and broadcast by NumPy's rules; any strided view is accepted.
// float32 and float64 work everywhere, int64 wherever the result stays an
// integer. Every mistake a caller can make throws kiln::Error naming the
// shapes involved.
#pragma once

#include "kiln/runtime/Random.h"
#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

namespace kiln {

// --- Creation -------------------------------------------------------------

Tensor zeros(std::vector<int64_t> shape, DType dtype = DType::F32);
Tensor ones(std::vector<int64_t> shape, DType dtype = DType::F32);
/// Uniform samples in [0, 1) (torch.rand); floating dtypes only.
Tensor rand(std::vector<int64_t> shape, Generator &gen,
            DType dtype = DType::F32);
Tensor rand(std::vector<int64_t> shape, uint64_t seed,
            DType dtype = DType::F32);
/// Standard normal samples (torch.randn); floating dtypes only.
Tensor randn(std::vector<int64_t> shape, Generator &gen,
             DType dtype = DType::F32);
Tensor randn(std::vector<int64_t> shape, uint64_t seed,
             DType dtype = DType::F32);

/// One number in a tensor({...}) list. A class, not a plain double, so that
/// tensor({{1}, {2}}) (a column) picks the 2-D overload unambiguously.
struct ListValue {
  ListValue(double number) : value(number) {}
  double value;
};

/// A 1-D tensor of `values` (torch.tensor([...])); int64 values must be whole.
Tensor tensor(std::initializer_list<ListValue> values,
              DType dtype = DType::F32);
/// `values` in row-major order, shaped as `shape`. For a 0-d tensor use
/// scalarTensor: a bare `{}` here would be taken as DType::F32.
Tensor tensor(std::initializer_list<ListValue> values,
              std::vector<int64_t> shape, DType dtype = DType::F32);
/// A 2-D tensor from rows of equal length: tensor({{1, 2}, {3, 4}}).
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows,
              DType dtype = DType::F32);

/// A 0-d tensor holding `value` (torch.tensor(3.5), torch.scalar_tensor).
Tensor scalarTensor(double value, DType dtype = DType::F32);

/// Same shape as `like`, and its dtype unless `dtype` says otherwise.
Tensor zerosLike(const Tensor &like, std::optional<DType> dtype = {});
Tensor onesLike(const Tensor &like, std::optional<DType> dtype = {});
Tensor randLike(const Tensor &like, Generator &gen,
                std::optional<DType> dtype = {});
Tensor randnLike(const Tensor &like, Generator &gen,
                 std::optional<DType> dtype = {});
/// A new `shape` tensor with `like`'s dtype unless told otherwise
/// (Tensor.new_ones / new_zeros).
Tensor newOnes(const Tensor &like, std::vector<int64_t> shape,
               std::optional<DType> dtype = {});
Tensor newZeros(const Tensor &like, std::vector<int64_t> shape,
                std::optional<DType> dtype = {});

// --- Arithmetic -----------------------------------------------------------
// Each of add, sub, mul and div comes as a new tensor, with a scalar (taken
// in the tensor's dtype; an int64 tensor needs a whole number), into `out`
// (which must already have the broadcast shape and the dtype; a view writes
// through to its base), and in place on `self` (other broadcasts to self's
// shape). out and self are handles, so views may be passed directly; both are
// returned. int64 division is refused: kiln does not promote to float.

Tensor add(const Tensor &a, const Tensor &b);
Tensor add(const Tensor &a, double b);
Tensor add(const Tensor &a, const Tensor &b, Tensor out);
Tensor add_(Tensor self, const Tensor &other);
Tensor add_(Tensor self, double other);

Tensor sub(const Tensor &a, const Tensor &b);
Tensor sub(const Tensor &a, double b);
Tensor sub(const Tensor &a, const Tensor &b, Tensor out);
Tensor sub_(Tensor self, const Tensor &other);
Tensor sub_(Tensor self, double other);

Tensor mul(const Tensor &a, const Tensor &b);
Tensor mul(const Tensor &a, double b);
Tensor mul(const Tensor &a, const Tensor &b, Tensor out);
Tensor mul_(Tensor self, const Tensor &other);
Tensor mul_(Tensor self, double other);

Tensor div(const Tensor &a, const Tensor &b);
Tensor div(const Tensor &a, double b);
Tensor div(const Tensor &a, const Tensor &b, Tensor out);
Tensor div_(Tensor self, const Tensor &other);
Tensor div_(Tensor self, double other);

Tensor operator+(const Tensor &a, const Tensor &b);
Tensor operator+(const Tensor &a, double b);
Tensor operator+(double a, const Tensor &b);
Tensor operator-(const Tensor &a, const Tensor &b);
Tensor operator-(const Tensor &a, double b);
Tensor operator-(double a, const Tensor &b);
Tensor operator*(const Tensor &a, const Tensor &b);
Tensor operator*(const Tensor &a, double b);
Tensor operator*(double a, const Tensor &b);
Tensor operator/(const Tensor &a, const Tensor &b);
Tensor operator/(const Tensor &a, double b);
Tensor operator/(double a, const Tensor &b);
Tensor operator-(const Tensor &a);
/// In place, like add_: `x += y` changes x's storage (and every view of it).
Tensor &operator+=(Tensor &self, const Tensor &other);
Tensor &operator+=(Tensor &self, double other);
Tensor &operator-=(Tensor &self, const Tensor &other);
Tensor &operator-=(Tensor &self, double other);
Tensor &operator*=(Tensor &self, const Tensor &other);
Tensor &operator*=(Tensor &self, double other);
Tensor &operator/=(Tensor &self, const Tensor &other);
Tensor &operator/=(Tensor &self, double other);

/// Matrix product of 1-D and 2-D operands, as torch.matmul: a 1-D left
/// operand is a row, a 1-D right operand a column, and that axis is dropped
/// from the result.
Tensor matmul(const Tensor &a, const Tensor &b);

Tensor neg(const Tensor &t);
/// exp and log: floating dtypes only.
Tensor exp(const Tensor &t);
Tensor log(const Tensor &t);
Tensor relu(const Tensor &t);

// --- Reductions -----------------------------------------------------------
// Over `axes` (negative count from the end; empty means every axis). The
// reduced axes are dropped, or kept with size 1 when keepdim is set.

Tensor sum(const Tensor &t, std::vector<int64_t> axes = {},
           bool keepdim = false);
/// Floating dtypes only.
Tensor mean(const Tensor &t, std::vector<int64_t> axes = {},
            bool keepdim = false);
/// torch.amax: NaN wins; refuses an axis of size 0.
Tensor max(const Tensor &t, std::vector<int64_t> axes = {},
           bool keepdim = false);

} // namespace kiln
