// The kiln CLI's subcommands.
#ifndef KILN_TOOLS_COMMANDS_H
#define KILN_TOOLS_COMMANDS_H

#include <cstdint>
#include <string>

namespace kiln::cli {

const char *version();

struct TrainArgs {
  std::string model = "lenet";
  int64_t width = 1;
  std::string dataDir;
  int64_t epochs = 2;
  int64_t batchSize = 4;
  double lr = 0.001;
  double momentum = 0.9;
  uint64_t seed = 0;
  int64_t threads = 0;
  int64_t maxSteps = 0;
  int64_t logEvery = 2000;
  std::string metricsPath;
};

struct CompileArgs {
  std::string model = "lenet";
  int64_t width = 1;
  std::string emit = "kiln";
  bool train = false;
  int64_t batchSize = 4;
  double lr = 0.001;
  double momentum = 0.9;
};

int runTrain(const TrainArgs &args);
int runCompile(const CompileArgs &args);
int runSummary(const std::string &model, int64_t width);

} // namespace kiln::cli

#endif // KILN_TOOLS_COMMANDS_H
