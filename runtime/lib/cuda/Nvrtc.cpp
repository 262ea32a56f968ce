// NVRTC opened at run time, compiling kiln's CUDA sources to cubin or PTX,
// with ptxas' resource report and an on-disk cache of the images.
#include "kiln/runtime/Nvrtc.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/util/AtomicFile.h"
#include "kiln/runtime/util/CacheDirectory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifdef KILN_HAVE_CUDA
#include <dlfcn.h>
#include <nvrtc.h>
#endif

namespace kiln::cuda {

namespace {

// The number after `label` in `line` ("Used 32 registers": label "Used ").
int64_t numberAfter(const std::string &line, const std::string &label) {
  size_t at = line.find(label);
  return at == std::string::npos
             ? 0
             : std::strtoll(line.c_str() + at + label.size(), nullptr, 10);
}

// The number before `label` ("0 bytes spill stores": label " bytes spill
// stores").
int64_t numberBefore(const std::string &line, const std::string &label) {
  size_t at = line.find(label);
  if (at == std::string::npos)
    return 0;
  size_t start = at;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(line[start - 1])))
    --start;
  return std::strtoll(line.c_str() + start, nullptr, 10);
}

} // namespace

std::vector<KernelResources> parsePtxasReport(const std::string &log) {
  std::vector<KernelResources> kernels;
  std::istringstream in(log);
  std::string line;
  const std::string entry = "Compiling entry function '";
  while (std::getline(in, line)) {
    if (size_t at = line.find(entry); at != std::string::npos) {
      size_t begin = at + entry.size(), end = line.find('\'', begin);
      kernels.push_back({line.substr(begin, end - begin)});
      continue;
    }
    if (kernels.empty())
      continue;
    KernelResources &k = kernels.back();
    if (line.find("bytes stack frame") != std::string::npos) {
      k.stackBytes = numberBefore(line, " bytes stack frame");
      k.spillStoreBytes = numberBefore(line, " bytes spill stores");
      k.spillLoadBytes = numberBefore(line, " bytes spill loads");
    } else if (line.find("Used ") != std::string::npos &&
               line.find(" registers") != std::string::npos) {
      k.registers = static_cast<int>(numberAfter(line, "Used "));
      k.sharedBytes = numberBefore(line, " bytes smem");
    }
  }
  return kernels;
}

#ifndef KILN_HAVE_CUDA

bool builtWithCuda() { return false; }

const NvrtcInfo &nvrtcInfo() {
  static const NvrtcInfo info{
      false, "", 0, 0, {}, "this kiln was built without CUDA support"};
  return info;
}

std::vector<std::string> nvrtcOptions() { return {}; }

CompiledImage compileCuda(const std::string &, const std::string &, bool) {
  throw Error("this kiln was built without CUDA support (no CUDA toolkit was "
              "found when it was configured, or -DKILN_CUDA=OFF); install the "
              "toolkit and configure again, with -DCUDAToolkit_ROOT=DIR if it "
              "is not in /usr/local/cuda");
}

#else

bool builtWithCuda() { return true; }

namespace {

struct Nvrtc {
  decltype(&nvrtcVersion) version = nullptr;
  decltype(&nvrtcGetNumSupportedArchs) numArchs = nullptr;
  decltype(&nvrtcGetSupportedArchs) archs = nullptr;
  decltype(&nvrtcGetErrorString) errorString = nullptr;
  decltype(&nvrtcCreateProgram) create = nullptr;
  decltype(&nvrtcDestroyProgram) destroy = nullptr;
  decltype(&nvrtcCompileProgram) compile = nullptr;
  decltype(&nvrtcGetProgramLogSize) logSize = nullptr;
  decltype(&nvrtcGetProgramLog) log = nullptr;
  decltype(&nvrtcGetPTXSize) ptxSize = nullptr;
  decltype(&nvrtcGetPTX) ptx = nullptr;
  decltype(&nvrtcGetCUBINSize) cubinSize = nullptr;
  decltype(&nvrtcGetCUBIN) cubin = nullptr;
  NvrtcInfo info;
};

// Libraries to try, most specific first.
std::vector<std::string> candidates() {
  std::vector<std::string> paths;
  if (const char *path = std::getenv("KILN_NVRTC"); path && *path)
    paths.push_back(path);
  std::vector<std::string> dirs = {KILN_CUDA_LIBRARY_DIR};
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char *dir = std::getenv(variable); dir && *dir)
      dirs.push_back(std::string(dir) + "/lib64");
  }
  const char *names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                         "libnvrtc.so.11.2"};
  for (const std::string &dir : dirs) {
    for (const char *name : names)
      paths.push_back(dir + "/" + name);
  }
  for (const char *name : names)
    paths.push_back(name); // the loader's search path
  return paths;
}

