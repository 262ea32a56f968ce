// kiln compile --aot: an object file, a C header and a weights file that a C
// program links with libkiln_runtime, with no compiler at run time.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace kiln::cli {

namespace {
const char *roleName(ArgRole role) {
  switch (role) {
  case ArgRole::Param:
    return "parameter";
  case ArgRole::State:
    return "optimizer state";
  case ArgRole::Step:
    return "step counter";
  case ArgRole::Input:
    return "input";
  case ArgRole::Output:
    return "output";
  case ArgRole::Arena:
    return "arena";
  }
  return "";
}

int64_t bytesOf(const ArgSpec &arg) {
  if (arg.role == ArgRole::Arena)
    return arg.shape[0];
  int64_t bytes = static_cast<int64_t>(dtypeSize(arg.dtype));
  for (int64_t size : arg.shape)
    bytes *= size;
  return bytes;
}

// The C call that runs an entry point, what it does, and what its outputs
// hold.
struct EntryUse {
  const char *call, *note;
  std::vector<const char *> outputs;
};

EntryUse entryUse(const std::string &name) {
  if (name == "predict")
    return {"kiln_model_predict(m, images, logits)", "", {"logits"}};
  if (name == "eval_step")
    return {"kiln_model_eval_step(m, images, labels, &loss, &correct, logits)",
            "mean loss, correct predictions and logits; changes nothing",
            {"loss", "logits"}};
  if (name == "train_step")
    return {"kiln_model_train_step(m, images, labels, &loss)",
            "one optimizer step; the loss is the one before it",
            {"loss"}};
  return {"", "", {}};
}

// The generated header: what each entry point takes, in bytes and shapes,
// and a create function binding the object's symbols to the runtime.
// `cudaArchs` lists the images of the embedded CUDA bundle ("" for none).
std::string header(const std::string &prefix, const std::string &model,
                   const std::vector<EntryPoint> &entries,
                   const std::string &cudaArchs) {
  std::ostringstream h;
  std::string guard = prefix;
  for (char &c : guard)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  h << "/* " << prefix << ".h: model '" << model
    << "' compiled ahead of time by kiln " << version() << ".\n"
    << " * Link " << prefix << ".o with libkiln_runtime (-lkiln_runtime); "
    << "load weights from " << prefix << ".safetensors.\n *\n"
    << " *   kiln_model *m;\n"
    << " *   if (" << prefix
    << "_create(&m) != KILN_OK) { puts(kiln_last_error()); ... }\n"
    << " *   kiln_model_load_weights(m, \"" << prefix << ".safetensors\");\n"
    << " *   kiln_model_predict(m, images, logits);\n"
    << " *   kiln_model_eval_step(m, images, labels, &loss, &correct, NULL);\n"
    << " *\n";
  if (!cudaArchs.empty())
    h << " * On a GPU: " << prefix << "_create_cuda(&m, 0) instead of "
      << prefix << "_create; the\n"
      << " * object embeds the CUDA kernels for " << cudaArchs
      << " (PTX: the driver\n"
      << " * compiles it for newer GPUs). It needs libcuda.so.1, not NVRTC.\n"
      << " *\n";
  h << " * Entry points (the runtime allocates parameters, optimizer state "
       "and\n"
    << " * the arena; callers pass inputs and outputs):\n";
  for (const EntryPoint &entry : entries) {
    std::map<ArgRole, int64_t> total;
    for (const ArgSpec &arg : entry.args)
      total[arg.role] += bytesOf(arg);
    EntryUse use = entryUse(entry.name);
    h << " *\n *   " << prefix << "_" << entry.name << "\n";
    if (*use.call)
      h << " *     called by " << use.call << "\n";
    if (*use.note)
      h << " *     " << use.note << "\n";
    size_t output = 0;
    for (const ArgSpec &arg : entry.args) {
      if (arg.role != ArgRole::Input && arg.role != ArgRole::Output)
        continue;
      std::string name = arg.name;
      if (arg.role == ArgRole::Output && output < use.outputs.size())
        name = use.outputs[output++];
      h << " *     " << roleName(arg.role) << " " << name << ": "
        << dtypeName(arg.dtype) << " " << shapeString(arg.shape);
      if (arg.bound > 0)
        h << ", class labels in [0, " << arg.bound << ")";
      h << "\n";
    }
    h << " *     parameters " << total[ArgRole::Param]
      << " bytes, optimizer state "
      << total[ArgRole::State] + total[ArgRole::Step] << " bytes, arena "
      << total[ArgRole::Arena] << " bytes\n";
  }
  h << " */\n#ifndef " << guard << "_H\n#define " << guard << "_H\n\n"
    << "#include <kiln/kiln_runtime.h>\n\n#ifdef __cplusplus\n"
    << "extern \"C\" {\n#endif\n\n"
    << "extern const char " << prefix << "_entries[];\n";
  if (!cudaArchs.empty())
    h << "/* This object embeds CUDA kernels: " << prefix
      << "_create_cuda exists. */\n#define " << guard << "_CUDA 1\n";
  if (!cudaArchs.empty())
    h << "extern const unsigned char " << prefix << "_cuda[];\n"
      << "extern const int64_t " << prefix << "_cuda_size;\n";
  for (const EntryPoint &entry : entries)
    h << "void " << prefix << "_" << entry.name << "(void **args);\n";
  std::string entryNames, entryFunctions;
  for (size_t i = 0; i < entries.size(); ++i) {
    entryNames += (i ? ", \"" : "\"") + entries[i].name + "\"";
    entryFunctions += (i ? ", " : "") + prefix + "_" + entries[i].name;
  }
  h << "\n/* Binds this object's entry points to a new model. */\n"
    << "static inline kiln_status " << prefix
    << "_create(kiln_model **out) {\n  static const char *const names[] = {"
    << entryNames << "};\n  static const kiln_entry_fn functions[] = {"
    << entryFunctions << "};\n  return kiln_model_create(" << prefix
    << "_entries, names, "
    << "functions, " << entries.size() << ", out);\n}\n\n";
  if (!cudaArchs.empty())
    h << "/* Binds them to a new model whose entry points run on CUDA device\n"
      << " * `device` (0: the first GPU). */\n"
      << "static inline kiln_status " << prefix
      << "_create_cuda(kiln_model **out, int device) {\n"
      << "  static const char *const names[] = {" << entryNames << "};\n"
      << "  static const kiln_entry_fn functions[] = {" << entryFunctions
      << "};\n  return kiln_model_create_cuda(" << prefix
      << "_entries, names, functions, " << entries.size() << ", " << prefix
      << "_cuda,\n"
      << std::string(32, ' ') << prefix << "_cuda_size, device, out);\n}\n\n";
  h << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return h.str();
}
} // namespace

