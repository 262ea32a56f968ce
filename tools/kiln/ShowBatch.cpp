// kiln show-batch: the blitz's picture of one batch with its labels.
#include "Commands.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Image.h"
#include "kiln/runtime/data/BatchLoader.h"

#include <cstdio>

namespace kiln::cli {

int runShowBatch(const ShowBatchArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  if (a.outputPath.empty())
    throw Error("kiln show-batch needs -o FILE.png, where to write the picture");
  Dataset data = loadSplit(a.data, /*train=*/!a.test);
  if (a.batchSize > data.size())
    throw Error("--batch-size " + std::to_string(a.batchSize) +
                " is larger than the data set (" + std::to_string(data.size()) +
                " images)");
  ImageShape image = data.imageShape();
  Tensor images =
      Tensor::empty({a.batchSize, image.channels, image.height, image.width});
  Tensor labels = Tensor::empty({a.batchSize}, DType::I64);
  // The training loader's first batch for this seed, as kiln train sees it.
  BatchLoader loader(data, a.batchSize, /*shuffle=*/!a.test, a.seed,
                     /*dropLast=*/true);
  int64_t count = 0;
  loader.next(images, labels, count);
  std::vector<std::string> names;
  std::string line;
  for (int64_t i = 0; i < count; ++i) {
    names.push_back(data.classNames[labels.data<int64_t>()[i]]);
    line += (i ? " " : "") + names.back();
  }
  writePng(a.outputPath, imageGrid(images, names));
  std::printf("%s\nwrote %s\n", line.c_str(), a.outputPath.c_str());
  return 0;
}

} // namespace kiln::cli
