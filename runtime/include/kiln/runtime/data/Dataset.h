// In-memory image classification data sets, and the Fashion-MNIST loader.
//
//   kiln::Dataset test = kiln::loadFashionMnist(kiln::defaultFashionMnistDir(),
//                                               /*train=*/false);
//   // test.images: [10000, 1, 32, 32] float32 in [-1, 1]; test.labels: [10000]
//   int64
#pragma once

#include "kiln/runtime/Tensor.h"

#include <string>
#include <vector>

namespace kiln {

struct Dataset {
  Tensor images; ///< [N, C, H, W] float32
  Tensor labels; ///< [N] int64, each in [0, classNames.size())
  std::vector<std::string> classNames;

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// Loads the train (60000) or test (10000) split from `dir`, which holds
/// {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (.gz) or not.
/// Pixels p become (p/255 - 0.5)/0.5 in [-1, 1] as torchvision's
/// ToTensor + Normalize(0.5, 0.5) computes them, and each image is padded by
/// `pad` pixels of -1 (the normalised background) on every side: LeNet-5
/// expects 32x32, Fashion-MNIST is 28x28.
Dataset loadFashionMnist(const std::string &dir, bool train, int64_t pad = 2);

/// $KILN_DATA_DIR if set, else where Debian's dataset-fashion-mnist installs:
/// /usr/share/datasets/fashion-mnist.
std::string defaultFashionMnistDir();

} // namespace kiln
