// kiln eval: test accuracy of saved weights, with the blitz's
// GroundTruth / Predicted lines for the first test images.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Image.h"
#include "kiln/runtime/ProgramFile.h"

#include <cstdio>

namespace kiln::cli {

namespace {

// The model of --model/--dataset with --weights, compiled to predict.
Program compileWithWeights(const EvalArgs &a) {
  std::string name = modelName(a.data);
  auto model = models::makeModel(name, a.data.width);
  loadParameters(a.weightsPath, model->namedParameters());
  std::vector<int64_t> shape = models::modelInputShape(name);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.train = false;
  spec.predictBatch = a.batchSize;
  spec.device = parseDevice(a.device);
  spec.threads = static_cast<int>(a.threads);
  return compile(*model, spec);
}

// The images predict takes: [batch, channels, height, width].
std::vector<int64_t> predictInputShape(const Program &program) {
  for (const ArgSpec &arg : program.entry("predict").args) {
    if (arg.role == ArgRole::Input)
      return arg.shape;
  }
  throw Error("the predict entry takes no input");
}

// A program file's own graph and weights; it must classify the data set's
// images.
Program loadForEval(const std::string &path, const Dataset &test,
                    const std::string &dataset, const Device &device) {
  Program program = loadProgram(path, device);
  if (!program.hasEntry("predict"))
    throw Error(path + ": this program has no predict entry; write it with "
                       "kiln compile --program or kiln train --save-program");
  std::vector<int64_t> wanted = predictInputShape(program);
  wanted.erase(wanted.begin());
  ImageShape image = test.imageShape();
  std::vector<int64_t> have = {image.channels, image.height, image.width};
  if (wanted != have)
    throw Error(path + ": the program classifies images of shape " +
                shapeString(wanted) + ", but " + dataset + " has " +
                shapeString(have) + "; choose the matching --dataset");
  return program;
}

} // namespace

int runEval(const EvalArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  Device device = parseDevice(a.device); // fails first without the device
  if (a.weightsPath.empty() && a.programPath.empty())
    throw Error("kiln eval needs --weights FILE (a state dict or checkpoint "
                "written by kiln train --save) or --program FILE (a program "
                "file)");
  Dataset test = loadSplit(a.data, /*train=*/false);
  auto loadStart = Clock::now();
  Program program =
      a.programPath.empty()
          ? compileWithWeights(a)
          : loadForEval(a.programPath, test, a.data.dataset, device);
  std::fprintf(stderr, "%s %s for %s in %.2f s\n",
               a.programPath.empty() ? "compiled" : "loaded",
               a.programPath.empty() ? modelName(a.data).c_str()
                                     : a.programPath.c_str(),
               program.deviceDescription().c_str(), secondsSince(loadStart));
  if (a.threads > 0)
    program.setThreads(static_cast<int>(a.threads));
  const int64_t batchSize = predictInputShape(program).at(0);

  MetricsLog metrics(a.metricsPath);
  int64_t classes = static_cast<int64_t>(test.classNames.size());
  std::vector<int64_t> confusion(classes * classes, 0);
  bool first = true;
  Accuracy accuracy = evaluate(
      program, test, batchSize,
      [&](const Tensor &labels, const Tensor &logits, int64_t count) {
        for (int64_t i = 0; i < count; ++i)
          ++confusion[labels.data<int64_t>()[i] * classes + argmaxRow(logits, i)];
        if (!first)
          return;
        first = false;
        int64_t shown = std::min<int64_t>(4, count);
        std::string truth = "GroundTruth: ", predicted = "Predicted:   ";
        std::string json = "{\"event\":\"first_batch\",\"ground_truth\":[";
        std::string jsonPredicted = "],\"predicted\":[";
        for (int64_t i = 0; i < shown; ++i) {
          int64_t label = labels.data<int64_t>()[i];
          int64_t guess = argmaxRow(logits, i);
          char cell[32];
          std::snprintf(cell, sizeof cell, " %-12s", test.classNames[label].c_str());
          truth += cell;
          std::snprintf(cell, sizeof cell, " %-12s", test.classNames[guess].c_str());
          predicted += cell;
          json += (i ? ",\"" : "\"") + test.classNames[label] + "\"";
          jsonPredicted += (i ? ",\"" : "\"") + test.classNames[guess] + "\"";
        }
        std::printf("%s\n%s\n", truth.c_str(), predicted.c_str());
        metrics.write(json + jsonPredicted + "]}");
      });
  reportAccuracy(accuracy, test, metrics);
  if (!a.confusionPath.empty()) {
    writePng(a.confusionPath,
             confusionMatrixImage(confusion, classes, test.classNames));
    std::printf("wrote the confusion matrix to %s\n", a.confusionPath.c_str());
  }
  return 0;
}

} // namespace kiln::cli
