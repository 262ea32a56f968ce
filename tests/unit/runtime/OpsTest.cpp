// Tests for the eager tensor operations: exact values, broadcasting, views,
// dtypes and the errors a caller can cause.
#include "kiln/runtime/Ops.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;

namespace {

/// Every element in row-major order, as doubles.
std::vector<double> values(const Tensor &t) {
  Tensor flat = t.reshape({-1});
  std::vector<double> result;
  for (int64_t i = 0; i < flat.numel(); ++i)
    result.push_back(flat.at({i}));
  return result;
}

using Values = std::vector<double>;
using Shape = std::vector<int64_t>;

} // namespace

TEST_CASE("creation functions set shape, dtype and contents", "[ops]") {
  Tensor o = kiln::ones({2, 3}, DType::I64);
  CHECK(o.shape() == Shape{2, 3});
  CHECK(o.dtype() == DType::I64);
  CHECK(values(o) == Values(6, 1.0));
  CHECK(values(kiln::zeros({2}, DType::F64)) == Values{0.0, 0.0});

  Tensor list = kiln::tensor({5.5, 3});
  CHECK(list.shape() == Shape{2});
  CHECK(list.dtype() == DType::F32);
  CHECK(values(list) == Values{5.5, 3.0});
  Tensor shaped = kiln::tensor({1, 2, 3, 4, 5, 6}, {3, 2}, DType::I64);
  CHECK(shaped.shape() == Shape{3, 2});
  CHECK(shaped.at({2, 0}) == 5.0);
  Tensor rows = kiln::tensor({{1, 2, 3}, {4, 5, 6}}, DType::F64);
  CHECK(rows.shape() == Shape{2, 3});
  CHECK(rows.dtype() == DType::F64);
  CHECK(rows.at({1, 0}) == 4.0);
  // 0.1 is not a float: the stored value is 0.1 rounded to float32.
  Tensor scalar = kiln::scalarTensor(0.1);
  CHECK(scalar.dim() == 0);
  CHECK(scalar.item() == static_cast<double>(0.1f));
  CHECK(kiln::scalarTensor(-4, DType::I64).item() == -4.0);

  CHECK_THROWS_WITH(kiln::tensor({1, 2, 3}, {2, 2}),
                    Contains("3 values for shape [2, 2]"));
  CHECK_THROWS_WITH(kiln::tensor({{1, 2}, {3}}), Contains("row 1 has 1"));
  CHECK_THROWS_WITH(kiln::tensor({1.5}, DType::I64),
                    Contains("1.5 is not a whole number"));
}

TEST_CASE("like and new functions keep dtype unless told otherwise", "[ops]") {
  Tensor x = Tensor::full({2, 2}, 3.0, DType::F64);
  Tensor z = kiln::zerosLike(x);
  CHECK(z.dtype() == DType::F64);
  CHECK(values(z) == Values(4, 0.0));
  Tensor o = kiln::onesLike(x, DType::I64);
  CHECK(o.dtype() == DType::I64);
  CHECK(o.shape() == Shape{2, 2});
  CHECK(values(o) == Values(4, 1.0));
  Tensor n = kiln::newOnes(x, {5, 3});
  CHECK(n.shape() == Shape{5, 3});
  CHECK(n.dtype() == DType::F64);
  CHECK(kiln::newZeros(x, {1}, DType::F32).dtype() == DType::F32);

  kiln::Generator gen(7);
  Tensor r = kiln::randLike(x, gen, DType::F32);
  CHECK(r.dtype() == DType::F32);
  CHECK(r.shape() == Shape{2, 2});
  CHECK(kiln::randnLike(x, gen).dtype() == DType::F64);
}