Nvrtc openNvrtc() {
  Nvrtc n;
  void *library = nullptr;
  for (const std::string &path : candidates()) {
    if ((library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))) {
      n.info.path = path;
      break;
    }
  }
  if (!library) {
    n.info.error = "no NVRTC library (libnvrtc.so) was found next to the "
                   "CUDA toolkit (" KILN_CUDA_LIBRARY_DIR
                   ") or on the library path; install the CUDA toolkit or "
                   "point KILN_NVRTC at libnvrtc.so";
    return n;
  }
  bool complete = true;
  auto load = [&](auto &function, const char *name) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(
        dlsym(library, name));
    complete &= function != nullptr;
  };
  load(n.version, "nvrtcVersion");
  load(n.numArchs, "nvrtcGetNumSupportedArchs");
  load(n.archs, "nvrtcGetSupportedArchs");
  load(n.errorString, "nvrtcGetErrorString");
  load(n.create, "nvrtcCreateProgram");
  load(n.destroy, "nvrtcDestroyProgram");
  load(n.compile, "nvrtcCompileProgram");
  load(n.logSize, "nvrtcGetProgramLogSize");
  load(n.log, "nvrtcGetProgramLog");
  load(n.ptxSize, "nvrtcGetPTXSize");
  load(n.ptx, "nvrtcGetPTX");
  load(n.cubinSize, "nvrtcGetCUBINSize");
  load(n.cubin, "nvrtcGetCUBIN");
  if (!complete) {
    n.info.error = n.info.path + " lacks NVRTC functions kiln needs (CUDA "
                                 "11.2 or newer); install a newer toolkit";
    return n;
  }
  n.version(&n.info.major, &n.info.minor);
  int count = 0;
  n.numArchs(&count);
  n.info.archs.resize(static_cast<size_t>(std::max(count, 0)));
  n.archs(n.info.archs.data());
  n.info.available = true;
  return n;
}

const Nvrtc &nvrtc() {
  static const Nvrtc n = openNvrtc(); // dlopen'ed once, never closed
  return n;
}

uint64_t fnv1a(const std::string &text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text)
    hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// "sm_90a" -> 90; throws on anything that is not an sm_ architecture.
int computeCapability(const std::string &arch) {
  size_t end = 3;
  while (end < arch.size() &&
         std::isdigit(static_cast<unsigned char>(arch[end])))
    ++end;
  if (arch.rfind("sm_", 0) != 0 || end == 3 ||
      (end != arch.size() && arch.substr(end) != "a" &&
       arch.substr(end) != "f"))
    throw Error("'" + arch +
                "' is not a CUDA architecture; write it as "
                "sm_80, sm_90 or sm_90a");
  return std::stoi(arch.substr(3, end - 3));
}

