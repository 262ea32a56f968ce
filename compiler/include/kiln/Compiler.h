// Compiling traced models into Programs: the embedded JIT API. No MLIR type
// appears here.
#ifndef KILN_COMPILER_H
#define KILN_COMPILER_H

#include "kiln/nn/Module.h"
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

enum class LossKind { CrossEntropy, Mse };

/// What to compile for a classifier.
struct CompileSpec {
  /// Input batch shape, e.g. {4, 1, 32, 32}.
  std::vector<int64_t> inputShape;
  LossKind loss = LossKind::CrossEntropy;
  SgdOptions sgd;
  bool train = true;          ///< compile train_step
  int64_t predictBatch = 0;   ///< compile predict for this batch (0: none)
  bool gradient = false;      ///< also keep loss and loss_grad entries
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
AotBundle compileAot(nn::Module &model, const CompileSpec &spec,
                     const std::string &prefix);

/// A traced scalar function of named parameters and inputs, for tests and
/// the blitz's autograd examples: entries "f" and, with `gradient`, "f_grad"
/// (returning the value and the gradient of every parameter).
Program compileFunction(Graph &graph, Var result, bool gradient);

} // namespace kiln

#endif // KILN_COMPILER_H
