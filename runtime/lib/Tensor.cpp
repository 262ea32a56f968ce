// Tensor construction, views, copies and conversions (printing: TensorPrint).
#include "kiln/runtime/Tensor.h"

#include "TensorInternal.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

namespace kiln {

namespace {

// Owned storage is 64-byte aligned so generated code may use aligned vector
// loads on any tensor kiln allocates.
constexpr std::align_val_t kStorageAlignment{64};

std::shared_ptr<Storage> allocateStorage(size_t nbytes) {
  void *data = ::operator new(nbytes, kStorageAlignment);
  return std::make_shared<Storage>(
      data, nbytes, [](void *p) { ::operator delete(p, kStorageAlignment); });
}

template <class Dst, class Src>
void copyTyped(void *dst, const std::vector<int64_t> &dstStrides,
               int64_t dstOffset, const void *src,
               const std::vector<int64_t> &srcStrides, int64_t srcOffset,
               const std::vector<int64_t> &shape) {
  auto *d = static_cast<Dst *>(dst);
  const auto *s = static_cast<const Src *>(src);
  detail::forEachOffsetPair(
      shape, dstStrides, dstOffset, srcStrides, srcOffset,
      [&](int64_t a, int64_t b) { d[a] = static_cast<Dst>(s[b]); });
}

template <class Dst>
void copyFromAnySource(void *dst, const std::vector<int64_t> &dstStrides,
                       int64_t dstOffset, const void *src, DType srcType,
                       const std::vector<int64_t> &srcStrides,
                       int64_t srcOffset, const std::vector<int64_t> &shape) {
  switch (srcType) {
  case DType::F32:
    return copyTyped<Dst, float>(dst, dstStrides, dstOffset, src, srcStrides,
                                 srcOffset, shape);
  case DType::F64:
    return copyTyped<Dst, double>(dst, dstStrides, dstOffset, src, srcStrides,
                                  srcOffset, shape);
  case DType::I64:
    return copyTyped<Dst, int64_t>(dst, dstStrides, dstOffset, src, srcStrides,
                                   srcOffset, shape);
  case DType::U8:
    return copyTyped<Dst, uint8_t>(dst, dstStrides, dstOffset, src, srcStrides,
                                   srcOffset, shape);
  }
}

} // namespace

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::U8:
    return 1;
  }
  return 0;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "float32";
  case DType::F64:
    return "float64";
  case DType::I64:
    return "int64";
  case DType::U8:
    return "uint8";
  }
  return "unknown";
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

namespace detail {

int64_t checkedNumel(const std::vector<int64_t> &shape, const char *what) {
  int64_t count = 1;
  for (int64_t size : shape) {
    if (size < 0)
      throw Error(fmt::format("{}: shape {} has a negative size; sizes must be "
                              ">= 0",
                              what, shapeToString(shape)));
    if (__builtin_mul_overflow(count, size, &count))
      throw Error(fmt::format("{}: shape {} has more elements than fit in "
                              "64 bits; use a smaller shape",
                              what, shapeToString(shape)));
  }
  return count;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

} // namespace detail

Tensor::Tensor(std::shared_ptr<Storage> storage, std::vector<int64_t> shape,
               std::vector<int64_t> strides, int64_t offset, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)),
      strides_(std::move(strides)), offset_(offset), dtype_(dtype) {}

Tensor Tensor::empty(std::vector<int64_t> shape, DType dtype) {
  int64_t count = detail::checkedNumel(shape, "Tensor::empty");
  size_t nbytes = static_cast<size_t>(count) * dtypeSize(dtype);
  std::vector<int64_t> strides = detail::contiguousStrides(shape);
  return Tensor(allocateStorage(nbytes), std::move(shape), std::move(strides),
                0, dtype);
}

Tensor Tensor::zeros(std::vector<int64_t> shape, DType dtype) {
  Tensor result = empty(std::move(shape), dtype);
  // All-zero bytes are 0.0 for IEEE floats and 0 for integers.
  std::memset(result.rawData(), 0, result.nbytes());
  return result;
}

Tensor Tensor::full(std::vector<int64_t> shape, double value, DType dtype) {
  Tensor result = empty(std::move(shape), dtype);
  int64_t count = result.numel();
  void *data = result.rawData();
  switch (dtype) {
  case DType::F32:
    std::fill_n(static_cast<float *>(data), count, static_cast<float>(value));
    break;
  case DType::F64:
    std::fill_n(static_cast<double *>(data), count, value);
    break;
  case DType::I64:
    std::fill_n(static_cast<int64_t *>(data), count,
                static_cast<int64_t>(value));
    break;
  case DType::U8:
    std::fill_n(static_cast<uint8_t *>(data), count,
                static_cast<uint8_t>(value));
    break;
  }
  return result;
}

