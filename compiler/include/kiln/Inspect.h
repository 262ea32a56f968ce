// Looking at a traced program: the counterpart of following PyTorch's
// loss.grad_fn chain, for the forward and the derived backward program.
#ifndef KILN_INSPECT_H
#define KILN_INSPECT_H

#include "kiln/Compiler.h"

#include <string>

namespace kiln {

enum class GraphFormat {
  Text, ///< one line per op: `%7 = relu(%6) -> [4, 6, 28, 28]`
  Dot,  ///< Graphviz: forward ops in one cluster, backward and update in others
};

/// The program `spec` asks for (train_step when training, else predict), at
/// the kiln level after autodiff and the optimizer step, in `format`.
std::string describeProgram(nn::Module &model, const CompileSpec &spec,
                            GraphFormat format);

} // namespace kiln

#endif // KILN_INSPECT_H
