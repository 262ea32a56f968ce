// Compiling traced models into Programs: the embedded JIT API. No MLIR type
// appears here.
#ifndef KILN_COMPILER_H
#define KILN_COMPILER_H

#include "kiln/nn/Module.h"
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Program.h"

#include <string>
#include <vector>

namespace kiln {

/// SGD with PyTorch's update rule.
struct SgdOptions {
  double lr = 0.001;
  double momentum = 0.0;
  double dampening = 0.0;
  double weightDecay = 0.0;
  bool nesterov = false;
};

/// Adam with PyTorch's update rule: bias correction, optional AMSGrad.
struct AdamOptions {
  double lr = 0.001;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.0;
  bool amsgrad = false;
};

/// RMSProp with PyTorch's update rule: optional momentum and centering.
struct RmsPropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weightDecay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

/// Which optimizer train_step applies; its options are the matching field
/// of CompileSpec.
enum class OptimizerKind { Sgd, Adam, RmsProp };

enum class LossKind { CrossEntropy, Mse };

/// What to compile for a classifier.
struct CompileSpec {
  /// Input batch shape, e.g. {4, 1, 32, 32}.
  std::vector<int64_t> inputShape;
  LossKind loss = LossKind::CrossEntropy;
  /// The loss's mean over the batch (PyTorch's default) or its sum;
  /// Reduction::None is refused, as training needs one scalar.
  Reduction lossReduction = Reduction::Mean;
  OptimizerKind optimizer = OptimizerKind::Sgd;
  SgdOptions sgd;
  AdamOptions adam;
  RmsPropOptions rmsprop;
  bool train = true;        ///< compile train_step
  int64_t predictBatch = 0; ///< compile predict for this batch (0: none)
  int64_t evalBatch = 0;    ///< compile eval_step for this batch (0: none)
  bool gradient = false;    ///< also keep loss and loss_grad entries
  bool fuse = true;         ///< run kiln-fuse (see docs/passes.md)
  /// Where the entry points run: the CPU, or a CUDA device, for which the
  /// program is also generated as CUDA kernels, compiled by NVRTC for that
  /// GPU and run through a CUDA graph (Device::best() picks one if there is
  /// one). Compiling for a CUDA device on a machine without one throws
  /// kiln::Error ("no CUDA driver found ...").
  Device device = Device::cpu();
  /// Threads the compiled code runs on (0: every hardware thread). Work is
  /// split into this many parts, so results depend on it (by float
  /// reassociation only) but not on Program::setThreads.
  int threads = 0;
};

/// The stages `kiln compile --emit` can print.
enum class Stage { Kiln, Loops, Llvm };

/// Traces `model`, derives what `spec` asks for and prints it at `stage`.
std::string emitProgram(nn::Module &model, const CompileSpec &spec,
                        Stage stage);

/// Traces, differentiates, lowers and JIT-compiles `model` for the host CPU.
/// The Program shares the model's parameter tensors.
Program compile(nn::Module &model, const CompileSpec &spec);

/// An ahead-of-time compiled program: a PIC object file for the host CPU
/// exporting `<prefix><entry>(void **args)` per entry point and
/// `const char <prefix>entries[]` describing them (formatEntryPoints).
struct AotBundle {
  std::string object;
  std::vector<EntryPoint> entries;
};
/// `cpu` compiles for another CPU of this architecture (e.g. "x86-64-v2",
/// for machines without AVX-512); empty means this machine's CPU. Each of
/// `data` is exported as `const unsigned char <prefix><name>[]` with its
/// length in `const int64_t <prefix><name>_size` (the CUDA bundle of
/// `kiln compile --aot --target cuda`).
AotBundle
compileAot(nn::Module &model, const CompileSpec &spec,
           const std::string &prefix, const std::string &cpu = "",
           const std::vector<std::pair<std::string, std::string>> &data = {});

/// Links an AOT bundle's object into this process, as a C program links it,
/// and binds it to `params`: for checking a bundle against the JIT.
Program loadAot(const AotBundle &bundle, const std::string &prefix,
                std::vector<std::pair<std::string, Tensor>> params);

/// Loads a program file written by saveProgram or `kiln compile --program`
/// (kiln/runtime/ProgramFile.h) without the model class that built it: its
/// graph is compiled again, or found in the program cache, and its
/// parameters, optimizer state and step count are those saved. On a CUDA
/// `device` its kernels are generated from the same graph and it runs there,
/// as compile() does. Throws kiln::Error naming the file and what is wrong
/// with it, or why the device cannot be used.
Program loadProgram(const std::string &path,
                    const Device &device = Device::cpu());

/// A traced scalar function of named parameters and inputs, for tests and
/// the blitz's autograd examples: entries "f" and, with `gradient`, "f_grad"
/// (returning the value and the gradient of every parameter). With `fuse`,
/// kiln-fuse runs as in compile (after dropping unneeded gradients).
Program compileFunction(Graph &graph, Var result, bool gradient,
                        bool fuse = false);

/// Like compile, for a traced scalar `loss` of the graph's parameters and
/// inputs: the single entry "train_step", applying `spec`'s optimizer
/// (spec.inputShape and spec.loss are not used). Run it with
/// Program::run("train_step", inputs) and advance setStepsTaken yourself.
Program compileTrainStep(Graph &graph, Var loss, const CompileSpec &spec);

} // namespace kiln

#endif // KILN_COMPILER_H
