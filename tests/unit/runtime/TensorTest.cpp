// Tests for kiln::Tensor: views, copies, conversion and PyTorch printing.
#include "kiln/runtime/Tensor.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using kiln::DType;
using kiln::Tensor;

namespace {

/// [rows, cols] float32 tensor holding 0, 1, 2, ... in row-major order.
Tensor iota(int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty({rows, cols});
  for (int64_t i = 0; i < rows * cols; ++i)
    t.data<float>()[i] = static_cast<float>(i);
  return t;
}

} // namespace

TEST_CASE("dtype helpers name PyTorch's dtypes", "[tensor]") {
  CHECK(kiln::dtypeSize(DType::F32) == 4);
  CHECK(kiln::dtypeSize(DType::F64) == 8);
  CHECK(kiln::dtypeSize(DType::I64) == 8);
  CHECK(std::string(kiln::dtypeName(DType::F32)) == "float32");
  CHECK(std::string(kiln::dtypeName(DType::F64)) == "float64");
  CHECK(std::string(kiln::dtypeName(DType::I64)) == "int64");
}

TEST_CASE("factories set shape, strides and contents", "[tensor]") {
  CHECK_FALSE(Tensor().defined());

  Tensor z = Tensor::zeros({2, 3, 4});
  CHECK(z.defined());
  CHECK(z.dim() == 3);
  CHECK(z.numel() == 24);
  CHECK(z.size(-1) == 4);
  CHECK(z.size(0) == 2);
  CHECK(z.strides() == std::vector<int64_t>{12, 4, 1});
  CHECK(z.isContiguous());
  CHECK(z.nbytes() == 96);
  CHECK(z.at({1, 2, 3}) == 0.0);
  CHECK(reinterpret_cast<uintptr_t>(z.rawData()) % 64 == 0);

  Tensor f = Tensor::full({3}, 7.9, DType::I64);
  CHECK(f.dtype() == DType::I64);
  CHECK(f.data<int64_t>()[2] == 7);

  CHECK_THROWS_WITH(z.size(3),
                    Contains("axis 3 is out of range") && Contains("[-3, 2]"));
  CHECK_THROWS_WITH(Tensor::empty({2, -1}), Contains("negative size"));
}

TEST_CASE("data<T> refuses the wrong element type", "[tensor]") {
  Tensor t = Tensor::zeros({2}, DType::F64);
  CHECK_NOTHROW(t.data<double>());
  CHECK_THROWS_AS(t.data<float>(), kiln::Error);
  CHECK_THROWS_WITH(t.data<float>(),
                    Contains("asked for float32") && Contains("holds float64"));
  CHECK_THROWS_WITH(Tensor().data<float>(), Contains("undefined tensor"));
}

TEST_CASE("fromBlob borrows memory and runs the deleter once", "[tensor]") {
  float buffer[6] = {0, 1, 2, 3, 4, 5};
  int deleted = 0;
  {
    Tensor t = Tensor::fromBlob(buffer, {2, 3}, DType::F32, [&](void *p) {
      CHECK(p == buffer);
      ++deleted;
    });
    Tensor view = t.select(0, 1);
    t = Tensor();
    view.data<float>()[0] = 30.0f;
    CHECK(deleted == 0);
  }
  CHECK(deleted == 1);
  CHECK(buffer[3] == 30.0f);
}

TEST_CASE("select, slice and reshape are views of the same storage",
          "[tensor]") {
  Tensor t = iota(3, 4);

  Tensor row = t.select(0, -1); // [8, 9, 10, 11]
  CHECK(row.shape() == std::vector<int64_t>{4});
  CHECK(row.sharesStorage(t));
  CHECK(row.at({0}) == 8.0);
  row.data<float>()[1] = 90.0f;
  CHECK(t.at({2, 1}) == 90.0);

  Tensor column = t.select(1, 2); // [2, 6, 10], stride 4
  CHECK(column.strides() == std::vector<int64_t>{4});
  CHECK(column.at({1}) == 6.0);

  Tensor middle = t.slice(1, 1, 3); // columns 1..2
  CHECK(middle.shape() == std::vector<int64_t>{3, 2});
  CHECK_FALSE(middle.isContiguous());
  CHECK(middle.at({1, 0}) == 5.0);
  CHECK(t.slice(0, -2, 100).shape() == std::vector<int64_t>{2, 4});
  CHECK(t.slice(0, 2, 1).numel() == 0);

  Tensor flat = t.reshape({-1});
  CHECK(flat.shape() == std::vector<int64_t>{12});
  CHECK(flat.sharesStorage(t));
  flat.data<float>()[0] = -1.0f;
  CHECK(t.at({0, 0}) == -1.0);

  // A non-contiguous tensor cannot be viewed in a new shape, so it is copied.
  Tensor copied = middle.reshape({6});
  CHECK_FALSE(copied.sharesStorage(t));
  CHECK(copied.at({2}) == 5.0);
  CHECK(copied.at({5}) == 10.0);

  CHECK_THROWS_WITH(t.select(0, 3),
                    Contains("index 3 is out of range for axis 0 of size 3"));
}

