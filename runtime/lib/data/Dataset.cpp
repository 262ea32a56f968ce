// loadFashionMnist: IDX files to normalised, padded [N,1,H,W] tensors.
#include "kiln/runtime/data/Dataset.h"

#include "kiln/runtime/data/Idx.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace kiln {

namespace {

const std::vector<std::string> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// The gzipped file if present, else the unpacked one; the error names the
/// .gz file because that is what the Debian package installs.
std::string findDataFile(const std::string &dir, const std::string &name) {
  std::filesystem::path gz = std::filesystem::path(dir) / (name + ".gz");
  std::filesystem::path plain = std::filesystem::path(dir) / name;
  std::error_code ignored;
  if (std::filesystem::exists(gz, ignored))
    return gz.string();
  if (std::filesystem::exists(plain, ignored))
    return plain.string();
  throw Error(fmt::format("cannot open {}: {}; install dataset-fashion-mnist "
                          "or pass --data DIR",
                          gz.string(), std::strerror(ENOENT)));
}

} // namespace

std::string defaultFashionMnistDir() {
  const char *fromEnv = std::getenv("KILN_DATA_DIR");
  if (fromEnv && *fromEnv)
    return fromEnv;
  return "/usr/share/datasets/fashion-mnist";
}

ImageShape decodedShape(ImageShape stored, const PixelDecoding &decoding) {
  return {stored.channels, stored.height + 2 * decoding.pad,
          stored.width + 2 * decoding.pad};
}

void decodeImage(const uint8_t *in, ImageShape stored,
                 const PixelDecoding &decoding, float *out) {
  size_t channels = static_cast<size_t>(stored.channels);
  if (decoding.mean.size() != channels || decoding.stddev.size() != channels ||
      decoding.pad < 0)
    throw Error(fmt::format("decodeImage: images have {} channels but the "
                            "decoding has {} means, {} standard deviations "
                            "and pad {}; give one mean and stddev per channel "
                            "and pad >= 0",
                            channels, decoding.mean.size(),
                            decoding.stddev.size(), decoding.pad));
  ImageShape shape = decodedShape(stored, decoding);
  int64_t pad = decoding.pad;
  for (int64_t c = 0; c < stored.channels; ++c) {
    float mean = decoding.mean[c], stddev = decoding.stddev[c];
    if (stddev == 0.0f)
      throw Error(fmt::format("decodeImage: channel {} has stddev 0; "
                              "normalising divides by it",
                              c));
    float *plane = out + c * shape.height * shape.width;
    std::fill_n(plane, shape.height * shape.width, (0.0f - mean) / stddev);
    for (int64_t y = 0; y < stored.height; ++y) {
      float *row = plane + (y + pad) * shape.width + pad;
      for (int64_t x = 0; x < stored.width; ++x) {
        // Float arithmetic in torchvision's order, so values match bit for bit.
        float unit = static_cast<float>(*in++) / 255.0f;
        row[x] = (unit - mean) / stddev;
      }
    }
  }
}

ImageShape Dataset::imageShape() const {
  if (!images.defined() || images.dim() != 4)
    throw Error("Dataset::imageShape: the data set has no [N, C, H, W] images; "
                "load it first");
  ImageShape stored{images.size(1), images.size(2), images.size(3)};
  return images.dtype() == DType::U8 ? decodedShape(stored, decoding) : stored;
}

Dataset Dataset::decoded() const {
  if (!images.defined() || images.dtype() != DType::U8)
    return *this;
  Tensor source = images.contiguous();
  ImageShape stored{source.size(1), source.size(2), source.size(3)};
  ImageShape shape = imageShape();
  Dataset result = *this;
  result.images = Tensor::empty(
      {source.size(0), shape.channels, shape.height, shape.width}, DType::F32);
  for (int64_t n = 0; n < source.size(0); ++n)
    decodeImage(source.data<uint8_t>() + n * stored.numel(), stored, decoding,
                result.images.data<float>() + n * shape.numel());
  return result;
}

Dataset loadFashionMnist(const std::string &dir, bool train, int64_t pad,
                         PixelStorage storage) {
  if (pad < 0)
    throw Error(fmt::format("loadFashionMnist: pad is {}; pass pad >= 0", pad));
  std::string split = train ? "train" : "t10k";
  std::string imagePath = findDataFile(dir, split + "-images-idx3-ubyte");
  std::string labelPath = findDataFile(dir, split + "-labels-idx1-ubyte");
  IdxArray images = readIdx(imagePath);
  IdxArray labels = readIdx(labelPath);

  if (images.dims.size() != 3)
    throw Error(fmt::format("{} has shape {}, expected [N, H, W] images; is "
                            "it an image file?",
                            imagePath, shapeToString(images.dims)));
  if (labels.dims.size() != 1)
    throw Error(fmt::format("{} has shape {}, expected [N] labels; is it a "
                            "label file?",
                            labelPath, shapeToString(labels.dims)));
  int64_t count = images.dims[0];
  if (labels.dims[0] != count)
    throw Error(fmt::format("{} holds {} images but {} holds {} labels; the "
                            "two files must come from the same split",
                            imagePath, count, labelPath, labels.dims[0]));

  Dataset result;
  result.classNames = kFashionMnistClasses;
  result.labels = Tensor::empty({count}, DType::I64);
  int64_t *labelData = result.labels.data<int64_t>();
  int64_t numClasses = static_cast<int64_t>(kFashionMnistClasses.size());
  for (int64_t i = 0; i < count; ++i) {
    labelData[i] = labels.bytes[i];
    if (labelData[i] >= numClasses)
      throw Error(fmt::format("{}: label {} of sample {} is not a class index "
                              "in [0, {}); the file is corrupt",
                              labelPath, labelData[i], i, numClasses));
  }

  int64_t height = images.dims[1], width = images.dims[2];
  result.decoding = {{0.5f}, {0.5f}, pad};
  // The file's bytes become the tensor's storage, uncopied.
  auto *pixels = new std::vector<uint8_t>(std::move(images.bytes));
  result.images = Tensor::fromBlob(
      pixels->data(), {count, 1, height, width}, DType::U8,
      [pixels](void *) { delete pixels; });
  if (storage == PixelStorage::Uint8)
    return result;
  return result.decoded();
}

} // namespace kiln