Tensor Tensor::fromBlob(void *data, std::vector<int64_t> shape, DType dtype,
                        std::function<void(void *)> deleter) {
  int64_t count = detail::checkedNumel(shape, "Tensor::fromBlob");
  if (!data && count > 0)
    throw Error("Tensor::fromBlob: data is null; pass a pointer to at least "
                "numel * dtypeSize bytes");
  size_t nbytes = static_cast<size_t>(count) * dtypeSize(dtype);
  std::vector<int64_t> strides = detail::contiguousStrides(shape);
  return Tensor(std::make_shared<Storage>(data, nbytes, std::move(deleter)),
                std::move(shape), std::move(strides), 0, dtype);
}

void Tensor::checkDefined(const char *what) const {
  if (!defined())
    throw Error(fmt::format("{} called on an undefined tensor; create it with "
                            "Tensor::empty/zeros/fromBlob first",
                            what));
}

void Tensor::checkDType(DType expected) const {
  checkDefined("Tensor::data<T>()");
  if (expected == dtype_)
    return;
  throw Error(fmt::format("Tensor::data<T>(): asked for {} elements but the "
                          "tensor holds {}; use the matching T or convert "
                          "with to(DType)",
                          dtypeName(expected), dtypeName(dtype_)));
}

int64_t Tensor::normaliseAxis(int64_t axis, const char *what) const {
  int64_t rank = dim();
  if (axis < -rank || axis >= rank)
    throw Error(fmt::format("{}: axis {} is out of range for a tensor of "
                            "shape {}; use an axis in [{}, {}]",
                            what, axis, shapeToString(shape_), -rank,
                            rank - 1));
  return axis < 0 ? axis + rank : axis;
}

int64_t Tensor::size(int64_t axis) const {
  return shape_[normaliseAxis(axis, "Tensor::size")];
}

int64_t Tensor::numel() const {
  int64_t count = 1;
  for (int64_t size : shape_)
    count *= size;
  return count;
}

bool Tensor::isContiguous() const {
  int64_t expected = 1;
  for (size_t d = shape_.size(); d-- > 0;) {
    // Sizes 0 and 1 never step, so their strides cannot break contiguity.
    if (shape_[d] == 0)
      return true;
    if (shape_[d] == 1)
      continue;
    if (strides_[d] != expected)
      return false;
    expected *= shape_[d];
  }
  return true;
}

void *Tensor::rawData() {
  checkDefined("Tensor::rawData");
  return static_cast<std::byte *>(storage_->data) +
         offset_ * static_cast<int64_t>(dtypeSize(dtype_));
}

const void *Tensor::rawData() const {
  return const_cast<Tensor *>(this)->rawData();
}

size_t Tensor::nbytes() const {
  return static_cast<size_t>(numel()) * dtypeSize(dtype_);
}

Tensor Tensor::clone() const {
  checkDefined("Tensor::clone");
  Tensor result = empty(shape_, dtype_);
  result.copyFrom(*this);
  return result;
}

Tensor Tensor::contiguous() const {
  checkDefined("Tensor::contiguous");
  if (isContiguous())
    return *this;
  return clone();
}

Tensor Tensor::reshape(std::vector<int64_t> shape) const {
  checkDefined("Tensor::reshape");
  int64_t count = numel();
  int64_t known = 1;
  int64_t inferredAxis = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferredAxis >= 0)
        throw Error(fmt::format("cannot reshape tensor of shape {} into {}: "
                                "only one dimension may be -1",
                                shapeToString(shape_), shapeToString(shape)));
      inferredAxis = static_cast<int64_t>(d);
      continue;
    }
    if (shape[d] < 0)
      throw Error(fmt::format("cannot reshape tensor of shape {} into {}: "
                              "sizes must be >= 0, or -1 to infer one",
                              shapeToString(shape_), shapeToString(shape)));
    known *= shape[d];
  }
  bool fits =
      inferredAxis < 0 ? known == count : known != 0 && count % known == 0;
  if (!fits)
    throw Error(fmt::format("cannot reshape tensor of shape {} ({} elements) "
                            "into {}; choose sizes whose product is {}",
                            shapeToString(shape_), count, shapeToString(shape),
                            count));
  if (inferredAxis >= 0)
    shape[inferredAxis] = count / known;
  if (!isContiguous())
    return clone().reshape(std::move(shape));
  std::vector<int64_t> strides = detail::contiguousStrides(shape);
  return Tensor(storage_, std::move(shape), std::move(strides), offset_,
                dtype_);
}

