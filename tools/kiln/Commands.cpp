// kiln train / compile / summary.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Metrics.h"
#include "kiln/runtime/data/BatchLoader.h"
#include "kiln/runtime/data/Dataset.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace kiln::cli {

const char *version() { return "0.1.0 (CPU; CUDA backend not built)"; }

namespace {
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// JSON lines for --metrics; written as it goes, so a long run can be watched.
class MetricsLog {
public:
  explicit MetricsLog(const std::string &path) {
    if (path.empty())
      return;
    out_.open(path);
    if (!out_)
      throw Error("cannot write metrics to '" + path +
                  "'; check the directory exists and is writable");
  }
  void write(const std::string &line) {
    if (out_.is_open())
      out_ << line << "\n" << std::flush;
  }

private:
  std::ofstream out_;
};

void checkPositive(const char *flag, double value) {
  if (!(value > 0))
    throw Error(std::string(flag) + " must be positive, got " +
                std::to_string(value));
}
} // namespace

int runTrain(const TrainArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  checkPositive("--epochs", double(a.epochs));
  checkPositive("--lr", a.lr);
  if (a.momentum < 0)
    throw Error("--momentum must be >= 0");
  if (a.model != "lenet")
    throw Error("kiln train knows Fashion-MNIST only, which needs --model "
                "lenet (1 channel); got '" + a.model + "'");
  std::string dir = a.dataDir.empty() ? defaultFashionMnistDir() : a.dataDir;
  Dataset train = loadFashionMnist(dir, /*train=*/true);
  Dataset test = loadFashionMnist(dir, /*train=*/false);

  manualSeed(a.seed);
  auto model = models::makeModel(a.model, a.width);
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.sgd.lr = a.lr;
  spec.sgd.momentum = a.momentum;
  spec.predictBatch = 1000;
  auto compileStart = Clock::now();
  Program program = compile(*model, spec);
  std::fprintf(stderr, "compiled %s (%lld parameters) in %.2f s\n",
               a.model.c_str(), static_cast<long long>(model->parameterCount()),
               secondsSince(compileStart));

  MetricsLog metrics(a.metricsPath);
  bool tty = isatty(STDOUT_FILENO);
  BatchLoader loader(train, a.batchSize, /*shuffle=*/true, a.seed,
                     /*dropLast=*/true);
  Tensor images = Tensor::empty(spec.inputShape);
  Tensor labels = Tensor::empty({a.batchSize}, DType::I64);
  int64_t steps = loader.batchesPerEpoch();
  if (a.maxSteps > 0)
    steps = std::min(steps, a.maxSteps);
  auto trainStart = Clock::now();
  int64_t seen = 0;
  for (int64_t epoch = 1; epoch <= a.epochs; ++epoch) {
    loader.startEpoch();
    double running = 0;
    auto windowStart = Clock::now();
    int64_t count = 0;
    for (int64_t step = 1; step <= steps && loader.next(images, labels, count);
         ++step) {
      running += program.trainStep(images, labels);
      seen += a.batchSize;
      if (step % a.logEvery == 0) {
        double rate = a.logEvery * a.batchSize / secondsSince(windowStart);
        if (tty)
          std::printf("\r\033[K");
        std::printf("[%lld, %5lld] loss: %.3f\n", static_cast<long long>(epoch),
                    static_cast<long long>(step), running / a.logEvery);
        std::fflush(stdout);
        char line[200];
        std::snprintf(line, sizeof line,
                      "{\"epoch\":%lld,\"step\":%lld,\"loss\":%.6f,"
                      "\"images_per_s\":%.1f}",
                      static_cast<long long>(epoch),
                      static_cast<long long>(step), running / a.logEvery, rate);
        metrics.write(line);
        running = 0;
        windowStart = Clock::now();
      } else if (tty && step % 100 == 0) {
        double rate = seen / secondsSince(trainStart);
        int filled = static_cast<int>(30.0 * step / steps);
        std::printf("\r\033[Kepoch %lld [%-30s] %lld/%lld  %.0f img/s",
                    static_cast<long long>(epoch),
                    std::string(filled, '#').c_str(),
                    static_cast<long long>(step), static_cast<long long>(steps),
                    rate);
        std::fflush(stdout);
      }
    }
  }
  if (tty)
    std::printf("\r\033[K");
  double trainSeconds = secondsSince(trainStart);
  double rate = seen / trainSeconds;
  std::printf("trained %lld steps in %.1f s (%.0f images/s)\n",
              static_cast<long long>(program.stepsTaken()), trainSeconds, rate);
  char line[200];
  std::snprintf(line, sizeof line,
                "{\"event\":\"train_end\",\"images_per_s\":%.1f,"
                "\"train_s\":%.3f}",
                rate, trainSeconds);
  metrics.write(line);

  Accuracy accuracy(static_cast<int64_t>(test.classNames.size()));
  BatchLoader testLoader(test, 1000, /*shuffle=*/false, 0, /*dropLast=*/false);
  Tensor testImages = Tensor::empty({1000, shape[0], shape[1], shape[2]});
  Tensor testLabels = Tensor::empty({1000}, DType::I64);
  int64_t count = 0;
  while (testLoader.next(testImages, testLabels, count))
    accuracy.add(program.predict(testImages), testLabels, count);
  std::printf("Accuracy of the network on the %lld test images: %.2f %%\n",
              static_cast<long long>(accuracy.total()),
              100 * accuracy.overall());
  std::vector<double> perClass = accuracy.perClass();
  std::string json = "{\"event\":\"test\",\"accuracy\":" +
                     std::to_string(accuracy.overall()) + ",\"per_class\":[";
  for (size_t c = 0; c < perClass.size(); ++c) {
    std::printf("Accuracy for class: %-12s is %.1f %%\n",
                test.classNames[c].c_str(), 100 * perClass[c]);
    json += (c ? "," : "") + std::to_string(perClass[c]);
  }
  metrics.write(json + "]}");
  return 0;
}

int runCompile(const CompileArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  Stage stage;
  if (a.emit == "kiln")
    stage = Stage::Kiln;
  else if (a.emit == "loops" || a.emit == "linalg")
    stage = Stage::Loops;
  else if (a.emit == "llvm")
    stage = Stage::Llvm;
  else
    throw Error("unknown --emit '" + a.emit + "'; choose kiln, loops or llvm");
  auto model = models::makeModel(a.model, a.width);
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.sgd.lr = a.lr;
  spec.sgd.momentum = a.momentum;
  spec.train = a.train;
  spec.predictBatch = a.train ? 0 : a.batchSize;
  std::fputs(emitProgram(*model, spec, stage).c_str(), stdout);
  return 0;
}

int runSummary(const std::string &name, int64_t width) {
  auto model = models::makeModel(name, width);
  std::vector<int64_t> shape = models::modelInputShape(name);
  std::fputs(model->summary({1, shape[0], shape[1], shape[2]}).c_str(), stdout);
  return 0;
}

} // namespace kiln::cli
