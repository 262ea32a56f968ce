// kiln::Tensor: strided n-d array with shared storage, for program I/O.
//
//   kiln::Tensor x = kiln::Tensor::zeros({2, 3});
//   x.data<float>()[1] = 5.0f;              // x[0][1]
//   kiln::Tensor row = x.select(0, 0);      // a view: writes show up in x
//   kiln::Tensor flat = x.reshape({-1});    // [6], also a view
//   std::cout << x << "\n";                 // tensor([[0., 5., 0.], ...
//
// Tensors are handles: copying one shares the storage, clone() copies the data.
// Compiled programs do the arithmetic; this class only stores, views, converts
// and prints.
#pragma once

#include "kiln/runtime/Device.h"
#include "kiln/runtime/Error.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

enum class DType { F32, F64, I64, U8 };

/// Bytes per element.
size_t dtypeSize(DType dtype);
/// "float32", "float64", "int64" or "uint8", as PyTorch names them.
const char *dtypeName(DType dtype);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <> struct DTypeOf<double> {
  static constexpr DType value = DType::F64;
};
template <> struct DTypeOf<int64_t> {
  static constexpr DType value = DType::I64;
};
template <> struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::U8;
};

/// The bytes behind one or more tensors: either owned (64-byte aligned, so
/// generated vector code may use aligned loads) or borrowed from the caller,
/// in which case `deleter`, if set, runs when the last tensor lets go.
struct Storage {
  void *data = nullptr;
  size_t nbytes = 0;
  std::function<void(void *)> deleter;

  Storage(void *data, size_t nbytes, std::function<void(void *)> deleter)
      : data(data), nbytes(nbytes), deleter(std::move(deleter)) {}
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;
  ~Storage() {
    if (deleter)
      deleter(data);
  }
};

class Tensor {
public:
  /// An undefined tensor: defined() is false and nothing else may be called.
  Tensor() = default;

  /// Uninitialised contiguous tensor.
  static Tensor empty(std::vector<int64_t> shape, DType dtype = DType::F32);
  static Tensor zeros(std::vector<int64_t> shape, DType dtype = DType::F32);
  static Tensor full(std::vector<int64_t> shape, double value,
                     DType dtype = DType::F32);
  /// Wraps caller memory without copying; `deleter` (if any) is called with
  /// `data` when the last view of it goes away.
  static Tensor fromBlob(void *data, std::vector<int64_t> shape, DType dtype,
                         std::function<void(void *)> deleter = {});

  bool defined() const { return storage_ != nullptr; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  /// Size along `axis`; negative axes count from the end.
  int64_t size(int64_t axis) const;
  int64_t numel() const;
  DType dtype() const { return dtype_; }
  /// Strides in elements, not bytes.
  const std::vector<int64_t> &strides() const { return strides_; }
  /// Offset of the first element into the storage, in elements.
  int64_t offset() const { return offset_; }
  bool isContiguous() const;
  /// True when both tensors view the same bytes (e.g. one is a view of the
  /// other).
  bool sharesStorage(const Tensor &other) const {
    return storage_ && storage_ == other.storage_;
  }

  /// Pointer to the first element; throws if T does not match dtype().
  template <class T> T *data() {
    checkDType(DTypeOf<T>::value);
    return static_cast<T *>(rawData());
  }
  template <class T> const T *data() const {
    checkDType(DTypeOf<T>::value);
    return static_cast<const T *>(rawData());
  }
  void *rawData();
  const void *rawData() const;
  /// numel() * dtypeSize(dtype()): the bytes this tensor's elements occupy.
  size_t nbytes() const;

  /// Contiguous deep copy.
  Tensor clone() const;
  /// This tensor if already contiguous, otherwise a contiguous copy.
  Tensor contiguous() const;
  /// Same elements in a new shape; one dimension may be -1 and is inferred.
  /// A view when this tensor is contiguous, a copy otherwise.
  Tensor reshape(std::vector<int64_t> shape) const;
  /// View with `axis` removed, fixed at `index` (negative counts from the end).
  Tensor select(int64_t axis, int64_t index) const;
  /// View of [start, end) along `axis`; bounds are clamped like Python slices.
  Tensor slice(int64_t axis, int64_t start, int64_t end) const;

  /// The single element of a one-element tensor, as a double.
  double item() const;
  /// Element at a full index (negative indices count from the end), as a
  /// double.
  double at(std::initializer_list<int64_t> index) const;
  /// Copies `src` element-wise into this tensor (same shape), converting dtype.
  void copyFrom(const Tensor &src);
  /// Contiguous copy converted to `dtype` (a copy even when dtype is
  /// unchanged).
  Tensor to(DType dtype) const;
  /// The tensor on `device`: itself for the CPU; a kiln::Error naming the
  /// device for one this build cannot use.
  Tensor to(const Device &device) const;
  /// |a - b| <= atol + rtol * |b| for every element, as torch.allclose; false
  /// when the shapes differ or any element is NaN.
  bool allClose(const Tensor &other, double rtol = 1e-5,
                double atol = 1e-8) const;

  /// PyTorch's repr, with "kiln." in place of "torch." in the dtype suffix.
  std::string toString() const;

private:
  Tensor(std::shared_ptr<Storage> storage, std::vector<int64_t> shape,
         std::vector<int64_t> strides, int64_t offset, DType dtype);

  void checkDType(DType expected) const;
  void checkDefined(const char *what) const;
  int64_t normaliseAxis(int64_t axis, const char *what) const;

  std::shared_ptr<Storage> storage_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::F32;
};

std::ostream &operator<<(std::ostream &os, const Tensor &tensor);

/// "[2, 3]": how shapes appear in kiln's error messages.
std::string shapeToString(const std::vector<int64_t> &shape);

} // namespace kiln