TEST_CASE("rand and randn are seeded and refuse int64", "[ops]") {
  Tensor a = kiln::rand({100}, 3);
  Tensor b = kiln::rand({100}, 3);
  CHECK(values(a) == values(b));
  for (double v : values(a)) {
    CHECK(v >= 0.0);
    CHECK(v <= 1.0);
  }
  // The same draws as the generator-level helper, so results are portable.
  kiln::Generator gen(3);
  CHECK(values(a) == values(kiln::uniformTensor({100}, 0.0, 1.0, gen)));
  kiln::Generator normalGen(5);
  CHECK(values(kiln::randn({3, 3}, 5, DType::F64)) ==
        values(kiln::normalTensor({3, 3}, normalGen, DType::F64)));
  CHECK_THROWS_WITH(kiln::rand({2}, 1, DType::I64), Contains("rand"));
  CHECK_THROWS_WITH(kiln::randn({2}, 1, DType::I64), Contains("randn"));
}

TEST_CASE("arithmetic by operator and by function gives exact values",
          "[ops]") {
  Tensor x = kiln::ones({2, 2});
  Tensor y = (x + 2) * 3;
  CHECK(y.dtype() == DType::F32);
  CHECK(values(y) == Values(4, 9.0));
  Tensor a = kiln::tensor({{1, 2}, {3, 4}});
  Tensor b = kiln::tensor({{8, 6}, {4, 2}});
  CHECK(values(a + b) == Values{9, 8, 7, 6});
  CHECK(values(kiln::sub(a, b)) == Values{-7, -4, -1, 2});
  CHECK(values(a * b) == Values{8, 12, 12, 8});
  CHECK(values(kiln::div(b, a)) ==
        Values{8, 3, static_cast<double>(4.0f / 3.0f), 0.5});
  CHECK(values(10 - a) == Values{9, 8, 7, 6});
  CHECK(values(12 / a) == Values{12, 6, 4, 3});
  CHECK(values(a / 2) == Values{0.5, 1, 1.5, 2});
  CHECK(values(-a) == Values{-1, -2, -3, -4});
  CHECK(values(kiln::mul(a, 0.5)) == Values{0.5, 1, 1.5, 2});
  // The operands are untouched.
  CHECK(values(a) == Values{1, 2, 3, 4});
}

TEST_CASE("binary operations broadcast by NumPy's rules", "[ops]") {
  Tensor matrix = kiln::tensor({0, 1, 2, 3, 4, 5}, {2, 3}, DType::F64);
  Tensor row = kiln::tensor({10, 20, 30}, DType::F64);
  CHECK(values(matrix + row) == Values{10, 21, 32, 13, 24, 35});
  Tensor column = kiln::tensor({100, 200}, {2, 1}, DType::F64);
  Tensor both = column + row;
  CHECK(both.shape() == Shape{2, 3});
  CHECK(values(both) == Values{110, 120, 130, 210, 220, 230});
  Tensor scalar = kiln::scalarTensor(2, DType::F64);
  CHECK(values(matrix * scalar) == Values{0, 2, 4, 6, 8, 10});

  CHECK_THROWS_WITH(matrix + kiln::tensor({1, 2}, DType::F64),
                    Contains("add") && Contains("[2, 3]") && Contains("[2]") &&
                        Contains("broadcast"));
}

TEST_CASE("results go into an output tensor or in place", "[ops]") {
  Tensor a = kiln::tensor({1, 2, 3});
  Tensor b = kiln::tensor({10, 20, 30});
  Tensor out = kiln::zeros({3});
  Tensor returned = kiln::add(a, b, out);
  CHECK(returned.sharesStorage(out));
  CHECK(values(out) == Values{11, 22, 33});

  kiln::add_(a, b);
  CHECK(values(a) == Values{11, 22, 33});
  kiln::mul_(a, 2);
  CHECK(values(a) == Values{22, 44, 66});
  a -= b;
  CHECK(values(a) == Values{12, 24, 36});
  a /= 4;
  CHECK(values(a) == Values{3, 6, 9});
  a += 1;
  a *= b;
  CHECK(values(a) == Values{40, 140, 300});

  // An operand may also be the output.
  kiln::sub(a, b, a);
  CHECK(values(a) == Values{30, 120, 270});

  CHECK_THROWS_WITH(kiln::add(a, b, kiln::zeros({2})),
                    Contains("[3]") && Contains("output is float32 of shape "
                                                "[2]"));
  CHECK_THROWS_WITH(kiln::add(a, b, kiln::zeros({3}, DType::F64)),
                    Contains("output is float64"));
  // In place, self cannot grow to the broadcast shape.
  CHECK_THROWS_WITH(kiln::add_(b, kiln::zeros({2, 3})),
                    Contains("add_") && Contains("[2, 3]"));
}

