// Normalize, Pad, RandomCrop, RandomHorizontalFlip and Compose.
#include "kiln/runtime/data/Transforms.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <deque>

namespace kiln {

namespace {

std::string toString(ImageShape shape) {
  return shapeToString({shape.channels, shape.height, shape.width});
}

void checkImage(ImageShape shape, const char *transform) {
  if (shape.channels < 1 || shape.height < 1 || shape.width < 1)
    throw Error(fmt::format("{}: image shape {} has an empty dimension; "
                            "expected [C, H, W] with each at least 1",
                            transform, toString(shape)));
}

/// Copies the window of `in` whose top-left corner is (top, left), which may
/// lie outside `in` by up to the padding, into `out`; pixels outside `in`
/// become `fill`.
void copyWindow(const float *in, ImageShape inShape, int64_t top, int64_t left,
                ImageShape outShape, float fill, float *out) {
  for (int64_t c = 0; c < outShape.channels; ++c) {
    const float *plane = in + c * inShape.height * inShape.width;
    for (int64_t y = 0; y < outShape.height; ++y, out += outShape.width) {
      int64_t sourceY = top + y;
      std::fill_n(out, outShape.width, fill);
      if (sourceY < 0 || sourceY >= inShape.height)
        continue;
      int64_t begin = std::max<int64_t>(0, -left);
      int64_t end = std::min(outShape.width, inShape.width - left);
      if (begin < end)
        std::copy(plane + sourceY * inShape.width + left + begin,
                  plane + sourceY * inShape.width + left + end, out + begin);
    }
  }
}

} // namespace

Normalize::Normalize(std::vector<float> mean, std::vector<float> stddev)
    : mean_(std::move(mean)), stddev_(std::move(stddev)) {
  if (mean_.empty() || mean_.size() != stddev_.size())
    throw Error(fmt::format("Normalize: {} means and {} standard deviations; "
                            "pass one of each per channel",
                            mean_.size(), stddev_.size()));
  for (size_t c = 0; c < stddev_.size(); ++c)
    if (stddev_[c] == 0.0f)
      throw Error(fmt::format("Normalize: the standard deviation of channel "
                              "{} is 0; pass a non-zero value",
                              c));
}

ImageShape Normalize::outputShape(ImageShape in) const {
  checkImage(in, "Normalize");
  if (in.channels != static_cast<int64_t>(mean_.size()))
    throw Error(fmt::format("Normalize: the image {} has {} channels but "
                            "Normalize was given {} means; pass one per "
                            "channel",
                            toString(in), in.channels, mean_.size()));
  return in;
}

void Normalize::apply(const float *in, ImageShape inShape, float *out,
                      Generator &) const {
  outputShape(inShape);
  int64_t planeSize = inShape.height * inShape.width;
  for (int64_t c = 0; c < inShape.channels; ++c)
    for (int64_t i = 0; i < planeSize; ++i, ++in, ++out)
      *out = (*in - mean_[c]) / stddev_[c];
}

Pad::Pad(int64_t pixels, float value) : pixels_(pixels), value_(value) {
  if (pixels < 0)
    throw Error(
        fmt::format("Pad: pixels is {}; pass a padding of at least 0", pixels));
}

ImageShape Pad::outputShape(ImageShape in) const {
  checkImage(in, "Pad");
  return {in.channels, in.height + 2 * pixels_, in.width + 2 * pixels_};
}

void Pad::apply(const float *in, ImageShape inShape, float *out,
                Generator &) const {
  copyWindow(in, inShape, -pixels_, -pixels_, outputShape(inShape), value_,
             out);
}

RandomCrop::RandomCrop(int64_t size, int64_t padding, float fill)
    : size_(size), padding_(padding), fill_(fill) {
  if (size < 1 || padding < 0)
    throw Error(fmt::format("RandomCrop: size {} and padding {}; pass a size "
                            "of at least 1 and a padding of at least 0",
                            size, padding));
}

ImageShape RandomCrop::outputShape(ImageShape in) const {
  checkImage(in, "RandomCrop");
  if (size_ > in.height + 2 * padding_ || size_ > in.width + 2 * padding_)
    throw Error(fmt::format("RandomCrop: a {}x{} crop does not fit the image "
                            "{} padded by {}; pass a smaller size or more "
                            "padding",
                            size_, size_, toString(in), padding_));
  return {in.channels, size_, size_};
}

void RandomCrop::apply(const float *in, ImageShape inShape, float *out,
                       Generator &gen) const {
  ImageShape outShape = outputShape(inShape);
  auto top = static_cast<int64_t>(gen.below(
      static_cast<uint64_t>(inShape.height + 2 * padding_ - size_ + 1)));
  auto left = static_cast<int64_t>(gen.below(
      static_cast<uint64_t>(inShape.width + 2 * padding_ - size_ + 1)));
  copyWindow(in, inShape, top - padding_, left - padding_, outShape, fill_,
             out);
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw Error(fmt::format("RandomHorizontalFlip: p is {}; pass a "
                            "probability in [0, 1]",
                            p));
}

ImageShape RandomHorizontalFlip::outputShape(ImageShape in) const {
  checkImage(in, "RandomHorizontalFlip");
  return in;
}

void RandomHorizontalFlip::apply(const float *in, ImageShape inShape,
                                 float *out, Generator &gen) const {
  outputShape(inShape);
  bool flip = gen.uniform(0.0, 1.0) < p_;
  int64_t rows = inShape.channels * inShape.height;
  for (int64_t row = 0; row < rows; ++row) {
    const float *source = in + row * inShape.width;
    float *dest = out + row * inShape.width;
    if (flip)
      std::reverse_copy(source, source + inShape.width, dest);
    else
      std::copy(source, source + inShape.width, dest);
  }
}

Compose::Compose(std::vector<std::shared_ptr<const Transform>> steps)
    : steps_(std::move(steps)) {
  for (size_t i = 0; i < steps_.size(); ++i)
    if (!steps_[i])
      throw Error(fmt::format("Compose: step {} is null; pass a transform", i));
}

ImageShape Compose::outputShape(ImageShape in) const {
  for (const auto &step : steps_)
    in = step->outputShape(in);
  return in;
}

void Compose::apply(const float *in, ImageShape inShape, float *out,
                    Generator &gen) const {
  if (steps_.empty()) {
    std::copy_n(in, inShape.numel(), out);
    return;
  }
  // Two ping-pong buffers per nesting level, so a Compose inside a Compose
  // keeps out of its parent's; a deque never moves its elements as it grows.
  thread_local std::deque<std::array<std::vector<float>, 2>> scratch;
  thread_local size_t depth = 0;
  if (scratch.size() <= depth)
    scratch.emplace_back();
  std::array<std::vector<float>, 2> &buffers = scratch[depth];
  struct DepthGuard {
    size_t &level;
    ~DepthGuard() { --level; }
  } guard{++depth};

  const float *current = in;
  for (size_t i = 0; i < steps_.size(); ++i) {
    ImageShape nextShape = steps_[i]->outputShape(inShape);
    float *dest = out;
    if (i + 1 < steps_.size()) {
      std::vector<float> &buffer = buffers[i % 2];
      buffer.resize(static_cast<size_t>(nextShape.numel()));
      dest = buffer.data();
    }
    steps_[i]->apply(current, inShape, dest, gen);
    current = dest;
    inShape = nextShape;
  }
}

} // namespace kiln
