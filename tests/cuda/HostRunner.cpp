// The CPU stand-in for a CUDA executor: compile, load, walk the launches.
#include "HostRunner.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>

namespace kiln::test {

HostRunner::HostRunner(
    cuda::CudaProgram program,
    const std::vector<std::pair<std::string, Tensor>> &params)
    : program_(std::move(program)) {
  for (const auto &[name, value] : params)
    persistent_[name] = value.clone();
  // The source, then the table of its kernels the shim looks names up in.
  std::set<std::string> kernels;
  for (const cuda::CudaEntry &entry : program_.entries)
    for (const cuda::KernelLaunch &launch : entry.launches)
      kernels.insert(launch.kernel);
  std::string source = folder_.file("kernels.cpp");
  {
    std::ofstream out(source);
    out << program_.source << "\nKILN_SHIM_KERNELS_BEGIN\n";
    for (const std::string &kernel : kernels)
      out << "KILN_SHIM_KERNEL(" << kernel << ")\n";
    out << "KILN_SHIM_KERNELS_END\n";
  }
  std::string library = folder_.file("kernels.so");
  std::string command = std::string(KILN_HOST_CXX) +
                        " -std=c++17 -O1 -fPIC -shared -w -include " +
                        KILN_CUDA_SHIM + " -x c++ " + source + " -o " +
                        library + " 2> " + folder_.file("compile.log");
  if (std::system(command.c_str()) != 0) {
    std::ifstream log(folder_.file("compile.log"));
    std::string text((std::istreambuf_iterator<char>(log)), {});
    throw std::runtime_error("the generated CUDA source does not compile as "
                             "host C++:\n" +
                             text.substr(0, 4000));
  }
  library_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library_)
    throw std::runtime_error(std::string("dlopen: ") + dlerror());
  launch_ =
      reinterpret_cast<decltype(launch_)>(dlsym(library_, "kiln_shim_launch"));
  if (!launch_)
    throw std::runtime_error("the kernel library has no kiln_shim_launch");
}

HostRunner::~HostRunner() {
  if (library_)
    dlclose(library_);
}

const Tensor &HostRunner::named(const std::string &name) const {
  auto it = persistent_.find(name);
  if (it == persistent_.end())
    throw std::runtime_error("no parameter or state '" + name + "'");
  return it->second;
}

std::vector<Tensor> HostRunner::run(const std::string &name,
                                    const std::vector<Tensor> &inputs) {
  const cuda::CudaEntry &entry = program_.entry(name);
  std::vector<Tensor> buffers, outputs;
  size_t nextInput = 0;
  for (const ArgSpec &arg : entry.args) {
    Tensor buffer;
    switch (arg.role) {
    case ArgRole::Param:
    case ArgRole::State:
    case ArgRole::Step: {
      auto [it, fresh] = persistent_.try_emplace(arg.name);
      if (fresh)
        it->second = Tensor::zeros(arg.shape, arg.dtype);
      buffer = it->second;
      break;
    }
    case ArgRole::Input:
      if (nextInput >= inputs.size())
        throw std::runtime_error("too few inputs for '" + name + "'");
      buffer = inputs[nextInput++].clone();
      break;
    case ArgRole::Output:
      // NaN, so an element no kernel writes cannot pass for a result.
      buffer = arg.dtype == DType::I64
                   ? Tensor::zeros(arg.shape, arg.dtype)
                   : Tensor::full(arg.shape, NAN, arg.dtype);
      outputs.push_back(buffer);
      break;
    case ArgRole::Arena:
      throw std::runtime_error("a CUDA plan lists no arena argument");
    }
    buffers.push_back(buffer);
  }
  // The arena starts filled with NaN too, and 256-byte aligned.
  size_t words = static_cast<size_t>(entry.arenaBytes) / 4 + 64;
  std::vector<float> arenaStorage(words, NAN);
  auto base = reinterpret_cast<uintptr_t>(arenaStorage.data());
  char *arena =
      reinterpret_cast<char *>((base + cuda::kCudaArenaAlignment - 1) &
                               ~uintptr_t(cuda::kCudaArenaAlignment - 1));

  for (const cuda::KernelLaunch &launch : entry.launches) {
    std::vector<void *> pointers;
    for (const cuda::KernelArg &arg : launch.args)
      pointers.push_back(arg.kind == cuda::KernelArg::Kind::Arena
                             ? arena + arg.value
                             : buffers.at(arg.value).rawData());
    std::vector<void *> params;
    for (void *&pointer : pointers)
      params.push_back(&pointer);
    unsigned grid[] = {launch.grid.x, launch.grid.y, launch.grid.z};
    unsigned block[] = {launch.block.x, launch.block.y, launch.block.z};
    if (launch_(launch.kernel.c_str(), grid, block, params.data()) != 0)
      throw std::runtime_error("no kernel '" + launch.kernel + "'");
  }
  for (const ArgSpec &arg : entry.args) {
    if (arg.role == ArgRole::Step && name == "train_step")
      persistent_[arg.name].data<int64_t>()[0] += 1;
  }
  return outputs;
}

} // namespace kiln::test