TEST_CASE("in-place updates through a view change the base tensor", "[ops]") {
  Tensor x = kiln::tensor({0, 1, 2, 3, 4, 5}, {2, 3});
  // x[:, 1] += [100, 200]: a strided column view.
  kiln::add_(x.select(1, 1), kiln::tensor({100, 200}));
  CHECK(values(x) == Values{0, 101, 2, 3, 204, 5});
  // x[1, 1:] *= 2 through a slice of a row, with a broadcast scalar tensor.
  kiln::mul_(x.select(0, 1).slice(0, 1, 3), kiln::scalarTensor(2));
  CHECK(values(x) == Values{0, 101, 2, 3, 408, 10});
  // An output view: column 0 receives a + b.
  kiln::add(kiln::tensor({1, 2}), kiln::tensor({3, 4}), x.select(1, 0));
  CHECK(values(x) == Values{4, 101, 2, 6, 408, 10});
  // Operator += on a view handle writes through as well.
  Tensor corner = x.slice(0, 0, 1).slice(1, 2, 3);
  corner += 0.5;
  CHECK(x.at({0, 2}) == 2.5);
}

TEST_CASE("operations read non-contiguous views", "[ops]") {
  Tensor x = kiln::tensor({0, 1, 2, 3, 4, 5}, {2, 3}, DType::F64);
  Tensor column = x.select(1, 2); // [2, 5], stride 3
  CHECK(values(column + column) == Values{4, 10});
  CHECK(values(kiln::exp(column)) == Values{std::exp(2.0), std::exp(5.0)});
  CHECK(kiln::sum(column).item() == 7.0);
  Tensor right = x.slice(1, 1, 3); // [[1, 2], [4, 5]]
  CHECK(values(kiln::matmul(right, right)) == Values{9, 12, 24, 33});
}

TEST_CASE("dtypes are preserved and never mixed", "[ops]") {
  Tensor d = kiln::tensor({1, 2}, DType::F64);
  CHECK((d + 1).dtype() == DType::F64);
  CHECK(kiln::relu(d).dtype() == DType::F64);
  CHECK(kiln::sum(d).dtype() == DType::F64);
  // float64 keeps digits float32 would drop.
  CHECK((d + 1e-12).at({0}) == 1.0 + 1e-12);
  CHECK((kiln::tensor({1, 2}) + 1e-12).at({0}) == 1.0);

  Tensor i = kiln::tensor({7, -3}, DType::I64);
  CHECK(values(i * 3 - 1) == Values{20, -10});
  CHECK((i + i).dtype() == DType::I64);
  CHECK(values(kiln::relu(i)) == Values{7, 0});
  CHECK_THROWS_WITH(i / i, Contains("div") && Contains("int64"));
  CHECK_THROWS_WITH(i * 0.5, Contains("0.5 is not a whole number"));
  CHECK_THROWS_WITH(kiln::exp(i), Contains("exp") && Contains("int64"));
  CHECK_THROWS_WITH(d + kiln::tensor({1, 2}),
                    Contains("[2] (float64)") && Contains("[2] (float32)"));
  CHECK_THROWS_WITH(kiln::add(Tensor(), d), Contains("undefined"));
}