TEST_CASE("reshape infers one -1 and explains sizes that do not fit",
          "[tensor]") {
  Tensor t = Tensor::zeros({2, 3, 4});
  CHECK(t.reshape({-1, 4}).shape() == std::vector<int64_t>{6, 4});
  CHECK(t.reshape({4, -1, 2}).shape() == std::vector<int64_t>{4, 3, 2});
  CHECK(t.reshape({24}).strides() == std::vector<int64_t>{1});

  Tensor small = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(small.reshape({4, -1}),
                    Equals("cannot reshape tensor of shape [2, 3] (6 elements) "
                           "into [4, -1]; choose sizes whose product is 6"));
  CHECK_THROWS_WITH(small.reshape({5}), Contains("(6 elements) into [5]"));
  CHECK_THROWS_WITH(small.reshape({-1, -1}),
                    Contains("only one dimension may be -1"));
  CHECK_THROWS_WITH(small.reshape({-2, -3}), Contains("sizes must be >= 0"));
}

TEST_CASE("item and at read any dtype as double", "[tensor]") {
  CHECK(Tensor::full({1, 1}, 2.5).item() == 2.5);
  CHECK(Tensor::full({}, -4, DType::I64).item() == -4.0);
  CHECK_THROWS_WITH(Tensor::zeros({2}).item(),
                    Contains("has 2 elements, item() needs exactly one"));
  Tensor t = iota(2, 3).to(DType::F64);
  CHECK(t.at({1, -1}) == 5.0);
  CHECK_THROWS_WITH(t.at({1}), Contains("got 1 indices"));
  CHECK_THROWS_WITH(t.at({2, 0}), Contains("index 2 is out of range"));
}

TEST_CASE("copyFrom and to convert between dtypes", "[tensor]") {
  Tensor source = Tensor::empty({3});
  float values[3] = {1.75f, -2.5f, 3.0f};
  std::copy(values, values + 3, source.data<float>());

  Tensor ints = source.to(DType::I64);
  CHECK(ints.data<int64_t>()[0] == 1); // truncation toward zero, like torch
  CHECK(ints.data<int64_t>()[1] == -2);

  Tensor doubles = Tensor::zeros({3}, DType::F64);
  doubles.copyFrom(source);
  CHECK(doubles.data<double>()[0] == 1.75);

  // Copy into a strided view: column 1 of a [3, 2] matrix.
  Tensor matrix = Tensor::zeros({3, 2});
  matrix.select(1, 1).copyFrom(ints);
  CHECK(matrix.at({2, 1}) == 3.0);
  CHECK(matrix.at({2, 0}) == 0.0);

  CHECK_THROWS_WITH(matrix.copyFrom(source),
                    Contains("source shape [3] differs from destination shape "
                             "[3, 2]"));

  Tensor cloned = matrix.clone();
  CHECK_FALSE(cloned.sharesStorage(matrix));
  CHECK(cloned.allClose(matrix, 0, 0));
}

TEST_CASE("copyFrom handles a source overlapping the destination", "[tensor]") {
  Tensor t = iota(1, 4).reshape({4});
  t.slice(0, 1, 4).copyFrom(t.slice(0, 0, 3));
  CHECK(t.at({0}) == 0.0);
  CHECK(t.at({1}) == 0.0);
  CHECK(t.at({2}) == 1.0);
  CHECK(t.at({3}) == 2.0);
}

