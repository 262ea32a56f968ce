// Per-sample image transforms (the blitz's torchvision.transforms), composable
// and seeded.
//
//   // CIFAR-10 augmentation on images loadCifar10 already normalised, where
//   // black is -1: pad 4 black pixels, crop 32x32 at random, flip half.
//   kiln::Compose augment({std::make_shared<kiln::RandomCrop>(32, 4, -1.0f),
//                          std::make_shared<kiln::RandomHorizontalFlip>(0.5)});
//   kiln::ImageShape shape{3, 32, 32};
//   std::vector<float> out(augment.outputShape(shape).numel());
//   kiln::Generator gen(seed);
//   augment.apply(image, shape, out.data(), gen);  // image: const float *
//
// A transform is immutable once built, and all randomness comes from the
// Generator passed to apply(), so one transform may serve many threads, each
// with its own generator, and a seed fixes every result.
#pragma once

#include "kiln/runtime/Random.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace kiln {

/// The shape of one image, [C, H, W], stored row-major and contiguous.
struct ImageShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;

  int64_t numel() const { return channels * height * width; }
  bool operator==(const ImageShape &) const = default;
};

class Transform {
public:
  virtual ~Transform() = default;

  /// The shape apply() produces from an image of shape `in`; throws
  /// kiln::Error when this transform cannot take such an image.
  virtual ImageShape outputShape(ImageShape in) const = 0;

  /// Writes the transform of `in` (shape `inShape`) to `out`, which holds
  /// outputShape(inShape).numel() floats and does not overlap `in`. Throws
  /// like outputShape for a shape it cannot take.
  virtual void apply(const float *in, ImageShape inShape, float *out,
                     Generator &gen) const = 0;
};

/// out[c] = (in[c] - mean[c]) / stddev[c], as torchvision's Normalize.
class Normalize final : public Transform {
public:
  /// One mean and one non-zero standard deviation per channel.
  Normalize(std::vector<float> mean, std::vector<float> stddev);
  ImageShape outputShape(ImageShape in) const override;
  void apply(const float *in, ImageShape inShape, float *out,
             Generator &gen) const override;

private:
  std::vector<float> mean_;
  std::vector<float> stddev_;
};

/// Adds `pixels` pixels of `value` on every side, as torchvision's Pad with a
/// constant fill.
class Pad final : public Transform {
public:
  explicit Pad(int64_t pixels, float value = 0.0f);
  ImageShape outputShape(ImageShape in) const override;
  void apply(const float *in, ImageShape inShape, float *out,
             Generator &gen) const override;

private:
  int64_t pixels_;
  float value_;
};

/// Pads by `padding` pixels of `fill`, then cuts a size x size window at a
/// random position, as torchvision's RandomCrop(size, padding, fill). Draws
/// the top row, then the left column, each with Generator::below.
class RandomCrop final : public Transform {
public:
  explicit RandomCrop(int64_t size, int64_t padding = 0, float fill = 0.0f);
  ImageShape outputShape(ImageShape in) const override;
  void apply(const float *in, ImageShape inShape, float *out,
             Generator &gen) const override;

private:
  int64_t size_;
  int64_t padding_;
  float fill_;
};

/// Mirrors the image left to right with probability `p`, as torchvision's
/// RandomHorizontalFlip. Draws one Generator::uniform(0, 1) per image.
class RandomHorizontalFlip final : public Transform {
public:
  explicit RandomHorizontalFlip(double p = 0.5);
  ImageShape outputShape(ImageShape in) const override;
  void apply(const float *in, ImageShape inShape, float *out,
             Generator &gen) const override;

private:
  double p_;
};

/// Applies `steps` in order; with none it copies. Intermediate images live in
/// per-thread buffers that grow once and are then reused, so a worker
/// allocates nothing per sample after its first.
class Compose final : public Transform {
public:
  explicit Compose(std::vector<std::shared_ptr<const Transform>> steps);
  ImageShape outputShape(ImageShape in) const override;
  void apply(const float *in, ImageShape inShape, float *out,
             Generator &gen) const override;

private:
  std::vector<std::shared_ptr<const Transform>> steps_;
};

} // namespace kiln
