// The CUDA plan's text form: what the compile cache and AOT bundles store.
#include "kiln/runtime/CudaProgram.h"

#include "kiln/runtime/Error.h"

#include <sstream>

namespace kiln::cuda {

namespace {
constexpr const char *kFormat = "kiln-cuda-program 1";

Error malformed(const std::string &what) {
  return Error("not a kiln CUDA plan: " + what +
               "; regenerate it with this version of kiln");
}

void writeArg(std::ostream &out, const ArgSpec &arg) {
  out << "arg " << static_cast<int>(arg.role) << " "
      << static_cast<int>(arg.dtype) << " " << arg.bound << " "
      << arg.shape.size();
  for (int64_t size : arg.shape)
    out << " " << size;
  out << " " << arg.name << "\n";
}

ArgSpec readArg(std::istream &in, const std::string &entry) {
  std::string word;
  int role = 0, dtype = 0;
  size_t rank = 0;
  ArgSpec arg;
  if (!(in >> word >> role >> dtype >> arg.bound >> rank) || word != "arg" ||
      role < 0 || role > static_cast<int>(ArgRole::Output) || dtype < 0 ||
      dtype > static_cast<int>(DType::U8) || rank > 8)
    throw malformed("bad argument of entry '" + entry + "'");
  arg.role = static_cast<ArgRole>(role);
  arg.dtype = static_cast<DType>(dtype);
  arg.shape.resize(rank);
  for (int64_t &size : arg.shape) {
    if (!(in >> size) || size < 0 || size > (int64_t{1} << 40))
      throw malformed("bad shape in entry '" + entry + "'");
  }
  if (!(in >> arg.name))
    throw malformed("an argument of entry '" + entry + "' has no name");
  return arg;
}

KernelLaunch readLaunch(std::istream &in, const CudaEntry &entry,
                        const std::string &source) {
  std::string word;
  KernelLaunch launch;
  size_t count = 0;
  Dim3 &g = launch.grid, &b = launch.block;
  if (!(in >> word >> launch.kernel >> g.x >> g.y >> g.z >> b.x >> b.y >> b.z >>
        launch.sharedBytes >> count) ||
      word != "launch" || count > 256)
    throw malformed("bad launch in entry '" + entry.name + "'");
  const std::string where =
      "launch of '" + launch.kernel + "' in entry '" + entry.name + "'";
  if (source.find(" " + launch.kernel + "(") == std::string::npos)
    throw malformed(where + ": the source has no such kernel");
  if (g.count() == 0 || b.count() == 0 || b.count() > 1024)
    throw malformed(where + ": empty grid or block, or over 1024 threads");
  for (size_t i = 0; i < count; ++i) {
    std::string arg;
    if (!(in >> arg) || arg.size() < 2 || (arg[0] != 'a' && arg[0] != 'p'))
      throw malformed(where + ": bad kernel argument");
    int64_t value = 0;
    try {
      size_t used = 0;
      value = std::stoll(arg.substr(1), &used);
      if (used != arg.size() - 1)
        throw std::invalid_argument(arg);
    } catch (const std::exception &) {
      throw malformed(where + ": bad kernel argument '" + arg + "'");
    }
    if (arg[0] == 'a') {
      if (value < 0 || value >= entry.arenaBytes ||
          value % kCudaArenaAlignment != 0)
        throw malformed(where + ": arena offset " + std::to_string(value) +
                        " outside the arena or unaligned");
      launch.args.push_back(KernelArg::arena(value));
    } else {
      if (value < 0 || value >= static_cast<int64_t>(entry.args.size()))
        throw malformed(where + ": no argument #" + std::to_string(value));
      launch.args.push_back(KernelArg::argument(value));
    }
  }
  return launch;
}
} // namespace

const CudaEntry &CudaProgram::entry(const std::string &name) const {
  std::string names;
  for (const CudaEntry &e : entries) {
    if (e.name == name)
      return e;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  throw Error("this CUDA program has no entry point '" + name +
              "' (it has: " + names + "); compile it for that entry");
}

int64_t argumentBytes(const ArgSpec &arg) {
  int64_t bytes = static_cast<int64_t>(dtypeSize(arg.dtype));
  for (int64_t size : arg.shape)
    bytes *= size;
  return bytes;
}

std::string formatCudaProgram(const CudaProgram &program) {
  std::ostringstream out;
  out << kFormat << "\n";
  out << "source " << program.source.size() << "\n" << program.source << "\n";
  for (const CudaEntry &entry : program.entries) {
    out << "entry " << entry.name << " " << entry.args.size() << " "
        << entry.arenaBytes << " " << entry.launches.size() << "\n";
    for (const ArgSpec &arg : entry.args)
      writeArg(out, arg);
    for (const KernelLaunch &launch : entry.launches) {
      const Dim3 &g = launch.grid, &b = launch.block;
      out << "launch " << launch.kernel << " " << g.x << " " << g.y << " "
          << g.z << " " << b.x << " " << b.y << " " << b.z << " "
          << launch.sharedBytes << " " << launch.args.size();
      for (const KernelArg &arg : launch.args)
        out << " " << (arg.kind == KernelArg::Kind::Arena ? 'a' : 'p')
            << arg.value;
      out << "\n";
    }
  }
  return out.str();
}

CudaProgram parseCudaProgram(const std::string &text) {
  std::istringstream in(text);
  std::string line, word;
  if (!std::getline(in, line) || line != kFormat)
    throw malformed("the first line is not '" + std::string(kFormat) + "'");
  CudaProgram program;
  size_t sourceBytes = 0;
  if (!(in >> word >> sourceBytes) || word != "source" || in.get() != '\n')
    throw malformed("bad source line");
  if (sourceBytes > text.size())
    throw malformed("the source is cut short");
  program.source.resize(sourceBytes);
  if (!in.read(program.source.data(),
               static_cast<std::streamsize>(sourceBytes)))
    throw malformed("the source is cut short");
  while (in >> word) {
    CudaEntry entry;
    size_t args = 0, launches = 0;
    if (word != "entry" ||
        !(in >> entry.name >> args >> entry.arenaBytes >> launches) ||
        args > 10000 || launches > 100000 || entry.arenaBytes < 0)
      throw malformed("bad entry line");
    for (size_t i = 0; i < args; ++i)
      entry.args.push_back(readArg(in, entry.name));
    for (size_t i = 0; i < launches; ++i)
      entry.launches.push_back(readLaunch(in, entry, program.source));
    program.entries.push_back(std::move(entry));
  }
  return program;
}

} // namespace kiln::cuda
