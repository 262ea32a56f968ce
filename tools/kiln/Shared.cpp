// What kiln train and kiln eval share: data sets, metrics, evaluation.
#include "Commands.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Nvrtc.h"
#include "kiln/runtime/cuda/Driver.h"
#include "kiln/runtime/data/BatchLoader.h"
#include "kiln/runtime/data/Cifar10.h"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace kiln::cli {

const char *version() { return "0.1.0"; }

std::string versionDetails() {
  std::string text = std::string("kiln ") + version();
  if (!cuda::builtWithCuda())
    return text + "\nCPU only: built without CUDA support (no CUDA toolkit "
                  "found, or -DKILN_CUDA=OFF, at configure time)";
  const cuda::NvrtcInfo &nvrtc = cuda::nvrtcInfo();
  text += "\nCUDA support: yes (--device cuda, kiln compile --target cuda, "
          "--aot --target cuda)";
  text += nvrtc.available
              ? "\nNVRTC " + std::to_string(nvrtc.major) + "." +
                    std::to_string(nvrtc.minor) + " found: " + nvrtc.path
              : "\nNVRTC not found: " + nvrtc.error;
  std::string why;
  if (!cuda::Driver::available(&why))
    return text + "\nCUDA driver: " + why;
  cuda::Driver &driver = cuda::Driver::get();
  text += "\nCUDA driver " + std::to_string(driver.version() / 1000) + "." +
          std::to_string(driver.version() % 1000 / 10) + ", " +
          std::to_string(driver.deviceCount()) + " GPU(s)";
  for (int i = 0; i < driver.deviceCount(); ++i) {
    cuda::DeviceInfo info = driver.device(i);
    text += "\n  cuda:" + std::to_string(i) + " " + info.name + " (" +
            info.arch() + ")";
  }
  return text + "\n";
}

void checkPositive(const char *flag, double value) {
  if (!(value > 0))
    throw Error(std::string(flag) + " must be positive, got " +
                std::to_string(value));
}

std::string modelName(const DataArgs &data) {
  if (data.dataset == "fashion-mnist") {
    if (!data.model.empty() && data.model != "lenet")
      throw Error("Fashion-MNIST has 1-channel images, which only --model "
                  "lenet reads; got '" +
                  data.model + "'");
    return "lenet";
  }
  if (data.dataset == "cifar10") {
    if (!data.model.empty() && data.model != "lenet-cifar")
      throw Error("CIFAR-10 has 3-channel images, which only --model "
                  "lenet-cifar reads; got '" +
                  data.model + "'");
    return "lenet-cifar";
  }
  throw Error("unknown --dataset '" + data.dataset +
              "'; choose fashion-mnist or cifar10");
}

Device parseDevice(const std::string &text) {
  Device device = Device::cpu();
  if (text == "best") {
    device = Device::best();
  } else if (text == "cuda") {
    device = Device::cuda(0);
  } else if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
             text.find_first_not_of("0123456789", 5) == std::string::npos &&
             text.size() < 9) {
    device = Device::cuda(std::stoi(text.substr(5)));
  } else if (text != "cpu") {
    throw Error("unknown --device '" + text +
                "'; choose cpu, cuda, cuda:N or best");
  }
  device.checkUsable(); // "no CUDA driver found (...)" on a machine without
  return device;
}

Dataset loadSplit(const DataArgs &data, bool train) {
  modelName(data); // checks the dataset and model fit
  if (data.dataset == "cifar10") {
    if (data.dataDir.empty())
      throw Error("--dataset cifar10 needs --data DIR: the folder holding "
                  "CIFAR-10's binary version (data_batch_1.bin ...)");
    return loadCifar10(data.dataDir, train, PixelStorage::Uint8);
  }
  // uint8 pixels, normalised batch by batch: a quarter of the memory.
  return loadFashionMnist(
      data.dataDir.empty() ? defaultFashionMnistDir() : data.dataDir, train,
      /*pad=*/2, PixelStorage::Uint8);
}

struct MetricsLog::File {
  std::ofstream out;
};

MetricsLog::MetricsLog(const std::string &path) {
  if (path.empty())
    return;
  file_ = std::make_unique<File>();
  file_->out.open(path);
  if (!file_->out)
    throw Error("cannot write metrics to '" + path +
                "'; check the directory exists and is writable");
}

MetricsLog::~MetricsLog() = default;

void MetricsLog::write(const std::string &line) {
  if (file_)
    file_->out << line << "\n" << std::flush;
}

int64_t argmaxRow(const Tensor &logits, int64_t row) {
  int64_t classes = logits.size(1), best = 0;
  const float *values = logits.data<float>() + row * classes;
  for (int64_t c = 1; c < classes; ++c) {
    if (values[c] > values[best])
      best = c;
  }
  return best;
}

Accuracy evaluate(Program &program, const Dataset &test, int64_t batchSize,
                  const BatchCallback &onBatch) {
  ImageShape image = test.imageShape();
  Tensor images =
      Tensor::empty({batchSize, image.channels, image.height, image.width});
  Tensor labels = Tensor::empty({batchSize}, DType::I64);
  Accuracy accuracy(static_cast<int64_t>(test.classNames.size()));
  BatchLoader loader(test, batchSize, /*shuffle=*/false, 0,
                     /*dropLast=*/false);
  int64_t count = 0;
  while (loader.next(images, labels, count)) {
    const Tensor &logits = program.predict(images);
    if (onBatch)
      onBatch(labels, logits, count);
    accuracy.add(logits, labels, count);
  }
  return accuracy;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void reportAccuracy(const Accuracy &accuracy, const Dataset &test,
                    MetricsLog &metrics) {
  // A class with no test image has no accuracy: "-" here, null in JSON.
  auto json = [](double value) {
    return std::isnan(value) ? std::string("null") : std::to_string(value);
  };
  if (accuracy.total() == 0)
    std::printf("Accuracy of the network on the 0 test images: -\n");
  else
    std::printf("Accuracy of the network on the %lld test images: %.2f %%\n",
                static_cast<long long>(accuracy.total()),
                100 * accuracy.overall());
  std::vector<double> perClass = accuracy.perClass();
  std::string line = "{\"event\":\"test\",\"accuracy\":" +
                     json(accuracy.overall()) + ",\"per_class\":[";
  for (size_t c = 0; c < perClass.size(); ++c) {
    if (std::isnan(perClass[c]))
      std::printf("Accuracy for class: %-12s is - (no test images)\n",
                  test.classNames[c].c_str());
    else
      std::printf("Accuracy for class: %-12s is %.1f %%\n",
                  test.classNames[c].c_str(), 100 * perClass[c]);
    line += (c ? "," : "") + json(perClass[c]);
  }
  metrics.write(line + "]}");
}

} // namespace kiln::cli