Tensor Tensor::select(int64_t axis, int64_t index) const {
  checkDefined("Tensor::select");
  axis = normaliseAxis(axis, "Tensor::select");
  int64_t size = shape_[axis];
  if (index < -size || index >= size)
    throw Error(fmt::format("Tensor::select: index {} is out of range for "
                            "axis {} of size {} (shape {}); use an index in "
                            "[{}, {}]",
                            index, axis, size, shapeToString(shape_), -size,
                            size - 1));
  if (index < 0)
    index += size;
  std::vector<int64_t> shape = shape_;
  std::vector<int64_t> strides = strides_;
  int64_t offset = offset_ + index * strides_[axis];
  shape.erase(shape.begin() + axis);
  strides.erase(strides.begin() + axis);
  return Tensor(storage_, std::move(shape), std::move(strides), offset, dtype_);
}

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end) const {
  checkDefined("Tensor::slice");
  axis = normaliseAxis(axis, "Tensor::slice");
  int64_t size = shape_[axis];
  auto clampBound = [size](int64_t bound) {
    if (bound < 0)
      bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  start = clampBound(start);
  end = std::max(start, clampBound(end));
  std::vector<int64_t> shape = shape_;
  shape[axis] = end - start;
  // An empty slice keeps offset_ so it never points past the storage.
  int64_t offset = end > start ? offset_ + start * strides_[axis] : offset_;
  return Tensor(storage_, std::move(shape), strides_, offset, dtype_);
}

double Tensor::item() const {
  checkDefined("Tensor::item");
  if (numel() != 1)
    throw Error(fmt::format("Tensor::item: tensor of shape {} has {} "
                            "elements, item() needs exactly one; use at() or "
                            "select() to pick one",
                            shapeToString(shape_), numel()));
  return detail::loadAsDouble(storage_->data, dtype_, offset_);
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  checkDefined("Tensor::at");
  if (static_cast<int64_t>(index.size()) != dim())
    throw Error(fmt::format("Tensor::at: got {} indices for a tensor of shape "
                            "{}; pass one index per dimension",
                            index.size(), shapeToString(shape_)));
  int64_t offset = offset_;
  size_t d = 0;
  for (int64_t i : index) {
    int64_t size = shape_[d];
    if (i < -size || i >= size)
      throw Error(fmt::format("Tensor::at: index {} is out of range for axis "
                              "{} of size {} (shape {})",
                              i, d, size, shapeToString(shape_)));
    offset += (i < 0 ? i + size : i) * strides_[d];
    ++d;
  }
  return detail::loadAsDouble(storage_->data, dtype_, offset);
}

void Tensor::copyFrom(const Tensor &src) {
  checkDefined("Tensor::copyFrom");
  src.checkDefined("Tensor::copyFrom (source)");
  if (src.shape_ != shape_)
    throw Error(fmt::format("Tensor::copyFrom: source shape {} differs from "
                            "destination shape {}; reshape the source first",
                            shapeToString(src.shape_), shapeToString(shape_)));
  // A source that shares our bytes could be overwritten mid-copy.
  if (sharesStorage(src)) {
    if (src.offset_ == offset_ && src.strides_ == strides_ &&
        src.dtype_ == dtype_)
      return;
    copyFrom(src.clone());
    return;
  }
  if (dtype_ == src.dtype_ && isContiguous() && src.isContiguous()) {
    std::memmove(rawData(), src.rawData(), nbytes());
    return;
  }
  void *dst = storage_->data;
  const void *from = src.storage_->data;
  switch (dtype_) {
  case DType::F32:
    return copyFromAnySource<float>(dst, strides_, offset_, from, src.dtype_,
                                    src.strides_, src.offset_, shape_);
  case DType::F64:
    return copyFromAnySource<double>(dst, strides_, offset_, from, src.dtype_,
                                     src.strides_, src.offset_, shape_);
  case DType::I64:
    return copyFromAnySource<int64_t>(dst, strides_, offset_, from, src.dtype_,
                                      src.strides_, src.offset_, shape_);
  case DType::U8:
    return copyFromAnySource<uint8_t>(dst, strides_, offset_, from, src.dtype_,
                                      src.strides_, src.offset_, shape_);
  }
}

Tensor Tensor::to(const Device &device) const {
  device.checkUsable();
  if (!device.isCpu())
    throw Error("Tensor::to(" + device.toString() +
                "): eager tensors live in host memory in this version; a "
                "compiled program runs on the GPU with --device cuda "
                "(CompileSpec::device) and copies its batches itself");
  return *this;
}

Tensor Tensor::to(DType dtype) const {
  checkDefined("Tensor::to");
  Tensor result = empty(shape_, dtype);
  result.copyFrom(*this);
  return result;
}

bool Tensor::allClose(const Tensor &other, double rtol, double atol) const {
  checkDefined("Tensor::allClose");
  other.checkDefined("Tensor::allClose (other)");
  if (shape_ != other.shape_)
    return false;
  bool close = true;
  detail::forEachOffsetPair(
      shape_, strides_, offset_, other.strides_, other.offset_,
      [&](int64_t a, int64_t b) {
        double x = detail::loadAsDouble(storage_->data, dtype_, a);
        double y = detail::loadAsDouble(other.storage_->data, other.dtype_, b);
        // Equal infinities are close although their difference is NaN.
        if (x == y)
          return;
        if (!(std::abs(x - y) <= atol + rtol * std::abs(y)))
          close = false;
      });
  return close;
}

} // namespace kiln
