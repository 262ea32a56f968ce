// kiln: the command-line tool — train, eval, compile and summary.
#include "Commands.h"

#include "kiln/runtime/Error.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace {
void addDataOptions(CLI::App *cmd, kiln::cli::DataArgs &data) {
  cmd->add_option("--dataset", data.dataset, "fashion-mnist or cifar10")
      ->capture_default_str();
  cmd->add_option("--data", data.dataDir,
                  "data set folder (Fashion-MNIST: "
                  "/usr/share/datasets/fashion-mnist)");
  cmd->add_option("--model", data.model,
                  "lenet (1 channel) or lenet-cifar (3 channels); default: "
                  "the data set's");
  cmd->add_option("--width", data.width,
                  "multiplies the convolutions' channels")
      ->capture_default_str();
}
} // namespace

int main(int argc, char **argv) {
  const char *threadsHelp =
      "threads the compiled code runs on (0: every core); results may "
      "differ by float rounding between thread counts";
  CLI::App app{"kiln: a compiler and runtime for small convolutional networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kiln::cli::versionDetails);

  kiln::cli::TrainArgs train;
  CLI::App *trainCmd =
      app.add_subcommand("train", "Train a model with the blitz recipe");
  addDataOptions(trainCmd, train.data);
  trainCmd->add_option("--epochs", train.epochs)->capture_default_str();
  trainCmd->add_option("--batch-size", train.batchSize)->capture_default_str();
  trainCmd
      ->add_option("--optimizer", train.optimizer,
                   "sgd, adam or rmsprop (PyTorch's update rules)")
      ->capture_default_str();
  trainCmd->add_option("--lr", train.lr)->capture_default_str();
  trainCmd->add_option("--momentum", train.momentum, "SGD and RMSProp momentum")
      ->capture_default_str();
  trainCmd->add_option("--seed", train.seed)->capture_default_str();
  trainCmd->add_option("--threads", train.threads, threadsHelp)
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  trainCmd
      ->add_option("--workers", train.workers,
                   "loader threads preparing batches ahead (0: none)")
      ->capture_default_str();
  trainCmd->add_flag("--augment", train.augment,
                     "random crops (padding 4) and horizontal flips");
  trainCmd
      ->add_option("--max-steps", train.maxSteps,
                   "stop each epoch after this many steps (0: whole epoch)")
      ->capture_default_str();
  trainCmd
      ->add_option("--log-every", train.logEvery,
                   "print the running loss every N steps")
      ->capture_default_str();
  trainCmd->add_option("--metrics", train.metricsPath,
                       "write JSON lines of metrics to this file");
  trainCmd->add_option("--save", train.savePath,
                       "write a checkpoint (safetensors) after training");
  trainCmd->add_option("--save-program", train.saveProgramPath,
                       "write the trained program (graph and weights) to a "
                       "program file for kiln eval --program");
  trainCmd
      ->add_option(
          "--device", train.device,
          "where to run: cpu, cuda, cuda:N or best (a GPU if there is one)")
      ->capture_default_str();
  trainCmd->add_option("--resume", train.resumePath,
                       "start from a checkpoint written by --save");

  kiln::cli::EvalArgs eval;
  CLI::App *evalCmd =
      app.add_subcommand("eval", "Test accuracy of saved weights");
  addDataOptions(evalCmd, eval.data);
  CLI::Option *weightsOption = evalCmd->add_option(
      "--weights", eval.weightsPath,
      "state dict, checkpoint or program file, or a PyTorch .pt state_dict");
  CLI::Option *batchOption = evalCmd->add_option("--batch-size", eval.batchSize)
                                 ->capture_default_str();
  // A program file brings its model and batch size.
  evalCmd
      ->add_option("--program", eval.programPath,
                   "a program file (kiln compile --program): its own graph, "
                   "weights and batch size, no model class")
      ->excludes(weightsOption)
      ->excludes(batchOption)
      ->excludes(evalCmd->get_option("--model"))
      ->excludes(evalCmd->get_option("--width"));
  evalCmd->add_option("--threads", eval.threads, threadsHelp)
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  evalCmd->add_option("--metrics", eval.metricsPath,
                      "write JSON lines of metrics to this file");
  evalCmd
      ->add_option(
          "--device", eval.device,
          "where to run: cpu, cuda, cuda:N or best (a GPU if there is one)")
      ->capture_default_str();
  evalCmd->add_option("--confusion", eval.confusionPath,
                      "write the confusion matrix as a PNG picture");

  kiln::cli::ShowBatchArgs show;
  CLI::App *showCmd = app.add_subcommand(
      "show-batch", "Write a picture of one batch with its labels");
  addDataOptions(showCmd, show.data);
  showCmd->add_option("--batch-size", show.batchSize)->capture_default_str();
  showCmd->add_option("--seed", show.seed)->capture_default_str();
  showCmd->add_flag("--test", show.test, "a batch of the test set");
  showCmd->add_option("-o,--output", show.outputPath, "PNG file to write")
      ->required();

  kiln::cli::CompileArgs compile;
  CLI::App *compileCmd = app.add_subcommand(
      "compile",
      "Print a model's program at one stage of the pipeline, or write it "
      "for a C program (--aot) or as a program file (--program)");
  compileCmd->add_option("--model", compile.model)->capture_default_str();
  compileCmd->add_option("--width", compile.width)->capture_default_str();
  compileCmd
      ->add_option("--emit", compile.emit,
                   "kiln, loops (alias: linalg) or llvm; with --target "
                   "cuda: kiln, cuda (CUDA C++), plan (kernel launches), "
                   "ptx (NVRTC's PTX) or resources (ptxas' registers "
                   "and spills per kernel)")
      ->capture_default_str();
  compileCmd->add_option("--target", compile.target, "cpu or cuda")
      ->capture_default_str();
  compileCmd->add_option("--arch", compile.arch,
                         "CUDA architecture for --emit ptx|resources "
                         "(default sm_80); with --aot, a comma-separated list "
                         "to embed cubins for (default sm_80,sm_90)");
  compileCmd->add_option("--prefix", compile.prefix,
                         "--aot: name of the files and C symbols (default: "
                         "the model's name), so one program can link two "
                         "bundles");
  compileCmd->add_flag("--train", compile.train,
                       "the training step (with --aot, --program: as well)");
  CLI::Option *aotFlag = compileCmd->add_flag(
      "--aot", compile.aot,
      "write an object file, C header and weights to -o DIR");
  compileCmd
      ->add_flag("--program", compile.program,
                 "write a program file (graph and weights) to -o FILE")
      ->excludes(aotFlag);
  compileCmd->add_option("-o,--output", compile.outputDir,
                         "output folder for --aot, file for --program");
  compileCmd->add_option("--cpu", compile.cpu,
                         "--aot for another x86-64 CPU, e.g. x86-64-v2 "
                         "(default: this machine's)");
  compileCmd->add_option("--threads", compile.threads, threadsHelp)
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  compileCmd->add_option("--weights", compile.weightsPath,
                         "weights to bundle with --aot or --program "
                         "(default: initial)");
  compileCmd->add_flag("--memory-report", compile.memoryReport,
                       "compile and print the bytes of every buffer instead");
  compileCmd->add_option("--batch-size", compile.batchSize)
      ->capture_default_str();
  compileCmd->add_option("--lr", compile.lr)->capture_default_str();
  compileCmd->add_option("--momentum", compile.momentum)->capture_default_str();
  compileCmd->add_flag("--no-fuse", compile.noFuse, "skip kiln-fuse");

  kiln::cli::GraphArgs graph;
  CLI::App *graphCmd = app.add_subcommand(
      "graph", "Print the forward and derived backward program (text or dot)");
  graphCmd->add_option("--model", graph.model)->capture_default_str();
  graphCmd->add_option("--width", graph.width)->capture_default_str();
  graphCmd->add_flag("--train", graph.train,
                     "the training step: forward, backward and update");
  graphCmd->add_flag("--dot", graph.dot, "Graphviz dot instead of text");
  graphCmd->add_option("--batch-size", graph.batchSize)->capture_default_str();
  graphCmd->add_flag("--no-fuse", graph.noFuse, "skip kiln-fuse");

  kiln::cli::BenchArgs bench;
  CLI::App *benchCmd = app.add_subcommand(
      "bench", "Time a compiled train step or predict on random data (JSON)");
  benchCmd->add_option("--model", bench.model)->capture_default_str();
  benchCmd->add_option("--width", bench.width)->capture_default_str();
  benchCmd->add_option("--mode", bench.mode, "train or predict")
      ->capture_default_str();
  benchCmd->add_option("--batch-size", bench.batchSize)->capture_default_str();
  benchCmd->add_option("--steps", bench.steps)->capture_default_str();
  benchCmd
      ->add_option(
          "--device", bench.device,
          "where to run: cpu, cuda, cuda:N or best (a GPU if there is one)")
      ->capture_default_str();
  benchCmd->add_option("--threads", bench.threads, threadsHelp)
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  benchCmd->add_flag("--cold", bench.cold,
                     "compile without the program cache (cold compile time)");
  benchCmd->add_flag("--no-fuse", bench.noFuse,
                     "skip kiln-fuse (to measure what fusion gains)");

  std::string summaryModel = "lenet";
  int64_t summaryWidth = 1;
  CLI::App *summaryCmd =
      app.add_subcommand("summary", "Print a model's layers and parameters");
  summaryCmd->add_option("--model", summaryModel)->capture_default_str();
  summaryCmd->add_option("--width", summaryWidth)->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  try {
    if (*trainCmd)
      return kiln::cli::runTrain(train);
    if (*evalCmd)
      return kiln::cli::runEval(eval);
    if (*graphCmd)
      return kiln::cli::runGraph(graph);
    if (*benchCmd)
      return kiln::cli::runBench(bench);
    if (*showCmd)
      return kiln::cli::runShowBatch(show);
    if (*compileCmd)
      return kiln::cli::runCompile(compile);
    if (*summaryCmd)
      return kiln::cli::runSummary(summaryModel, summaryWidth);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
