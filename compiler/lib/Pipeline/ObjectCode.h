// Machine code for the host CPU: LLVM-dialect module → optimised object file,
// and loading an object file into the running process.
#ifndef KILN_PIPELINE_OBJECTCODE_H
#define KILN_PIPELINE_OBJECTCODE_H

#include "kiln/runtime/Program.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln {

/// Names the host CPU as LLVM sees it, for cache keys: "x86_64 znver4 +avx…".
std::string hostTargetDescription();

/// Translates `module` (LLVM dialect) to LLVM IR, adds for each entry point a
/// `<prefix><name>(void **args)` wrapper taking MLIR's packed arguments, runs
/// LLVM's -O3 pipeline for the host CPU and returns a relocatable (PIC)
/// object file. With `embedEntries`, the object also holds
/// `const char <prefix>entries[]`, the entry points' description, so an AOT
/// bundle describes itself. The program's own functions become internal.
/// `cpu` names another CPU of this architecture to compile for (AOT only).
/// Each of `data` becomes `const unsigned char <prefix><name>[]` and
/// `const int64_t <prefix><name>_size` (AOT only: a CUDA bundle).
std::string compileToObject(
    mlir::ModuleOp module, const std::vector<EntryPoint> &entries,
    const std::string &prefix = "_kiln_", bool embedEntries = false,
    const std::string &cpu = "",
    const std::vector<std::pair<std::string, std::string>> &data = {});

/// Links `object` into this process and fills in each entry's function
/// pointer; the returned handle keeps the code alive.
std::shared_ptr<void> loadObject(const std::string &object,
                                 std::vector<EntryPoint> &entries,
                                 const std::string &prefix = "_kiln_");

} // namespace kiln

#endif // KILN_PIPELINE_OBJECTCODE_H
