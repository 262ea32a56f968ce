// loadFashionMnist: IDX files to normalised, padded [N,1,H,W] tensors.
#include "kiln/runtime/data/Dataset.h"

#include "kiln/runtime/data/Idx.h"

#include <fmt/format.h>

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

Dataset loadFashionMnist(const std::string &dir, bool train, int64_t pad) {
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
  int64_t paddedHeight = height + 2 * pad, paddedWidth = width + 2 * pad;
  result.images =
      Tensor::full({count, 1, paddedHeight, paddedWidth}, -1.0, DType::F32);
  float *out = result.images.data<float>();
  const uint8_t *in = images.bytes.data();
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t y = 0; y < height; ++y) {
      float *row = out + (n * paddedHeight + y + pad) * paddedWidth + pad;
      for (int64_t x = 0; x < width; ++x) {
        // Float arithmetic in torchvision's order, so values match bit for bit.
        float unit = static_cast<float>(*in++) / 255.0f;
        row[x] = (unit - 0.5f) / 0.5f;
      }
    }
  }
  return result;
}

} // namespace kiln
