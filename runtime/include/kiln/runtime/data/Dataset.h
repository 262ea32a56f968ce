// In-memory image classification data sets, and the Fashion-MNIST loader.
//
//   kiln::Dataset test = kiln::loadFashionMnist(kiln::defaultFashionMnistDir(),
//                                               /*train=*/false);
//   // test.images: [10000, 1, 32, 32] float32 in [-1, 1]; test.labels: [10000]
//   int64
//
// A data set may instead keep its pixels as they are stored, uint8, and have
// BatchLoader normalise each batch as it is made: a quarter of the memory
// (Fashion-MNIST's training set: 47 MiB instead of 235 MiB), the same floats.
//
//   kiln::Dataset train = kiln::loadFashionMnist(dir, /*train=*/true,
//                                                /*pad=*/2,
//                                                kiln::PixelStorage::Uint8);
//   // train.images: [60000, 1, 28, 28] uint8; train.imageShape(): {1, 32, 32}
#pragma once

#include "kiln/runtime/Tensor.h"
#include "kiln/runtime/data/Transforms.h"

#include <string>
#include <vector>

namespace kiln {

/// How stored uint8 pixels p of channel c become the floats a model sees:
/// (p / 255 - mean[c]) / stddev[c], computed in float32 in that order
/// (torchvision's ToTensor + Normalize), with `pad` pixels on every side
/// holding what a black pixel (p = 0) becomes.
struct PixelDecoding {
  std::vector<float> mean;   ///< one per channel
  std::vector<float> stddev; ///< one per channel, non-zero
  int64_t pad = 0;
};

/// Where a loader keeps the images: normalised float32, or the file's uint8
/// pixels, decoded batch by batch (a quarter of the memory).
enum class PixelStorage { Float32, Uint8 };

struct Dataset {
  /// [N, C, H, W]: float32, or uint8 pixels that `decoding` turns into
  /// float32 images of shape imageShape() (BatchLoader does it per batch).
  Tensor images;
  Tensor labels; ///< [N] int64, each in [0, classNames.size())
  std::vector<std::string> classNames;
  PixelDecoding decoding; ///< used when images are uint8

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  /// The shape of one image as a model sees it, after decoding.
  ImageShape imageShape() const;
  /// This data set with float32 images: itself if they are float32 already,
  /// else a decoded copy.
  Dataset decoded() const;
};

/// Decodes one uint8 image of shape `stored` into `out`, which holds
/// decodedShape(stored, decoding).numel() floats. Throws kiln::Error when
/// `decoding` does not have one mean and one non-zero stddev per channel.
void decodeImage(const uint8_t *in, ImageShape stored,
                 const PixelDecoding &decoding, float *out);
ImageShape decodedShape(ImageShape stored, const PixelDecoding &decoding);

/// Loads the train (60000) or test (10000) split from `dir`, which holds
/// {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (.gz) or not.
/// Pixels p become (p/255 - 0.5)/0.5 in [-1, 1] as torchvision's
/// ToTensor + Normalize(0.5, 0.5) computes them, and each image is padded by
/// `pad` pixels of -1 (the normalised background) on every side: LeNet-5
/// expects 32x32, Fashion-MNIST is 28x28. With PixelStorage::Uint8 the images
/// stay [N, 1, 28, 28] uint8 and `decoding` says how to get there.
Dataset loadFashionMnist(const std::string &dir, bool train, int64_t pad = 2,
                         PixelStorage storage = PixelStorage::Float32);

/// $KILN_DATA_DIR if set, else where Debian's dataset-fashion-mnist installs:
/// /usr/share/datasets/fashion-mnist.
std::string defaultFashionMnistDir();

} // namespace kiln