int runAot(const CompileArgs &a) {
  if (a.outputDir.empty())
    throw Error("kiln compile --aot needs -o DIR, the folder to write the "
                "object file, header and weights into");
  auto model = models::makeModel(a.model, a.width);
  if (!a.weightsPath.empty())
    loadParameters(a.weightsPath, model->namedParameters());
  CompileSpec spec = compileSpecOf(a);
  spec.predictBatch = a.batchSize;
  spec.evalBatch = a.batchSize;
  std::string prefix = a.prefix.empty() ? a.model : a.prefix;
  bool identifier = !prefix.empty() &&
                    !std::isdigit(static_cast<unsigned char>(prefix[0]));
  for (char &c : prefix) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_')
      continue;
    // A model's name ("lenet-cifar") becomes one; a --prefix must be one.
    identifier = identifier && a.prefix.empty();
    c = '_';
  }
  if (!identifier)
    throw Error("--prefix '" + a.prefix +
                "' is not a C identifier; use letters, digits and '_', not "
                "starting with a digit");
  std::vector<std::pair<std::string, std::string>> data;
  std::string cudaArchs;
  if (a.target == "cuda") {
    std::vector<std::string> archs;
    std::stringstream list(a.arch.empty() ? "sm_80,sm_90" : a.arch);
    for (std::string arch; std::getline(list, arch, ',');)
      archs.push_back(arch);
    cuda::CudaBundle cudaBundle = compileCudaBundle(*model, spec, archs);
    for (const cuda::BundleImage &image : cudaBundle.images)
      cudaArchs += (cudaArchs.empty() ? "" : ", ") + image.arch;
    data.emplace_back("cuda", cuda::formatCudaBundle(cudaBundle));
  }
  AotBundle bundle = compileAot(*model, spec, prefix + "_", a.cpu, data);
  std::filesystem::create_directories(a.outputDir);
  std::string base = a.outputDir + "/" + prefix;
  writeFileAtomically(base + ".o",
                      [&](std::ostream &out) { out << bundle.object; });
  writeFileAtomically(base + ".h", [&](std::ostream &out) {
    out << header(prefix, a.model, bundle.entries, cudaArchs);
  });
  saveStateDict(base + ".safetensors", model->namedParameters(),
                {{"model", a.model}, {"kiln_version", version()}});
  std::printf("wrote %s.o (%zu bytes%s%s), %s.h and %s.safetensors\n",
              base.c_str(), bundle.object.size(),
              cudaArchs.empty() ? "" : "; CUDA kernels for ", cudaArchs.c_str(),
              base.c_str(), base.c_str());
  return 0;
}

} // namespace kiln::cli
