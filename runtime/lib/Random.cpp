// Generator and random tensors: portable transforms over std::mt19937_64.
#include "kiln/runtime/Random.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

namespace kiln {

Generator::Generator(uint64_t seed) : engine_(seed) {}

uint64_t Generator::next() { return engine_(); }

double Generator::uniform(double lo, double hi) {
  // 53 bits fill a double's mantissa exactly, so every value is equally likely
  // and 1.0 is never produced.
  double unit = static_cast<double>(next() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * unit;
}

double Generator::normal() {
  if (hasSpareNormal_) {
    hasSpareNormal_ = false;
    return spareNormal_;
  }
  // 1 - u lies in (0, 1], keeping log() finite.
  double radius = std::sqrt(-2.0 * std::log(1.0 - uniform(0.0, 1.0)));
  double angle = 2.0 * std::numbers::pi * uniform(0.0, 1.0);
  spareNormal_ = radius * std::sin(angle);
  hasSpareNormal_ = true;
  return radius * std::cos(angle);
}

uint64_t Generator::below(uint64_t bound) {
  if (bound == 0)
    throw Error("Generator::below: bound is 0; pass a bound of at least 1");
  // Reject the top partial copy of [0, bound) so every residue is equally
  // likely.
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t value = next();
  while (value >= limit)
    value = next();
  return value % bound;
}

void Generator::shuffle(std::vector<int64_t> &values) {
  for (size_t i = values.size(); i > 1; --i)
    std::swap(values[i - 1], values[below(i)]);
}

namespace {

template <class Sample>
Tensor fillTensor(std::vector<int64_t> shape, DType dtype, Sample sample) {
  Tensor result = Tensor::empty(std::move(shape), dtype);
  int64_t count = result.numel();
  switch (dtype) {
  case DType::F32: {
    float *data = result.data<float>();
    for (int64_t i = 0; i < count; ++i)
      data[i] = static_cast<float>(sample());
    break;
  }
  case DType::F64: {
    double *data = result.data<double>();
    for (int64_t i = 0; i < count; ++i)
      data[i] = sample();
    break;
  }
  case DType::I64: {
    int64_t *data = result.data<int64_t>();
    for (int64_t i = 0; i < count; ++i)
      data[i] = static_cast<int64_t>(std::floor(sample()));
    break;
  }
  case DType::U8: {
    uint8_t *data = result.data<uint8_t>();
    for (int64_t i = 0; i < count; ++i)
      data[i] = static_cast<uint8_t>(std::floor(sample()));
    break;
  }
  }
  return result;
}

} // namespace

Tensor uniformTensor(std::vector<int64_t> shape, double lo, double hi,
                     Generator &gen, DType dtype) {
  if (!(lo <= hi))
    throw Error(fmt::format("uniformTensor: lo ({}) is greater than hi ({}); "
                            "pass lo <= hi",
                            lo, hi));
  return fillTensor(std::move(shape), dtype,
                    [&] { return gen.uniform(lo, hi); });
}

Tensor normalTensor(std::vector<int64_t> shape, Generator &gen, DType dtype) {
  return fillTensor(std::move(shape), dtype, [&] { return gen.normal(); });
}

} // namespace kiln
