// The kiln CLI's subcommands and what they share.
#ifndef KILN_TOOLS_COMMANDS_H
#define KILN_TOOLS_COMMANDS_H

#include "kiln/Compiler.h"
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Metrics.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/data/Dataset.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiln::cli {

/// The version number, and what --version prints: it and CUDA support.
const char *version();
std::string versionDetails();

/// Where the data comes from and which model reads it.
struct DataArgs {
  std::string dataset = "fashion-mnist";
  std::string dataDir;
  std::string model; ///< empty: the dataset's model
  int64_t width = 1;
};

struct TrainArgs {
  DataArgs data;
  int64_t epochs = 2;
  int64_t batchSize = 4;
  std::string optimizer = "sgd";
  double lr = 0.001;
  double momentum = 0.9;
  uint64_t seed = 0;
  int64_t threads = 0;
  int64_t workers = 0;
  bool augment = false;
  int64_t maxSteps = 0;
  int64_t logEvery = 2000;
  std::string metricsPath;
  std::string savePath;
  std::string saveProgramPath;
  std::string resumePath;
  std::string device = "cpu";
};

struct EvalArgs {
  DataArgs data;
  std::string weightsPath;
  std::string programPath;
  int64_t batchSize = 1000;
  int64_t threads = 0;
  std::string metricsPath;
  std::string confusionPath;
  std::string device = "cpu";
};

struct ShowBatchArgs {
  DataArgs data;
  int64_t batchSize = 4;
  uint64_t seed = 0;
  bool test = false;
  std::string outputPath;
};

struct BenchArgs {
  std::string model = "lenet";
  int64_t width = 1;
  std::string mode = "train";
  int64_t batchSize = 4;
  int64_t steps = 1000;
  int64_t threads = 0;
  bool cold = false;
  std::string device = "cpu";
  bool noFuse = false;
};

struct GraphArgs {
  std::string model = "lenet";
  int64_t width = 1;
  bool train = false;
  bool dot = false;
  int64_t batchSize = 4;
  bool noFuse = false;
};

struct CompileArgs {
  std::string model = "lenet";
  int64_t width = 1;
  std::string emit = "kiln";
  std::string target = "cpu";
  std::string arch;   ///< empty: sm_80, or sm_80,sm_90 for --aot
  std::string prefix; ///< --aot's symbol and file prefix; empty: the model
  bool train = false;
  bool memoryReport = false;
  bool aot = false;
  bool program = false;
  std::string outputDir;
  std::string weightsPath;
  std::string cpu;
  int64_t threads = 0;
  int64_t batchSize = 4;
  double lr = 0.001;
  double momentum = 0.9;
  bool noFuse = false;
};

int runTrain(const TrainArgs &args);
int runEval(const EvalArgs &args);
int runShowBatch(const ShowBatchArgs &args);
int runBench(const BenchArgs &args);
int runGraph(const GraphArgs &args);
/// The CompileSpec `kiln compile`'s options describe (batch, optimizer,
/// train, fusion, threads); callers choose the predict and eval batches.
CompileSpec compileSpecOf(const CompileArgs &a);
int runCompile(const CompileArgs &args);
int runAot(const CompileArgs &args);
int runSaveProgram(const CompileArgs &args);
int runSummary(const std::string &model, int64_t width);

// Shared by train and eval.

/// The model for `data` (its --model, or the dataset's default) and the
/// dataset's train or test split.
std::string modelName(const DataArgs &data);
Dataset loadSplit(const DataArgs &data, bool train);
/// --device: cpu, cuda, cuda:N or best; a CUDA device must be usable here.
Device parseDevice(const std::string &text);

/// JSON lines for --metrics, written as they come so a run can be watched.
class MetricsLog {
public:
  explicit MetricsLog(const std::string &path);
  ~MetricsLog();
  void write(const std::string &line);

private:
  struct File;
  std::unique_ptr<File> file_;
};

/// Runs `program`'s predict entry over `test` in batches of its compiled
/// size; `onBatch` sees each batch's labels, logits and real row count.
using BatchCallback = std::function<void(const Tensor &labels,
                                         const Tensor &logits, int64_t count)>;
Accuracy evaluate(Program &program, const Dataset &test, int64_t batchSize,
                  const BatchCallback &onBatch);

/// The class of the largest logit of `row`; the first one wins ties.
int64_t argmaxRow(const Tensor &logits, int64_t row);

/// Prints overall and per-class accuracy as the blitz does and writes the
/// {"event":"test", ...} metrics record.
void reportAccuracy(const Accuracy &accuracy, const Dataset &test,
                    MetricsLog &metrics);

void checkPositive(const char *flag, double value);

using Clock = std::chrono::steady_clock;
/// Seconds from `start` to now.
double secondsSince(Clock::time_point start);

} // namespace kiln::cli

#endif // KILN_TOOLS_COMMANDS_H
