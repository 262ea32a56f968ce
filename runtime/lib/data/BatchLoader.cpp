// BatchLoader: epoch ordering, allocation-free batch copies, optional
// transforms, and worker threads that prefetch batches.
#include "kiln/runtime/data/BatchLoader.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <numeric>
#include <thread>

namespace kiln {

// A ring of batch slots filled by worker threads in batch order.
struct BatchLoader::Workers {
  struct Slot {
    Tensor images, labels;
    int64_t count = 0;
    int64_t epoch = -1, index = -1; ///< what the slot holds, when ready
    bool ready = false;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Slot> slots;
  std::vector<std::thread> threads;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t epoch = -1, batches = 0;
  int64_t claimed = 0;  ///< next batch index a worker takes
  int64_t consumed = 0; ///< next batch index next() returns
  int inFlight = 0;     ///< batches being made right now
  bool stop = false;
};

BatchLoader::BatchLoader(const Dataset &dataset, int64_t batchSize,
                         bool shuffle, uint64_t seed, bool dropLast,
                         LoaderOptions options)
    : batchSize_(batchSize), shuffle_(shuffle), dropLast_(dropLast),
      generator_(seed), seed_(seed), options_(std::move(options)) {
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
  if (options_.workers < 0 || options_.prefetch < 1)
    throw Error(fmt::format("BatchLoader: {} workers and a prefetch of {}; "
                            "use workers >= 0 and prefetch >= 1",
                            options_.workers, options_.prefetch));
  // Row copies below are single memcpys, which needs contiguous sources.
  images_ = dataset.images.contiguous();
  labels_ = dataset.labels.contiguous();
  decoding_ = dataset.decoding;
  batchShape_ = images_.shape();
  batchShape_[0] = batchSize;
  if (images_.dtype() == DType::U8) {
    if (images_.dim() != 4)
      throw Error(fmt::format("BatchLoader: uint8 images of shape {}; "
                              "expected [N, C, H, W]",
                              shapeToString(images_.shape())));
    ImageShape shape = dataset.imageShape();
    // Checks the decoding against the channels once, here, not per batch.
    ImageShape stored{images_.size(1), images_.size(2), images_.size(3)};
    std::vector<uint8_t> black(stored.numel(), 0);
    std::vector<float> probe(shape.numel());
    decodeImage(black.data(), stored, decoding_, probe.data());
    batchShape_ = {batchSize, shape.channels, shape.height, shape.width};
  }
  if (options_.transform) {
    if (images_.dim() != 4 || images_.dtype() == DType::F64 ||
        images_.dtype() == DType::I64)
      throw Error("BatchLoader: transforms need float32 or uint8 images "
                  "[N, C, H, W]");
    ImageShape shape{batchShape_[1], batchShape_[2], batchShape_[3]};
    if (!(options_.transform->outputShape(shape) == shape))
      throw Error("BatchLoader: the transform changes the image shape; "
                  "batches keep the data set's shape (crop back to it)");
  }
  auto order = std::make_shared<std::vector<int64_t>>(images_.size(0));
  std::iota(order->begin(), order->end(), int64_t(0));
  order_ = order;
  if (options_.workers == 0)
    return;
  workers_ = std::make_unique<Workers>();
  int slots = options_.workers * options_.prefetch;
  for (int i = 0; i < slots; ++i) {
    Workers::Slot slot;
    slot.images = Tensor::empty(batchShape_, batchDType());
    slot.labels = Tensor::empty({batchSize_}, DType::I64);
    workers_->slots.push_back(std::move(slot));
  }
  for (int w = 0; w < options_.workers; ++w) {
    workers_->threads.emplace_back([this] {
      Workers &pool = *workers_;
      std::unique_lock<std::mutex> lock(pool.mutex);
      while (true) {
        pool.changed.wait(lock, [&] {
          return pool.stop ||
                 (pool.claimed < pool.batches &&
                  pool.claimed < pool.consumed +
                                     static_cast<int64_t>(pool.slots.size()));
        });
        if (pool.stop)
          return;
        int64_t index = pool.claimed++, epoch = pool.epoch;
        auto order = pool.order;
        Workers::Slot &slot = pool.slots[index % pool.slots.size()];
        ++pool.inFlight;
        lock.unlock();
        int64_t count = 0;
        assemble(*order, epoch, index,
                 static_cast<std::byte *>(slot.images.rawData()),
                 slot.labels.data<int64_t>(), count);
        lock.lock();
        --pool.inFlight;
        pool.changed.notify_all();
        if (epoch != pool.epoch)
          continue; // startEpoch() moved on while this batch was made
        slot.count = count;
        slot.epoch = epoch;
        slot.index = index;
        slot.ready = true;
        pool.changed.notify_all();
      }
    });
  }
}

BatchLoader::~BatchLoader() {
  if (!workers_)
    return;
  {
    std::lock_guard<std::mutex> lock(workers_->mutex);
    workers_->stop = true;
  }
  workers_->changed.notify_all();
  for (std::thread &thread : workers_->threads)
    thread.join();
}

int64_t BatchLoader::batchesPerEpoch() const {
  int64_t samples = static_cast<int64_t>(order_->size());
  if (dropLast_)
    return samples / batchSize_;
  return (samples + batchSize_ - 1) / batchSize_;
}

void BatchLoader::startEpoch() {
  auto order = std::make_shared<std::vector<int64_t>>(order_->size());
  std::iota(order->begin(), order->end(), int64_t(0));
  if (shuffle_)
    generator_.shuffle(*order);
  order_ = order;
  ++epoch_;
  nextBatch_ = 0;
  if (!workers_)
    return;
  // No new claims; then wait for batches still being made, whose slots
  // the new epoch is about to reuse.
  std::unique_lock<std::mutex> lock(workers_->mutex);
  workers_->batches = 0;
  workers_->changed.wait(lock, [&] { return workers_->inFlight == 0; });
  for (Workers::Slot &slot : workers_->slots)
    slot.ready = false;
  workers_->order = order;
  workers_->epoch = epoch_;
  workers_->batches = batchesPerEpoch();
  workers_->claimed = 0;
  workers_->consumed = 0;
  workers_->changed.notify_all();
}

void BatchLoader::assemble(const std::vector<int64_t> &order, int64_t epoch,
                           int64_t index, std::byte *images, int64_t *labels,
                           int64_t &count) const {
  int64_t first = index * batchSize_;
  count = std::min<int64_t>(batchSize_,
                            static_cast<int64_t>(order.size()) - first);
  size_t sourceRowBytes =
      images_.nbytes() / std::max<size_t>(order.size(), 1);
  size_t rowBytes = dtypeSize(batchDType());
  for (size_t axis = 1; axis < batchShape_.size(); ++axis)
    rowBytes *= static_cast<size_t>(batchShape_[axis]);
  const auto *sourceImages = static_cast<const std::byte *>(images_.rawData());
  const int64_t *sourceLabels = labels_.data<int64_t>();
  bool packed = images_.dtype() == DType::U8;
  ImageShape shape{}, stored{};
  if (batchShape_.size() == 4)
    shape = {batchShape_[1], batchShape_[2], batchShape_[3]};
  if (packed)
    stored = {images_.size(1), images_.size(2), images_.size(3)};
  // Decoded images waiting for the transform; grows once per thread.
  thread_local std::vector<float> decodedImage;
  for (int64_t row = 0; row < count; ++row) {
    int64_t sample = order[first + row];
    const std::byte *source = sourceImages + sample * sourceRowBytes;
    std::byte *target = images + row * rowBytes;
    if (packed) {
      float *decodeInto = reinterpret_cast<float *>(target);
      if (options_.transform) {
        decodedImage.resize(static_cast<size_t>(shape.numel()));
        decodeInto = decodedImage.data();
      }
      decodeImage(reinterpret_cast<const uint8_t *>(source), stored, decoding_,
                  decodeInto);
      source = reinterpret_cast<const std::byte *>(decodeInto);
    }
    if (options_.transform) {
      // One generator per (seed, epoch, position): reproducible whichever
      // worker makes the batch.
      Generator generator(seed_ ^ (0x9e3779b97f4a7c15ull *
                                   static_cast<uint64_t>(epoch + 1)) ^
                          static_cast<uint64_t>(first + row) << 20);
      options_.transform->apply(reinterpret_cast<const float *>(source), shape,
                                reinterpret_cast<float *>(target), generator);
    } else if (!packed) {
      std::memcpy(target, source, rowBytes);
    }
    labels[row] = sourceLabels[sample];
  }
  std::memset(images + count * rowBytes, 0, (batchSize_ - count) * rowBytes);
  std::fill(labels + count, labels + batchSize_, int64_t(0));
}

void BatchLoader::checkBatchTensors(const Tensor &images,
                                    const Tensor &labels) const {
  const std::vector<int64_t> &imageShape = batchShape_;
  if (!images.defined() || images.shape() != imageShape ||
      images.dtype() != batchDType() || !images.isContiguous())
    throw Error(fmt::format("BatchLoader::next: the image batch must be a "
                            "contiguous {} tensor of shape {}; allocate it "
                            "with Tensor::empty({}, DType)",
                            dtypeName(batchDType()),
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
  if (epoch_ < 0)
    startEpoch();
  if (nextBatch_ >= batchesPerEpoch())
    return false;
  int64_t index = nextBatch_++;
  if (!workers_) {
    assemble(*order_, epoch_, index, static_cast<std::byte *>(images.rawData()),
             labels.data<int64_t>(), count);
    return true;
  }
  std::unique_lock<std::mutex> lock(workers_->mutex);
  Workers::Slot &slot = workers_->slots[index % workers_->slots.size()];
  workers_->changed.wait(lock, [&] {
    return slot.ready && slot.epoch == epoch_ && slot.index == index;
  });
  std::memcpy(images.rawData(), slot.images.rawData(), slot.images.nbytes());
  std::memcpy(labels.rawData(), slot.labels.rawData(), slot.labels.nbytes());
  count = slot.count;
  slot.ready = false;
  ++workers_->consumed;
  workers_->changed.notify_all();
  return true;
}

} // namespace kiln
