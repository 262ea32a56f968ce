// BatchLoader: epoch ordering and allocation-free batch copies.
#include "kiln/runtime/data/BatchLoader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace kiln {

BatchLoader::BatchLoader(const Dataset &dataset, int64_t batchSize,
                         bool shuffle, uint64_t seed, bool dropLast)
    : batchSize_(batchSize), shuffle_(shuffle), dropLast_(dropLast),
      generator_(seed) {
  if (batchSize <= 0)
    throw Error(fmt::format("BatchLoader: batch size is {}; pass a batch "
                            "size of at least 1",
                            batchSize));
  if (!dataset.images.defined() || !dataset.labels.defined())
    throw Error("BatchLoader: the data set has no images or labels; load it "
                "first (e.g. with loadFashionMnist)");
  if (dataset.images.dim() < 1 || dataset.labels.dim() != 1 ||
      dataset.images.size(0) != dataset.labels.size(0))
    throw Error(fmt::format("BatchLoader: images of shape {} do not match "
                            "labels of shape {}; expected [N, ...] and [N]",
                            shapeToString(dataset.images.shape()),
                            shapeToString(dataset.labels.shape())));
  if (dataset.labels.dtype() != DType::I64)
    throw Error(fmt::format("BatchLoader: labels are {}, expected int64; "
                            "convert them with to(DType::I64)",
                            dtypeName(dataset.labels.dtype())));
  // Row copies below are single memcpys, which needs contiguous sources.
  images_ = dataset.images.contiguous();
  labels_ = dataset.labels.contiguous();
  order_.resize(images_.size(0));
}

int64_t BatchLoader::batchesPerEpoch() const {
  int64_t samples = static_cast<int64_t>(order_.size());
  if (dropLast_)
    return samples / batchSize_;
  return (samples + batchSize_ - 1) / batchSize_;
}

void BatchLoader::startEpoch() {
  std::iota(order_.begin(), order_.end(), int64_t(0));
  if (shuffle_)
    generator_.shuffle(order_);
  cursor_ = 0;
  started_ = true;
}

void BatchLoader::checkBatchTensors(const Tensor &images,
                                    const Tensor &labels) const {
  std::vector<int64_t> imageShape = images_.shape();
  imageShape[0] = batchSize_;
  if (!images.defined() || images.shape() != imageShape ||
      images.dtype() != images_.dtype() || !images.isContiguous())
    throw Error(fmt::format("BatchLoader::next: the image batch must be a "
                            "contiguous {} tensor of shape {}; allocate it "
                            "with Tensor::empty({}, DType)",
                            dtypeName(images_.dtype()),
                            shapeToString(imageShape),
                            shapeToString(imageShape)));
  if (!labels.defined() || labels.shape() != std::vector<int64_t>{batchSize_} ||
      labels.dtype() != DType::I64 || !labels.isContiguous())
    throw Error(fmt::format("BatchLoader::next: the label batch must be a "
                            "contiguous int64 tensor of shape [{}]; allocate "
                            "it with Tensor::empty({{{}}}, DType::I64)",
                            batchSize_, batchSize_));
}

bool BatchLoader::next(Tensor &images, Tensor &labels, int64_t &count) {
  checkBatchTensors(images, labels);
  if (!started_)
    startEpoch();
  size_t remaining = order_.size() - cursor_;
  if (remaining == 0)
    return false;
  if (dropLast_ && remaining < static_cast<size_t>(batchSize_))
    return false;
  count = std::min<int64_t>(batchSize_, static_cast<int64_t>(remaining));

  size_t rowBytes = images_.nbytes() / std::max<size_t>(order_.size(), 1);
  const auto *sourceImages = static_cast<const std::byte *>(images_.rawData());
  auto *batchImages = static_cast<std::byte *>(images.rawData());
  const int64_t *sourceLabels = labels_.data<int64_t>();
  int64_t *batchLabels = labels.data<int64_t>();
  for (int64_t row = 0; row < count; ++row) {
    int64_t sample = order_[cursor_ + row];
    std::memcpy(batchImages + row * rowBytes, sourceImages + sample * rowBytes,
                rowBytes);
    batchLabels[row] = sourceLabels[sample];
  }
  std::memset(batchImages + count * rowBytes, 0,
              (batchSize_ - count) * rowBytes);
  std::fill(batchLabels + count, batchLabels + batchSize_, int64_t(0));
  cursor_ += count;
  return true;
}

} // namespace kiln