// The kernel around line `line` of `source` (1-based), for error messages.
std::string kernelAtLine(const std::string &source, int line) {
  std::istringstream in(source);
  std::string text, kernel = "the helpers at the top of the source";
  const std::string marker = "__global__ void ";
  for (int n = 1; n <= line && std::getline(in, text); ++n) {
    size_t at = text.find(marker);
    if (at == std::string::npos)
      continue;
    std::string rest = text.substr(at + marker.size());
    if (rest.rfind("__launch_bounds__(", 0) == 0)
      rest = rest.substr(rest.find(") ") + 2);
    kernel = "kernel '" + rest.substr(0, rest.find('(')) + "'";
  }
  return kernel;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

const NvrtcInfo &nvrtcInfo() { return nvrtc().info; }

std::vector<std::string> nvrtcOptions() {
  return {
      "--std=c++17",        // the generated kernels' dialect
      "--ptxas-options=-v", // registers and spills per kernel, in the log
      "-lineinfo",          // source lines for profilers
  };
}

CompiledImage compileCuda(const std::string &source, const std::string &arch,
                          bool ptx) {
  const Nvrtc &n = nvrtc();
  if (!n.info.available)
    throw Error("cannot compile CUDA code: " + n.info.error);
  int capability = computeCapability(arch);
  int oldest = n.info.archs.empty() ? 0 : n.info.archs.front();
  int newest = n.info.archs.empty() ? 0 : n.info.archs.back();
  if (capability < oldest)
    throw Error("NVRTC " + std::to_string(n.info.major) + "." +
                std::to_string(n.info.minor) + " cannot compile for " + arch +
                ": it supports sm_" + std::to_string(oldest) + " to sm_" +
                std::to_string(newest) +
                "; use a newer GPU or an older CUDA toolkit");
  CompiledImage result;
  std::string suffix = arch.substr(3);
  if (ptx || capability > newest) {
    // PTX for a GPU newer than this NVRTC: the driver compiles it.
    result.kind = ImageKind::Ptx;
    result.arch =
        "compute_" + (capability > newest ? std::to_string(newest) : suffix);
  } else {
    result.arch = "sm_" + suffix;
  }
  std::vector<std::string> options = nvrtcOptions();
  options.push_back("-arch=" + result.arch);

  std::string key = source + "\n" + result.arch + "\n" +
                    std::to_string(n.info.major) + "." +
                    std::to_string(n.info.minor);
  for (const std::string &option : options)
    key += "\n" + option;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a(key)));
  std::string dir = cacheDirectory();
  std::string stem = dir.empty() ? "" : dir + "/cuda/" + hex;
  std::string extension = result.kind == ImageKind::Ptx ? ".ptx" : ".cubin";
  if (!stem.empty() && std::filesystem::exists(stem + extension)) {
    result.image = readFile(stem + extension);
    result.log = readFile(stem + ".log");
    if (!result.image.empty()) {
      result.fromCache = true;
      result.resources = parsePtxasReport(result.log);
      return result;
    }
  }

  nvrtcProgram program = nullptr;
  if (nvrtcResult status =
          n.create(&program, source.c_str(), "kiln.cu", 0, nullptr, nullptr);
      status != NVRTC_SUCCESS)
    throw Error(std::string("NVRTC could not take the CUDA source: ") +
                n.errorString(status));
  std::vector<const char *> raw;
  for (const std::string &option : options)
    raw.push_back(option.c_str());
  nvrtcResult status =
      n.compile(program, static_cast<int>(raw.size()), raw.data());
  size_t logSize = 0;
  n.logSize(program, &logSize);
  result.log.resize(logSize);
  n.log(program, result.log.data());
  while (!result.log.empty() && result.log.back() == '\0')
    result.log.pop_back();
  if (status != NVRTC_SUCCESS) {
    n.destroy(&program);
    // "kiln.cu(57): error: ..." names the line of the first error.
    size_t at = result.log.find("kiln.cu(");
    int line =
        at == std::string::npos ? 0 : std::atoi(result.log.c_str() + at + 8);
    throw Error("NVRTC " + std::to_string(n.info.major) + "." +
                std::to_string(n.info.minor) + " could not compile " +
                kernelAtLine(source, line) + " for " + result.arch + ":\n" +
                result.log +
                "this is a bug in kiln's CUDA code generation; please report "
                "it with the model (kiln compile --target cuda --emit cuda "
                "prints the source)");
  }
  size_t size = 0;
  if (result.kind == ImageKind::Ptx) {
    n.ptxSize(program, &size);
    result.image.resize(size);
    n.ptx(program, result.image.data());
    while (!result.image.empty() && result.image.back() == '\0')
      result.image.pop_back();
  } else {
    n.cubinSize(program, &size);
    result.image.resize(size);
    n.cubin(program, result.image.data());
  }
  n.destroy(&program);
  result.resources = parsePtxasReport(result.log);
  if (!stem.empty()) {
    try {
      std::filesystem::create_directories(dir + "/cuda");
      // The image goes last: a key with an image is complete. The source is
      // kept for whoever wants to read what was compiled.
      writeFileAtomically(stem + ".cu",
                          [&](std::ostream &out) { out << source; });
      writeFileAtomically(stem + ".log",
                          [&](std::ostream &out) { out << result.log; });
      writeFileAtomically(stem + extension,
                          [&](std::ostream &out) { out << result.image; });
    } catch (const std::exception &) {
      // A read-only or full disk only costs the next compile its time.
    }
  }
  return result;
}

#endif // KILN_HAVE_CUDA

} // namespace kiln::cuda
