// CUDA bundles: a plan and its compiled images as one string, the choice of
// image for a GPU, and attaching the plan to a Program.
#include "kiln/runtime/cuda/Bundle.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/cuda/Driver.h"
#include "kiln/runtime/cuda/Executor.h"

#include <fmt/format.h>

#include <charconv>
#include <memory>

namespace kiln::cuda {

namespace {
constexpr std::string_view kMagic = "kiln-cuda-bundle 1\n";

Error malformed(const std::string &what) {
  return Error("not a kiln CUDA bundle: " + what +
               "; compile the model again with kiln compile --aot --target "
               "cuda");
}

/// Reads "<word> <length>\n<bytes>\n" at `pos`; returns the word's argument
/// (e.g. an image's arch) through `label`.
std::string readChunk(const std::string &bytes, size_t &pos,
                      std::string_view word, std::string *label) {
  size_t end = bytes.find('\n', pos);
  if (end == std::string::npos)
    throw malformed("a line is cut short");
  std::string_view line(bytes.data() + pos, end - pos);
  if (line.substr(0, word.size()) != word || line.size() <= word.size() ||
      line[word.size()] != ' ')
    throw malformed("expected '" + std::string(word) + "' at byte " +
                    std::to_string(pos));
  line.remove_prefix(word.size() + 1);
  if (label) {
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0)
      throw malformed("an image has no architecture");
    *label = std::string(line.substr(0, space));
    line.remove_prefix(space + 1);
  }
  size_t length = 0;
  auto [next, error] =
      std::from_chars(line.data(), line.data() + line.size(), length);
  if (error != std::errc() || next != line.data() + line.size())
    throw malformed("a bad length at byte " + std::to_string(pos));
  pos = end + 1;
  if (length > bytes.size() - pos || bytes.size() - pos - length < 1 ||
      bytes[pos + length] != '\n')
    throw malformed("'" + std::string(word) + "' is cut short");
  std::string chunk = bytes.substr(pos, length);
  pos += length + 1;
  return chunk;
}

/// 90 for "sm_90" or "compute_90"; -1 for anything else.
int capabilityOf(const std::string &arch) {
  size_t underscore = arch.find('_');
  if (underscore == std::string::npos)
    return -1;
  int value = -1;
  const char *first = arch.data() + underscore + 1;
  const char *last = arch.data() + arch.size();
  auto [next, error] = std::from_chars(first, last, value);
  // "sm_90a" names 9.0 too; its cubin needs exactly that GPU.
  if (error != std::errc() ||
      (next != last && !(next + 1 == last && *next == 'a')))
    return -1;
  return value;
}

bool sameArgs(const ArgSpec &a, const ArgSpec &b) {
  return a.role == b.role && a.name == b.name && a.shape == b.shape &&
         a.dtype == b.dtype;
}
} // namespace

std::string formatCudaBundle(const CudaBundle &bundle) {
  std::string plan = formatCudaProgram(bundle.plan);
  std::string out(kMagic);
  out += fmt::format("plan {}\n", plan.size()) + plan + "\n";
  for (const BundleImage &image : bundle.images)
    out += fmt::format("image {} {}\n", image.arch, image.bytes.size()) +
           image.bytes + "\n";
  return out;
}

CudaBundle parseCudaBundle(const std::string &bytes) {
  if (bytes.compare(0, kMagic.size(), kMagic) != 0)
    throw malformed("it does not start with '" +
                    std::string(kMagic.substr(0, kMagic.size() - 1)) + "'");
  size_t pos = kMagic.size();
  CudaBundle bundle;
  bundle.plan = parseCudaProgram(readChunk(bytes, pos, "plan", nullptr));
  while (pos < bytes.size()) {
    BundleImage image;
    image.bytes = readChunk(bytes, pos, "image", &image.arch);
    if (capabilityOf(image.arch) < 0 ||
        (image.arch.rfind("sm_", 0) != 0 && !image.isPtx()))
      throw malformed("unknown architecture '" + image.arch + "'");
    bundle.images.push_back(std::move(image));
  }
  if (bundle.images.empty())
    throw malformed("it holds no compiled kernels");
  return bundle;
}

const BundleImage &selectImage(const CudaBundle &bundle, int major, int minor) {
  const int gpu = major * 10 + minor;
  const BundleImage *cubin = nullptr, *ptx = nullptr;
  std::string archs;
  for (const BundleImage &image : bundle.images) {
    archs += (archs.empty() ? "" : ", ") + image.arch;
    int capability = capabilityOf(image.arch);
    if (capability > gpu)
      continue;
    if (image.isPtx()) {
      if (!ptx || capability > capabilityOf(ptx->arch))
        ptx = &image;
      continue;
    }
    bool exactOnly = image.arch.back() == 'a';
    if (capability / 10 != major || (exactOnly && capability != gpu))
      continue;
    if (!cubin || capability > capabilityOf(cubin->arch))
      cubin = &image;
  }
  if (cubin)
    return *cubin;
  if (ptx)
    return *ptx;
  throw Error(fmt::format(
      "this model's CUDA kernels were compiled for {}, none of which runs on "
      "this GPU (sm_{}{}); compile it again with kiln compile --aot --target "
      "cuda --arch sm_{}{}",
      archs, major, minor, major, minor));
}

void checkPlanFits(const Program &program, const CudaProgram &plan) {
  for (const std::string &name : program.entryNames()) {
    const EntryPoint &entry = program.entry(name);
    const CudaEntry &planned = plan.entry(name);
    // The CPU entry has the arena as an argument; the plan does not.
    std::vector<const ArgSpec *> cpuArgs;
    for (const ArgSpec &arg : entry.args) {
      if (arg.role != ArgRole::Arena)
        cpuArgs.push_back(&arg);
    }
    bool same = cpuArgs.size() == planned.args.size();
    for (size_t i = 0; same && i < cpuArgs.size(); ++i)
      same = sameArgs(*cpuArgs[i], planned.args[i]);
    if (!same)
      throw Error("the CUDA plan's entry '" + name +
                  "' takes other arguments than the compiled CPU code; the "
                  "plan is damaged or comes from another compile: compile "
                  "it again");
  }
}

void attachCudaBundle(Program &program, const CudaBundle &bundle, int device) {
  checkPlanFits(program, bundle.plan);
  DeviceInfo info = Driver::get().device(device);
  const BundleImage &image = selectImage(bundle, info.major, info.minor);
  // The driver reads PTX up to its NUL; std::string keeps one after it.
  program.attachDevice(std::make_shared<Executor>(
      bundle.plan, image.bytes, info.index, program.namedParameters()));
}

} // namespace kiln::cuda
