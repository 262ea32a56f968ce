// kiln train: the blitz's training loop over a compiled train_step.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/data/BatchLoader.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace kiln::cli {

namespace {
void printProgress(int64_t epoch, int64_t step, int64_t steps, double rate) {
  int filled = static_cast<int>(30.0 * step / steps);
  std::printf("\r\033[Kepoch %lld [%-30s] %lld/%lld  %.0f img/s",
              static_cast<long long>(epoch), std::string(filled, '#').c_str(),
              static_cast<long long>(step), static_cast<long long>(steps),
              rate);
  std::fflush(stdout);
}
} // namespace

int runTrain(const TrainArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  checkPositive("--epochs", double(a.epochs));
  checkPositive("--lr", a.lr);
  checkPositive("--log-every", double(a.logEvery));
  if (a.workers < 0)
    throw Error("--workers must be >= 0, got " + std::to_string(a.workers));
  if (a.momentum < 0)
    throw Error("--momentum must be >= 0, got " + std::to_string(a.momentum));
  Device device = parseDevice(a.device); // before the data loads
  std::string name = modelName(a.data);
  Dataset train = loadSplit(a.data, /*train=*/true);
  Dataset test = loadSplit(a.data, /*train=*/false);
  if (a.batchSize > train.size())
    throw Error("--batch-size " + std::to_string(a.batchSize) +
                " is larger than the training set (" +
                std::to_string(train.size()) + " images)");

  manualSeed(a.seed);
  auto model = models::makeModel(name, a.data.width);
  std::vector<int64_t> shape = models::modelInputShape(name);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  if (a.optimizer == "sgd") {
    spec.sgd.lr = a.lr;
    spec.sgd.momentum = a.momentum;
  } else if (a.optimizer == "adam") {
    spec.optimizer = OptimizerKind::Adam;
    spec.adam.lr = a.lr;
  } else if (a.optimizer == "rmsprop") {
    spec.optimizer = OptimizerKind::RmsProp;
    spec.rmsprop.lr = a.lr;
    spec.rmsprop.momentum = a.momentum;
  } else {
    throw Error("unknown --optimizer '" + a.optimizer +
                "'; choose sgd, adam or rmsprop");
  }
  // The test pass runs in batches of 1000, or of the whole test set if smaller.
  const int64_t testBatch =
      std::max<int64_t>(1, std::min<int64_t>(1000, test.size()));
  spec.predictBatch = testBatch;
  spec.device = device;
  spec.threads = static_cast<int>(a.threads);
  auto compileStart = Clock::now();
  Program program = compile(*model, spec);
  std::fprintf(stderr, "compiled %s (%lld parameters) for %s in %.2f s\n",
               name.c_str(), static_cast<long long>(model->parameterCount()),
               program.deviceDescription().c_str(), secondsSince(compileStart));
  if (!a.resumePath.empty()) {
    loadCheckpoint(a.resumePath, program); // onto the GPU too, if there
    std::fprintf(stderr, "resumed from %s after %lld steps\n",
                 a.resumePath.c_str(),
                 static_cast<long long>(program.stepsTaken()));
  }

  MetricsLog metrics(a.metricsPath);
  bool tty = isatty(STDOUT_FILENO);
  // The loader's seed advances with the steps already taken, so a resumed
  // run does not replay the batches it has seen.
  LoaderOptions loading;
  loading.workers = static_cast<int>(a.workers);
  if (a.augment) {
    // Random crops of the image padded by 4 pixels of background (-1 after
    // normalisation) and horizontal flips, as the usual CIFAR recipe does.
    std::vector<std::shared_ptr<const Transform>> steps = {
        std::make_shared<RandomCrop>(train.imageShape().height, 4, -1.0f),
        std::make_shared<RandomHorizontalFlip>(0.5)};
    loading.transform = std::make_shared<Compose>(steps);
  }
  BatchLoader loader(train, a.batchSize, /*shuffle=*/true,
                     a.seed + static_cast<uint64_t>(program.stepsTaken()),
                     /*dropLast=*/true, loading);
  int64_t steps = loader.batchesPerEpoch();
  if (a.maxSteps > 0)
    steps = std::min(steps, a.maxSteps);
  auto trainStart = Clock::now();
  int64_t seen = 0;
  for (int64_t epoch = 1; epoch <= a.epochs; ++epoch) {
    loader.startEpoch();
    program.takeLosses(); // the last epoch's steps past its last report
    auto windowStart = Clock::now();
    int64_t count = 0;
    for (int64_t step = 1; step <= steps; ++step) {
      // On a GPU the loader writes the batch straight into the pinned memory
      // it uploads from; enqueueing returns at once, and the next batch
      // uploads while this step runs.
      Program::TrainInputs batch = program.trainInputs();
      if (!loader.next(batch.images, batch.labels, count))
        break;
      program.enqueueTrainStep(batch.images, batch.labels);
      seen += a.batchSize;
      if (step % a.logEvery == 0) {
        auto [lossSum, losses] = program.takeLosses();
        double running = lossSum / static_cast<double>(losses);
        double rate = a.logEvery * a.batchSize / secondsSince(windowStart);
        if (tty)
          std::printf("\r\033[K");
        std::printf("[%lld, %5lld] loss: %.3f\n", static_cast<long long>(epoch),
                    static_cast<long long>(step), running);
        std::fflush(stdout);
        char line[200];
        std::snprintf(line, sizeof line,
                      "{\"epoch\":%lld,\"step\":%lld,\"loss\":%.6f,"
                      "\"images_per_s\":%.1f}",
                      static_cast<long long>(epoch),
                      static_cast<long long>(step), running, rate);
        metrics.write(line);
        windowStart = Clock::now();
      } else if (tty && step % 100 == 0) {
        printProgress(epoch, step, steps, seen / secondsSince(trainStart));
      }
    }
  }
  if (tty)
    std::printf("\r\033[K");
  double trainSeconds = secondsSince(trainStart);
  double rate = seen / trainSeconds;
  std::printf("trained %lld steps in %.1f s (%.0f images/s)\n",
              static_cast<long long>(seen / a.batchSize), trainSeconds, rate);
  char line[200];
  std::snprintf(line, sizeof line,
                "{\"event\":\"train_end\",\"images_per_s\":%.1f,"
                "\"train_s\":%.3f}",
                rate, trainSeconds);
  metrics.write(line);
  if (!a.savePath.empty()) {
    saveCheckpoint(a.savePath, program,
                   {{"model", name},
                    {"optimizer", a.optimizer},
                    {"dataset", a.data.dataset},
                    {"lr", std::to_string(a.lr)},
                    {"momentum", std::to_string(a.momentum)},
                    {"batch_size", std::to_string(a.batchSize)}});
    std::printf("saved %s\n", a.savePath.c_str());
  }
  if (!a.saveProgramPath.empty()) {
    saveProgram(a.saveProgramPath, program,
                {{"model", name}, {"dataset", a.data.dataset}});
    std::printf("saved the program to %s\n", a.saveProgramPath.c_str());
  }
  reportAccuracy(evaluate(program, test, testBatch, {}), test, metrics);
  return 0;
}

} // namespace kiln::cli
