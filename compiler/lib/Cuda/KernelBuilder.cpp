// Building one CUDA kernel: parameters per buffer, body text, geometry; and
// the helpers every generated source starts with.
#include "CudaEmitter.h"

#include "kiln/runtime/Error.h"

#include <cmath>

using namespace mlir;

namespace kiln::cudagen {

const char *const kPrelude =
    R"(// Non-finite constants, spelled so that every compiler reads them alike.
#define KILN_INF_F __int_as_float(0x7f800000)
#define KILN_INF_D __longlong_as_double(0x7ff0000000000000LL)

// Reductions over a warp and over a block. blockDim.x is a multiple of 32
// and every thread of the block calls them; the result is in thread 0.
template <typename T> __device__ __forceinline__ T kiln_warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

template <typename T> __device__ __forceinline__ T kiln_warp_max(T v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const T other = __shfl_down_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

template <typename T> __device__ T kiln_block_sum(T v) {
  __shared__ T partial[32];
  v = kiln_warp_sum(v);
  if (threadIdx.x % 32 == 0)
    partial[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : T(0);
  v = kiln_warp_sum(v);
  __syncthreads(); // partial is free for the next call
  return v;
}

template <typename T> __device__ T kiln_block_max(T v, T lowest) {
  __shared__ T partial[32];
  v = kiln_warp_max(v);
  if (threadIdx.x % 32 == 0)
    partial[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : lowest;
  v = kiln_warp_max(v);
  __syncthreads();
  return v;
}
)";

std::string cType(Type type) {
  if (auto shaped = dyn_cast<ShapedType>(type))
    type = shaped.getElementType();
  if (type.isF32())
    return "float";
  if (type.isF64())
    return "double";
  // i8 and i32 hold conv2d_relu_pool's window positions, -1 for none.
  if (type.isInteger(8))
    return "signed char";
  if (type.isInteger(32))
    return "int";
  return "long long";
}

std::string literal(double value, Type element) {
  if (auto shaped = dyn_cast<ShapedType>(element))
    element = shaped.getElementType();
  bool single = element.isF32();
  if (std::isinf(value))
    return std::string(value < 0 ? "-" : "") +
           (single ? "KILN_INF_F" : "KILN_INF_D");
  if (std::isnan(value))
    return single ? "(KILN_INF_F - KILN_INF_F)" : "(KILN_INF_D - KILN_INF_D)";
  // Enough digits to read back the same value; always a floating literal.
  std::string text =
      single ? fmt::format("{:.9g}", value) : fmt::format("{:.17g}", value);
  if (text.find_first_of(".e") == std::string::npos)
    text += ".0";
  return single ? text + "f" : text;
}

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<ShapedType>(value.getType()).getShape();
}

int64_t numElements(Value value) {
  return cast<ShapedType>(value.getType()).getNumElements();
}

int64_t elementBlockSize(int64_t count) {
  return std::min<int64_t>(256, (count + 31) / 32 * 32);
}

int64_t reductionBlockSize(int64_t length) {
  int64_t threads = 32;
  while (threads < 256 && threads * 4 < length)
    threads *= 2;
  return threads;
}

static std::string identifier(const std::string &hint) {
  std::string name;
  for (char c : hint)
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    name = "t" + name;
  return name;
}

KernelBuilder::Param &KernelBuilder::bind(Slot slot, const std::string &type,
                                          const std::string &hint) {
  assert(slot.kind != Slot::Kind::None && "binding a value with no buffer");
  for (Param &param : params_) {
    if (param.slot == slot)
      return param;
  }
  std::string name = identifier(hint);
  for (int suffix = 2;; ++suffix) {
    bool taken = false;
    for (const Param &param : params_)
      taken |= param.name == name;
    if (!taken)
      break;
    name = identifier(hint) + "_" + std::to_string(suffix);
  }
  params_.push_back({name, type, slot});
  return params_.back();
}

void KernelBuilder::use(
    std::initializer_list<std::pair<Value, const char *>> values) {
  for (auto [value, hint] : values) {
    if (value && !context_.splat(value))
      in(value, hint);
  }
}

std::string KernelBuilder::in(Value value, const std::string &hint) {
  return bind(context_.slot(value), cType(value.getType()), hint).name;
}

std::string KernelBuilder::out(Value value, const std::string &hint) {
  Param &param = bind(context_.slot(value), cType(value.getType()), hint);
  param.written = true;
  return param.name;
}

std::string KernelBuilder::inSlot(Slot slot, const std::string &type,
                                  const std::string &hint) {
  return bind(slot, type, hint).name;
}

std::string KernelBuilder::outSlot(Slot slot, const std::string &type,
                                   const std::string &hint) {
  Param &param = bind(slot, type, hint);
  param.written = true;
  return param.name;
}

std::string KernelBuilder::at(Value value, const std::string &hint,
                              const std::string &index) {
  if (std::optional<double> splat = context_.splat(value))
    return literal(*splat, value.getType());
  return in(value, hint) + "[" + index + "]";
}

bool KernelBuilder::written(Value value) const {
  return context_.slot(value).kind != Slot::Kind::None;
}

bool KernelBuilder::sameBuffer(Value a, Value b) const {
  return context_.slot(a) == context_.slot(b);
}

void KernelBuilder::coordinates(const std::string &index,
                                const std::vector<std::string> &names,
                                ArrayRef<int64_t> shape) {
  assert(names.size() == shape.size() && "one name per dimension");
  SmallVector<int64_t> strides = stridesOf(shape);
  std::string text;
  for (size_t d = 0; d < shape.size(); ++d) {
    std::string expr = index;
    if (shape[d] == 1) {
      text += (d ? ", " : "") + names[d] + " = 0";
      continue;
    }
    if (strides[d] != 1)
      expr += " / " + std::to_string(strides[d]);
    if (d > 0)
      expr += " % " + std::to_string(shape[d]);
    text += (d ? ", " : "") + names[d] + " = " + expr;
  }
  line("const int {};", text);
}

static void checkIndexable(int64_t count) {
  if (count >= (int64_t{1} << 31))
    throw Error("a tensor of " + std::to_string(count) +
                " elements is too large for kiln's CUDA kernels (32-bit "
                "indices); use a smaller batch");
}

void KernelBuilder::threadPerElement(int64_t count, const char *index) {
  checkIndexable(count);
  int64_t threads = elementBlockSize(count);
  block_ = {static_cast<uint32_t>(threads), 1, 1};
  grid_ = {static_cast<uint32_t>((count + threads - 1) / threads), 1, 1};
  line("const int {} = blockIdx.x * blockDim.x + threadIdx.x;", index);
  line("if ({} >= {})", index, count);
  line("  return;");
}

void KernelBuilder::blockPerGroup(int64_t groups, int64_t length) {
  checkIndexable(groups * length);
  block_ = {static_cast<uint32_t>(reductionBlockSize(length)), 1, 1};
  grid_ = {static_cast<uint32_t>(groups), 1, 1};
  line("const int group = blockIdx.x;");
}

std::string KernelBuilder::render(const std::string &name) const {
  std::string text = prologue_;
  for (const std::string &comment : comments_)
    text += "// " + comment + "\n";
  std::vector<std::string> params;
  size_t width = 0;
  for (const Param &param : params_) {
    params.push_back((param.written ? "" : "const ") + param.type +
                     " *__restrict__ " + param.name);
    width += params.back().size() + 2;
  }
  std::string head =
      fmt::format("extern \"C\" __global__ void __launch_bounds__({}) {}(",
                  block_.count(), name);
  if (head.size() + width <= 80) {
    text += head;
    for (size_t i = 0; i < params.size(); ++i)
      text += (i ? ", " : "") + params[i];
    text += ") {\n";
  } else {
    text += head + "\n";
    for (size_t i = 0; i < params.size(); ++i)
      text += "    " + params[i] + (i + 1 < params.size() ? ",\n" : ") {\n");
  }
  text += body_ + "}\n";
  // Namespace-scope tables are named after their kernel.
  for (size_t at = text.find("@NAME@"); at != std::string::npos;
       at = text.find("@NAME@", at))
    text.replace(at, 6, name);
  return text;
}

cuda::KernelLaunch KernelBuilder::launch(const std::string &name) const {
  cuda::KernelLaunch launch;
  launch.kernel = name;
  launch.grid = grid_;
  launch.block = block_;
  for (const Param &param : params_)
    launch.args.push_back(param.slot.arg());
  return launch;
}

} // namespace kiln::cudagen
