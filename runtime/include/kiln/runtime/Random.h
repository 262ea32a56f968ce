// Seeded random numbers, identical on every platform and standard library.
//
//   kiln::Generator gen(42);
//   kiln::Tensor w = kiln::uniformTensor({6, 1, 5, 5}, -0.2, 0.2, gen);
//
// The engine is std::mt19937_64, whose output the C++ standard fixes; the
// uniform and normal transforms are kiln's own because std::*_distribution
// results differ between libstdc++, libc++ and MSVC.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <random>
#include <vector>

namespace kiln {

class Generator {
public:
  explicit Generator(uint64_t seed);

  /// The next raw 64-bit output of the engine.
  uint64_t next();
  /// Uniform in [lo, hi), from the top 53 bits of one next().
  double uniform(double lo, double hi);
  /// Standard normal (mean 0, variance 1) by Box-Muller; each pair of
  /// uniforms yields two values, the second returned by the following call.
  double normal();
  /// Uniform integer in [0, bound) without modulo bias; bound must be > 0.
  uint64_t below(uint64_t bound);
  /// Fisher-Yates shuffle driven by below().
  void shuffle(std::vector<int64_t> &values);

private:
  std::mt19937_64 engine_;
  double spareNormal_ = 0.0;
  bool hasSpareNormal_ = false;
};

/// Tensor of uniform samples in [lo, hi), filled in row-major order (for F32,
/// rounding a double just below hi can give hi itself). For DType::I64 each
/// sample is floored.
Tensor uniformTensor(std::vector<int64_t> shape, double lo, double hi,
                     Generator &gen, DType dtype = DType::F32);
/// Tensor of standard normal samples, filled in row-major order.
Tensor normalTensor(std::vector<int64_t> shape, Generator &gen,
                    DType dtype = DType::F32);

} // namespace kiln