TEST_CASE("allClose uses the tolerance rule of torch.allclose", "[tensor]") {
  Tensor a = Tensor::full({2}, 1.0);
  Tensor b = Tensor::full({2}, 1.001, DType::F64);
  CHECK(a.allClose(b, 1e-3, 0.0));       // |diff| 1e-3 <= 1.001e-3
  CHECK_FALSE(a.allClose(b, 1e-4, 0.0)); // 1e-3 > 1.001e-4
  CHECK(a.allClose(b, 0.0, 1.1e-3));
  CHECK_FALSE(a.allClose(Tensor::full({3}, 1.0), 1, 1));
  Tensor nan = Tensor::full({2}, std::nan(""));
  CHECK_FALSE(nan.allClose(nan, 1, 1));
  Tensor inf = Tensor::full({1}, INFINITY);
  CHECK(inf.allClose(inf, 0, 0));
}

TEST_CASE("toString matches PyTorch's repr", "[tensor][print]") {
  Tensor m = Tensor::empty({2, 2});
  float values[4] = {1, 2, 3, 4};
  std::copy(values, values + 4, m.data<float>());
  CHECK(m.toString() == "tensor([[1., 2.],\n        [3., 4.]])");

  std::ostringstream os;
  os << m.select(0, 1);
  CHECK(os.str() == "tensor([3., 4.])");

  Tensor fixed = Tensor::empty({3});
  float mixed[3] = {0.5f, 1.25f, -3.0f};
  std::copy(mixed, mixed + 3, fixed.data<float>());
  CHECK(fixed.toString() == "tensor([ 0.5000,  1.2500, -3.0000])");

  CHECK(Tensor::full({2}, 1.5, DType::F64).toString() ==
        "tensor([1.5000, 1.5000], dtype=kiln.float64)");

  Tensor ints = Tensor::empty({3}, DType::I64);
  int64_t labels[3] = {1, 10, -3};
  std::copy(labels, labels + 3, ints.data<int64_t>());
  CHECK(ints.toString() == "tensor([ 1, 10, -3])");

  CHECK(Tensor::full({}, 3.0).toString() == "tensor(3.)");
  CHECK(Tensor::zeros({2}).toString() == "tensor([0., 0.])");
  CHECK(Tensor::zeros({0}).toString() == "tensor([])");
  CHECK(Tensor::zeros({0, 3}).toString() == "tensor([], size=(0, 3))");

  Tensor small = Tensor::empty({2});
  small.data<float>()[0] = 1e-5f;
  small.data<float>()[1] = 1.0f;
  CHECK(small.toString() == "tensor([1.0000e-05, 1.0000e+00])");

  CHECK(Tensor::zeros({2, 2, 2}).toString() == "tensor([[[0., 0.],\n"
                                               "         [0., 0.]],\n"
                                               "\n"
                                               "        [[0., 0.],\n"
                                               "         [0., 0.]]])");
}

TEST_CASE("toString summarises tensors over 1000 elements like PyTorch",
          "[tensor][print]") {
  // torch.arange(2000.): the shown values span 0..1999, a ratio over 1000,
  // so PyTorch switches to scientific notation and wraps at 80 columns.
  Tensor t = Tensor::empty({2000});
  for (int64_t i = 0; i < 2000; ++i)
    t.data<float>()[i] = static_cast<float>(i);
  CHECK(t.toString() ==
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, "
        "1.9980e+03,\n        1.9990e+03])");

  Tensor grid = Tensor::zeros({100, 100});
  CHECK(grid.toString() == "tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
                           "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
                           "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
                           "        ...,\n"
                           "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
                           "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
                           "        [0., 0., 0.,  ..., 0., 0., 0.]])");
}

TEST_CASE("toString wraps long vectors at 80 columns", "[tensor][print]") {
  // 30 elements of width 3 ("10.") -> 5-wide items, (80 - 7) / 5 = 14 per line.
  Tensor t = Tensor::empty({30});
  for (int64_t i = 0; i < 30; ++i)
    t.data<float>()[i] = static_cast<float>(i);
  CHECK(t.toString() ==
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., "
        "12., 13.,\n"
        "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., "
        "26., 27.,\n"
        "        28., 29.])");
}