TEST_CASE("matmul multiplies 1-D and 2-D operands", "[ops]") {
  Tensor a = kiln::tensor({{1, 2, 3}, {4, 5, 6}});
  Tensor b = kiln::tensor({{1, 0}, {0, 1}, {2, 2}});
  Tensor c = kiln::matmul(a, b);
  CHECK(c.shape() == Shape{2, 2});
  CHECK(values(c) == Values{7, 8, 16, 17});
  Tensor v = kiln::tensor({1, -1, 2});
  Tensor av = kiln::matmul(a, v);
  CHECK(av.shape() == Shape{2});
  CHECK(values(av) == Values{5, 11});
  Tensor vb = kiln::matmul(v, b);
  CHECK(vb.shape() == Shape{2});
  CHECK(values(vb) == Values{5, 3});
  Tensor dot = kiln::matmul(v, v);
  CHECK(dot.dim() == 0);
  CHECK(dot.item() == 6.0);
  Tensor ints = kiln::tensor({{2, 3}}, DType::I64);
  CHECK(values(kiln::matmul(ints, kiln::tensor({{4}, {5}}, DType::I64))) ==
        Values{23});

  CHECK_THROWS_WITH(kiln::matmul(a, a),
                    Contains("[2, 3]") && Contains("do not line up"));
  CHECK_THROWS_WITH(kiln::matmul(kiln::zeros({1, 2, 2}), b),
                    Contains("[1, 2, 2]") && Contains("1-D and 2-D"));
}

TEST_CASE("unary operations apply the reference kernels", "[ops]") {
  Tensor x = kiln::tensor({-2, 0, 1}, DType::F64);
  CHECK(values(kiln::neg(x)) == Values{2, 0, -1});
  CHECK(values(kiln::relu(x)) == Values{0, 0, 1});
  CHECK(values(kiln::exp(x)) == Values{std::exp(-2.0), 1.0, std::exp(1.0)});
  Tensor l = kiln::log(x);
  CHECK(std::isnan(l.at({0})));
  CHECK(l.at({1}) == -std::numeric_limits<double>::infinity());
  CHECK(l.at({2}) == 0.0);
}

TEST_CASE("sum, mean and max reduce over axes", "[ops]") {
  Tensor x = kiln::tensor({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor all = kiln::sum(x);
  CHECK(all.dim() == 0);
  CHECK(all.item() == 15.0);
  CHECK(values(kiln::sum(x, {0})) == Values{3, 5, 7});
  Tensor rows = kiln::sum(x, {-1}, true);
  CHECK(rows.shape() == Shape{2, 1});
  CHECK(values(rows) == Values{3, 12});
  CHECK(kiln::sum(x, {0, 1}, true).shape() == Shape{1, 1});
  CHECK(values(kiln::mean(x, {1})) == Values{1, 4});
  CHECK(kiln::mean(x).item() == 2.5);
  CHECK(values(kiln::max(x, {0})) == Values{3, 4, 5});
  CHECK(kiln::max(x).item() == 5.0);

  // The tutorial's out = mean(3 * (x + 2)^2) for x = ones(2, 2).
  Tensor ones = kiln::ones({2, 2});
  Tensor z = (ones + 2) * (ones + 2) * 3;
  CHECK(kiln::mean(z).item() == 27.0);

  // int64 max starts below every value, not at 0.
  Tensor negatives = kiln::tensor({-5, -2, -9}, DType::I64);
  CHECK(kiln::max(negatives).item() == -2.0);
  CHECK(kiln::sum(negatives).item() == -16.0);
  Tensor nan = kiln::tensor({1, NAN, 3});
  CHECK(std::isnan(kiln::max(nan).item()));

  CHECK_THROWS_WITH(kiln::sum(x, {2}),
                    Contains("axis 2") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(kiln::sum(x, {1, -1}), Contains("listed twice"));
  CHECK_THROWS_WITH(kiln::mean(negatives), Contains("mean"));
  CHECK_THROWS_WITH(kiln::max(kiln::zeros({2, 0}), {1}),
                    Contains("[2, 0]") && Contains("empty"));
}
