// The kiln CLI: bad input is a one-line error and exit code 1, never a crash;
// good input prints what the docs promise.
#include "kiln/runtime/Image.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct CliResult {
  bool exited = false; ///< false when a signal ended it
  int code = -1;
  std::string out, err;
};

fs::path scratchDir() {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

CliResult runKiln(const std::string &args) {
  const fs::path errPath = scratchDir() / "stderr.txt";
  // exec: the shell becomes kiln, so a signal shows as WIFSIGNALED.
  const std::string command = std::string("KILN_CUDA_DRIVER=") +
                              "libkiln-no-such-driver.so.1 exec '" + KILN_CLI +
                              "' " + args +
                              " 2>'" + errPath.string() + "'";
  CliResult result;
  FILE *pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exited = WIFEXITED(status);
  result.code = result.exited ? WEXITSTATUS(status) : -1;
  std::ifstream err(errPath);
  std::stringstream text;
  text << err.rdbuf();
  result.err = text.str();
  return result;
}

int64_t lineCount(const std::string &text) {
  return std::count(text.begin(), text.end(), '\n');
}

/// A user error: exit code 1 after a one-line message on stderr.
void requireUserError(const CliResult &r) {
  INFO("exit code " << r.code << ", stderr: " << r.err);
  REQUIRE(r.exited);
  CHECK(r.code == 1);
  CHECK(lineCount(r.err) == 1);
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("kiln train rejects a zero batch size") {
  CliResult r = runKiln("train --batch-size 0");
  requireUserError(r);
  CHECK(contains(r.err, "--batch-size"));
}

TEST_CASE("kiln --device cuda without a CUDA driver is one clear line") {
  // KILN_CUDA_DRIVER names a library that does not exist, so this holds on
  // a machine with a GPU too.
  for (const char *command : {"train", "eval --weights x.safetensors",
                              "bench"}) {
    CliResult r = runKiln(std::string(command) + " --device cuda");
    INFO(command);
    requireUserError(r);
    CHECK(contains(r.err, "no CUDA driver found"));
  }
  CliResult r = runKiln("train --device tpu");
  requireUserError(r);
  CHECK(contains(r.err, "choose cpu, cuda, cuda:N or best"));
}

TEST_CASE("kiln train names a missing data directory") {
  CliResult r = runKiln("train --data /nonexistent/kiln-data");
  requireUserError(r);
  CHECK(contains(r.err, "/nonexistent/kiln-data"));
}

TEST_CASE("kiln train rejects an unknown model") {
  CliResult r = runKiln("train --model nosuch");
  requireUserError(r);
  CHECK(contains(r.err, "nosuch"));
}

TEST_CASE("kiln compile rejects an unknown stage") {
  CliResult r = runKiln("compile --emit nosuch");
  requireUserError(r);
  CHECK(contains(r.err, "nosuch"));
}

TEST_CASE("kiln rejects an unknown command") {
  CliResult r = runKiln("frobnicate");
  INFO("exit code " << r.code << ", stderr: " << r.err);
  REQUIRE(r.exited);
  CHECK(r.code != 0);
}

TEST_CASE("kiln train reports a truncated gzip data file") {
  const fs::path dir = scratchDir() / "corrupt";
  fs::create_directories(dir);
  // A gzip header, then a stored deflate block that promises 16 bytes and
  // delivers 4, and no trailer.
  const unsigned char truncated[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x03, 0x01, 0x10, 0x00, 0xef,
                                     0xff, 0x00, 0x00, 0x08, 0x03};
  for (const char *name :
       {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::ofstream file(dir / name, std::ios::binary);
    file.write(reinterpret_cast<const char *>(truncated), sizeof truncated);
  }
  CliResult r = runKiln("train --data '" + dir.string() + "'");
  requireUserError(r);
  CHECK(contains(r.err, "train-images-idx3-ubyte"));
  fs::remove_all(dir);
}

TEST_CASE("kiln summary counts LeNet parameters") {
  CliResult r = runKiln("summary");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "total parameters: 61706"));
  CliResult cifar = runKiln("summary --model lenet-cifar");
  INFO(cifar.err);
  REQUIRE(cifar.code == 0);
  CHECK(contains(cifar.out, "total parameters: 62006"));
}

TEST_CASE("kiln compile prints every stage") {
  CliResult kiln = runKiln("compile --emit kiln --train");
  INFO(kiln.err);
  REQUIRE(kiln.code == 0);
  CHECK(contains(kiln.out, "kiln.conv2d_relu_pool_backward"));
  CHECK(contains(kiln.out, "kiln.sgd_update"));
  CliResult unfused = runKiln("compile --emit kiln --train --no-fuse");
  REQUIRE(unfused.code == 0);
  CHECK(contains(unfused.out, "kiln.conv2d_backward_filter"));
  CHECK(!contains(unfused.out, "conv2d_relu_pool"));

  CliResult loops = runKiln("compile --emit loops --train");
  INFO(loops.err);
  REQUIRE(loops.code == 0);
  CHECK(contains(loops.out, "scf.for"));
  CHECK(contains(loops.out, "memref.view"));

  CliResult llvm = runKiln("compile --emit llvm --train");
  INFO(llvm.err);
  REQUIRE(llvm.code == 0);
  CHECK(contains(llvm.out, "define void @train_step"));
}

TEST_CASE("kiln eval of weights saved by kiln train reproduces its accuracy") {
  const std::string weights = (scratchDir() / "trained.safetensors").string();
  CliResult trained = runKiln("train --epochs 1 --max-steps 200 --log-every 100 "
                              "--save '" + weights + "'");
  INFO("train stderr: " << trained.err);
  REQUIRE(trained.code == 0);
  CliResult evaluated = runKiln("eval --weights '" + weights + "'");
  INFO("eval stderr: " << evaluated.err);
  REQUIRE(evaluated.code == 0);
  auto accuracyLine = [](const std::string &text) {
    size_t begin = text.find("Accuracy of the network");
    return text.substr(begin, text.find('\n', begin) - begin);
  };
  REQUIRE(contains(trained.out, "Accuracy of the network on the 10000"));
  CHECK(accuracyLine(evaluated.out) == accuracyLine(trained.out));
  CHECK(contains(evaluated.out, "GroundTruth: "));
  CHECK(contains(evaluated.out, "Predicted: "));
}

TEST_CASE("kiln eval refuses weights of another model and names the tensor") {
  const std::string weights = (scratchDir() / "cifar.safetensors").string();
  // 3-channel LeNet weights, written by training on a tiny CIFAR-10 copy.
  const fs::path dir = scratchDir() / "cifar";
  fs::create_directories(dir);
  std::vector<char> record(3073, 0);
  for (const char *name : {"data_batch_1.bin", "data_batch_2.bin",
                           "data_batch_3.bin", "data_batch_4.bin",
                           "data_batch_5.bin", "test_batch.bin"}) {
    std::ofstream file(dir / name, std::ios::binary);
    for (int i = 0; i < 4; ++i) {
      record[0] = static_cast<char>(i % 10);
      record[1 + i] = static_cast<char>(200);
      file.write(record.data(), record.size());
    }
  }
  const fs::path metrics = scratchDir() / "cifar-metrics.jsonl";
  CliResult trained = runKiln("train --dataset cifar10 --data '" +
                              dir.string() + "' --epochs 1 --batch-size 4 " +
                              "--metrics '" + metrics.string() + "' --save '" +
                              weights + "'");
  INFO("train stderr: " << trained.err);
  REQUIRE(trained.code == 0);
  CHECK(contains(trained.out, "Accuracy of the network on the 4 test images"));
  CHECK(contains(trained.out, "Accuracy for class: plane"));
  // The test images are of classes 0 to 3: the others have no accuracy.
  CHECK(contains(trained.out,
                 "Accuracy for class: truck        is - (no test images)"));
  CHECK(!contains(trained.out, "nan"));
  std::ifstream lines(metrics);
  std::string line, testLine;
  while (std::getline(lines, line))
    if (contains(line, "\"event\":\"test\""))
      testLine = line;
  CHECK(contains(testLine, ",null,null,null,null,null,null]}"));
  CHECK(!contains(testLine, "nan"));

  CliResult r = runKiln("eval --weights '" + weights + "'");
  requireUserError(r);
  CHECK(contains(r.err, "conv1.weight"));
  CHECK(contains(r.err, "[6, 3, 5, 5]"));
}

TEST_CASE("kiln eval needs --weights and CIFAR-10 needs --data") {
  CliResult noWeights = runKiln("eval");
  REQUIRE(noWeights.exited);
  CHECK(noWeights.code != 0);
  CHECK(contains(noWeights.err, "--weights"));
  CliResult noData = runKiln("train --dataset cifar10");
  requireUserError(noData);
  CHECK(contains(noData.err, "--data"));
}

TEST_CASE("kiln compile --memory-report sizes LeNet's train step") {
  CliResult r = runKiln("compile --train --memory-report");
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  // 61,706 float parameters, and as many momentum values plus the step.
  CHECK(contains(r.out, "parameters            246824 bytes"));
  CHECK(contains(r.out, "optimizer state       246832 bytes"));
  CHECK(contains(r.out, "peak"));
  // kiln-fuse keeps no whole-batch convolution output, pooling or relu
  // gradient: at batch 64 (3.9 MB unfused, 1.1 MB fused) the arena shrinks
  // to well under half.
  auto arenaBytes = [](const std::string &args) {
    CliResult report = runKiln("compile --train --memory-report " + args);
    REQUIRE(report.code == 0);
    size_t at = report.out.find("liveness-planned)");
    REQUIRE(at != std::string::npos);
    return std::stoll(report.out.substr(at + 17));
  };
  CHECK(2 * arenaBytes("--batch-size 64") <
        arenaBytes("--batch-size 64 --no-fuse"));
}

TEST_CASE("kiln compile --aot writes an object file, a header and weights") {
  const fs::path dir = scratchDir() / "aot";
  CliResult r = runKiln("compile --aot --train --batch-size 4 -o '" +
                        dir.string() + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(fs::file_size(dir / "lenet.o") > 1000);
  REQUIRE(fs::file_size(dir / "lenet.safetensors") > 61706 * 4);
  std::ifstream file(dir / "lenet.h");
  std::stringstream header;
  header << file.rdbuf();
  CHECK(contains(header.str(), "void lenet_train_step(void **args);"));
  CHECK(contains(header.str(), "void lenet_predict(void **args);"));
  CHECK(contains(header.str(), "input labels: int64 [4]"));
  CHECK(contains(header.str(), "parameters 246824 bytes"));
  CHECK(contains(header.str(), "void lenet_eval_step(void **args);"));
  CHECK(contains(header.str(), "output logits: float32 [4, 10]"));
  CliResult noDir = runKiln("compile --aot");
  requireUserError(noDir);
  CHECK(contains(noDir.err, "-o DIR"));
  CliResult badPrefix =
      runKiln("compile --aot --prefix 2nets -o '" + dir.string() + "'");
  requireUserError(badPrefix);
  CHECK(contains(badPrefix.err, "--prefix '2nets' is not a C identifier"));
  CHECK(!fs::exists(dir / "2nets.o"));
}

TEST_CASE("kiln eval --program scores as kiln eval --weights does") {
  const std::string weights =
      std::string(KILN_SOURCE_DIR) + "/tests/golden/pt/lenet1.pt";
  const fs::path program = scratchDir() / "lenet1.kiln";
  CliResult saved = runKiln("compile --program --weights '" + weights +
                            "' --batch-size 500 -o '" + program.string() + "'");
  INFO("stderr: " << saved.err);
  REQUIRE(saved.code == 0);
  CHECK(
      contains(saved.out, "eval_step, predict of 'lenet' for batches of 500"));
  auto accuracyLine = [](const std::string &out) {
    const std::string prefix =
        "Accuracy of the network on the 10000 test images: ";
    size_t at = out.find(prefix);
    return at == std::string::npos ? std::string()
                                   : out.substr(at, out.find('\n', at) - at);
  };
  CliResult fromProgram = runKiln("eval --program '" + program.string() + "'");
  CliResult fromWeights = runKiln("eval --weights '" + weights + "'");
  REQUIRE(fromProgram.code == 0);
  REQUIRE(fromWeights.code == 0);
  REQUIRE_FALSE(accuracyLine(fromProgram.out).empty());
  CHECK(accuracyLine(fromProgram.out) == accuracyLine(fromWeights.out));
  // Per-class lines too: the whole report is the same.
  CHECK(fromProgram.out == fromWeights.out);

  requireUserError(runKiln("eval"));
  CliResult both = runKiln("eval --program a --weights b");
  CHECK(both.code != 0);
  CliResult notProgram = runKiln("eval --program '" + weights + "'");
  requireUserError(notProgram);
  CHECK(contains(notProgram.err, "not a kiln program file"));
  CliResult noFile = runKiln("compile --program");
  requireUserError(noFile);
  CHECK(contains(noFile.err, "-o FILE"));
}

TEST_CASE("kiln show-batch and eval --confusion write pictures") {
  const fs::path grid = scratchDir() / "grid.png";
  CliResult shown = runKiln("show-batch --batch-size 4 -o '" + grid.string() + "'");
  INFO("stderr: " << shown.err);
  REQUIRE(shown.code == 0);
  // Four Fashion-MNIST class names on the first line, as the blitz prints.
  CHECK(lineCount(shown.out) == 2);
  // Four 32x32 images in one row, 2 pixels apart, over 10-pixel captions.
  kiln::Image picture = kiln::readPng(grid.string());
  CHECK(picture.width == 2 + 4 * (32 + 2));
  CHECK(picture.height == 2 + 32 + 10 + 2);
  CHECK(picture.at(0, 0) == 0); // padding is black

  const fs::path confusion = scratchDir() / "confusion.png";
  const std::string weights = std::string(KILN_SOURCE_DIR) + "/tests/golden/pt/lenet1.pt";
  CliResult evaluated = runKiln("eval --weights '" + weights + "' --confusion '" +
                                confusion.string() + "'");
  INFO("stderr: " << evaluated.err);
  REQUIRE(evaluated.code == 0);
  CHECK(contains(evaluated.out, "Accuracy of the network on the 10000 test images"));
  kiln::Image matrix = kiln::readPng(confusion.string());
  CHECK(matrix.channels == 3);
  CHECK(matrix.width > 10 * 24);
  CHECK(matrix.height > 10 * 24);
}

TEST_CASE("kiln graph prints the forward backward and update phases") {
  CliResult text = runKiln("graph --train");
  INFO("stderr: " << text.err);
  REQUIRE(text.code == 0);
  CHECK(contains(text.out, "-- forward"));
  CHECK(contains(text.out, "-- backward (kiln-autodiff)"));
  CHECK(contains(text.out, "-- update (kiln-optimizer-step)"));
  // kiln-fuse has merged conv1, its relu and its pooling, and says so.
  CHECK(contains(text.out, "conv2d_relu_pool(%input, %conv1.weight, %conv1.bias) "
                           "padding=0 pool_kernel=2 pool_stride=2 stride=1 -> "
                           "[4, 6, 14, 14]  [fused: conv2d + relu + max_pool2d]"));
  CHECK(contains(text.out, "= linear(%6, %fc1.weight, %fc1.bias) relu=true -> "
                           "[4, 120]  [fused: matmul + broadcast + add + relu]"));
  CHECK(contains(text.out, "sgd_update(%conv1.weight"));
  CliResult dot = runKiln("graph --train --dot");
  REQUIRE(dot.code == 0);
  CHECK(contains(dot.out, "digraph train_step {"));
  CHECK(contains(dot.out, "subgraph cluster_1"));
  // Each fused op in a box naming what it replaced.
  CHECK(contains(dot.out, "label=\"fused: max_pool2d_backward + relu_backward + "
                          "sum + conv2d_backward_filter + conv2d_backward_input\""));
  CHECK(contains(dot.out, "label=\"conv2d_relu_pool_backward"));
  CliResult unfused = runKiln("graph --train --dot --no-fuse");
  REQUIRE(unfused.code == 0);
  CHECK(contains(unfused.out, "label=\"conv2d_backward_filter"));
  CHECK(!contains(unfused.out, "cluster_fused"));
}

TEST_CASE("kiln train takes Adam and refuses an unknown optimizer") {
  CliResult adam = runKiln("train --optimizer adam --epochs 1 --max-steps 300 "
                           "--log-every 100");
  INFO("stderr: " << adam.err);
  REQUIRE(adam.code == 0);
  CHECK(contains(adam.out, "[1,   300] loss: "));
  CliResult unknown = runKiln("train --optimizer nadam");
  requireUserError(unknown);
  CHECK(contains(unknown.err, "nadam"));
}

TEST_CASE("kiln train --workers gives the same run as the caller's thread") {
  const std::string args = "train --epochs 1 --max-steps 400 --log-every 200";
  CliResult serial = runKiln(args);
  CliResult workers = runKiln(args + " --workers 2 --seed 0");
  INFO("stderr: " << workers.err);
  REQUIRE(serial.code == 0);
  REQUIRE(workers.code == 0);
  auto lossLines = [](const std::string &text) {
    std::string lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("[1,", 0) == 0 || line.rfind("Accuracy", 0) == 0)
        lines += line + "\n";
    }
    return lines;
  };
  CHECK(contains(lossLines(serial.out), "[1,   400] loss: "));
  CHECK(lossLines(workers.out) == lossLines(serial.out));
  CliResult augmented = runKiln(args + " --workers 2 --augment");
  REQUIRE(augmented.code == 0);
  CHECK(lossLines(augmented.out) != lossLines(serial.out));
}
