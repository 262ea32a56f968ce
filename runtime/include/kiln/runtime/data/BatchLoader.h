// BatchLoader: copies shuffled mini-batches into preallocated tensors.
//
//   kiln::BatchLoader loader(train, /*batchSize=*/4, /*shuffle=*/true,
//                            /*seed=*/0, /*dropLast=*/false);
//   kiln::Tensor images = kiln::Tensor::empty({4, 1, 32, 32});
//   kiln::Tensor labels = kiln::Tensor::empty({4}, kiln::DType::I64);
//   int64_t count;
//   for (int epoch = 0; epoch < 2; ++epoch) {
//     loader.startEpoch();
//     while (loader.next(images, labels, count))
//       ...;  // the first `count` rows are real samples
//   }
#pragma once

#include "kiln/runtime/Random.h"
#include "kiln/runtime/data/Dataset.h"
#include "kiln/runtime/data/Transforms.h"

#include <memory>
#include <vector>

namespace kiln {

/// How batches are made: by the caller's thread (workers = 0) or by worker
/// threads that prepare up to `prefetch` batches each ahead of next(), so a
/// training step need not wait for data. `transform`, applied to every image
/// (after decoding uint8 images), must keep the image's shape; its randomness is drawn
/// from a generator seeded by (seed, epoch, position), so the batches are
/// the same whatever the number of workers.
struct LoaderOptions {
  int workers = 0;
  int prefetch = 2;
  std::shared_ptr<const Transform> transform;
};

class BatchLoader {
public:
  /// Keeps its own handles to the data set's tensors, so `dataset` may go
  /// away. Throws kiln::Error for batchSize <= 0 or an inconsistent data set.
  BatchLoader(const Dataset &dataset, int64_t batchSize, bool shuffle,
              uint64_t seed, bool dropLast, LoaderOptions options = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader &) = delete;
  BatchLoader &operator=(const BatchLoader &) = delete;

  int64_t batchesPerEpoch() const;
  int64_t batchSize() const { return batchSize_; }

  /// Rewinds to the first batch; with shuffling on, draws a new order from
  /// the seeded generator, so epoch k's order depends only on seed and k.
  /// next() starts the first epoch itself if this was never called.
  void startEpoch();

  /// Copies the next batch into `images` ([B, ...] like one data set image
  /// per row) and `labels` ([B] int64), both preallocated and contiguous, so
  /// no memory is allocated per batch. Sets `count` to the number of real
  /// samples; rows past `count` in a short final batch are zero-filled.
  /// Returns false, touching nothing, when the epoch is over.
  bool next(Tensor &images, Tensor &labels, int64_t &count);

private:
  struct Workers;
  void checkBatchTensors(const Tensor &images, const Tensor &labels) const;
  /// Batches hold float32 when the data set holds uint8.
  DType batchDType() const {
    return images_.dtype() == DType::U8 ? DType::F32 : images_.dtype();
  }
  /// Writes batch `index` of the epoch ordered by `order` into the buffers.
  void assemble(const std::vector<int64_t> &order, int64_t epoch,
                int64_t index, std::byte *images, int64_t *labels,
                int64_t &count) const;

  Tensor images_; ///< float32, or uint8 decoded by decoding_ per image
  Tensor labels_;
  PixelDecoding decoding_;
  std::vector<int64_t> batchShape_; ///< [B, C, H, W] of a float32 batch
  int64_t batchSize_;
  bool shuffle_;
  bool dropLast_;
  Generator generator_;
  uint64_t seed_;
  LoaderOptions options_;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t epoch_ = -1;
  int64_t nextBatch_ = 0;
  std::unique_ptr<Workers> workers_;
};

} // namespace kiln
