// torch.save state_dict reading: the zip archive, the restricted pickle, and
// the storages it points to, following torch/serialization.py (_load).
#include "kiln/runtime/TorchPt.h"

#include "Pickle.h"
#include "TensorInternal.h"
#include "Zip.h"

#include <fmt/format.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_set>

namespace kiln {

static_assert(std::endian::native == std::endian::little,
              "torch.save writes storages little-endian and kiln copies them "
              "verbatim");

namespace {

using detail::PickleRef;
using detail::PickleValue;
using Kind = PickleValue::Kind;

constexpr const char *kOrderedDict = "collections.OrderedDict";
constexpr const char *kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const std::map<std::string, DType> kStorageTypes = {
    {"torch.FloatStorage", DType::F32},
    {"torch.DoubleStorage", DType::F64},
    {"torch.LongStorage", DType::I64},
};
// Tensors may share a storage (tied weights, views), so their copies can
// outgrow the file; more than this many times its size means a hostile file.
constexpr uint64_t kMaxCopyFactor = 4;

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char *>(bytes.data()),
               static_cast<std::streamsize>(bytes.size())))
    throw Error(fmt::format("{}: cannot read", path));
  return bytes;
}

/// "<name>/" for the one "<name>/data.pkl" in the archive.
std::string archivePrefix(const detail::ZipArchive &zip) {
  std::string prefix;
  int found = 0;
  for (const auto &[name, data] : zip.entries()) {
    size_t slash = name.find('/');
    if (slash == std::string::npos || name.substr(slash + 1) != "data.pkl")
      continue;
    prefix = name.substr(0, slash + 1);
    ++found;
  }
  if (found != 1)
    throw Error(fmt::format(
        "the zip archive has {} '<name>/data.pkl' entries instead of one; it "
        "is not a file written by torch.save",
        found));
  return prefix;
}

const PickleValue &item(const PickleValue &tuple, size_t index, Kind kind,
                        const char *what) {
  const PickleValue &value = *tuple.items[index];
  if (value.kind != kind)
    throw Error(fmt::format("{} is a {}, not a {}", what,
                            detail::pickleKindName(value.kind),
                            detail::pickleKindName(kind)));
  return value;
}

std::vector<int64_t> intTuple(const PickleValue &tuple, size_t index,
                              const char *what) {
  std::vector<int64_t> out;
  for (const PickleRef &value : item(tuple, index, Kind::Tuple, what).items) {
    if (value->kind != Kind::Int || value->integer < 0)
      throw Error(fmt::format("{} holds something other than a non-negative "
                              "integer",
                              what));
    out.push_back(value->integer);
  }
  return out;
}

class StateDictReader {
public:
  StateDictReader(const detail::ZipArchive &zip, uint64_t fileBytes)
      : zip_(zip), prefix_(archivePrefix(zip)),
        copyBudget_(kMaxCopyFactor * fileBytes) {}

  std::vector<std::pair<std::string, Tensor>> read();

private:
  PickleRef loadStorage(const PickleValue &pid);
  PickleRef reduce(const PickleValue &callable, const PickleValue &args);
  Tensor rebuildTensor(const PickleValue &args);

  const detail::ZipArchive &zip_;
  std::string prefix_;
  uint64_t copyBudget_;
};

std::vector<std::pair<std::string, Tensor>> StateDictReader::read() {
  detail::PickleHooks hooks;
  hooks.allowGlobal = [](const std::string &name) {
    return name == kOrderedDict || name == kRebuildTensor ||
           kStorageTypes.count(name);
  };
  hooks.persistentLoad = [this](const PickleValue &pid) {
    return loadStorage(pid);
  };
  hooks.reduce = [this](const PickleValue &callable, const PickleValue &args) {
    return reduce(callable, args);
  };
  PickleRef root = detail::unpickle(*zip_.find(prefix_ + "data.pkl"), hooks);
  if (root->kind != Kind::Dict)
    throw Error(fmt::format("data.pkl holds a {}, not a state_dict; save "
                            "model.state_dict(), not the model",
                            detail::pickleKindName(root->kind)));
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < root->items.size(); i += 2) {
    const PickleValue &key = *root->items[i], &value = *root->items[i + 1];
    if (key.kind != Kind::String)
      throw Error(fmt::format("the state_dict has a {} key, not a str",
                              detail::pickleKindName(key.kind)));
    if (!value.tensor.defined())
      throw Error(fmt::format("state_dict entry '{}' is a {}, not a tensor",
                              key.text, detail::pickleKindName(value.kind)));
    if (!seen.insert(key.text).second)
      throw Error(fmt::format("state_dict entry '{}' appears twice", key.text));
    tensors.emplace_back(key.text, value.tensor);
  }
  return tensors;
}

/// ('storage', torch.FloatStorage, key, location, numel): the raw entry
/// <prefix>data/<key>, of which the first numel elements are the storage.
PickleRef StateDictReader::loadStorage(const PickleValue &pid) {
  if (pid.kind != Kind::Tuple || pid.items.size() != 5 ||
      pid.items[0]->kind != Kind::String || pid.items[0]->text != "storage")
    throw Error("a persistent id is not ('storage', type, key, location, "
                "numel)");
  const PickleValue &type = item(pid, 1, Kind::Global, "the storage type");
  const std::string &key = item(pid, 2, Kind::String, "the storage key").text;
  int64_t numel = item(pid, 4, Kind::Int, "the storage size").integer;
  auto dtype = kStorageTypes.find(type.text);
  if (dtype == kStorageTypes.end())
    throw Error(fmt::format("'{}' is not a storage type", type.text));
  std::string entry = prefix_ + "data/" + key;
  const std::span<const uint8_t> *data = zip_.find(entry);
  if (!data)
    throw Error(fmt::format("storage '{}' ({}) is missing from the archive",
                            key, entry));
  size_t elementBytes = dtypeSize(dtype->second);
  if (numel < 0 || static_cast<uint64_t>(numel) > data->size() / elementBytes)
    throw Error(fmt::format("storage '{}' claims {} elements of {} but {} "
                            "holds {} bytes",
                            key, numel, dtypeName(dtype->second), entry,
                            data->size()));
  auto storage = std::make_shared<PickleValue>();
  storage->kind = Kind::Object;
  storage->blob = data->subspan(0, numel * elementBytes);
  storage->dtype = dtype->second;
  return storage;
}

PickleRef StateDictReader::reduce(const PickleValue &callable,
                                  const PickleValue &args) {
  if (callable.text == kOrderedDict && args.items.empty()) {
    auto dict = std::make_shared<PickleValue>();
    dict->kind = Kind::Dict;
    dict->depth = 1;
    return dict;
  }
  // PyTorch 2 adds a 7th argument, metadata, which is None by default.
  if (callable.text == kRebuildTensor &&
      (args.items.size() == 6 ||
       (args.items.size() == 7 && args.items[6]->kind == Kind::None))) {
    auto tensor = std::make_shared<PickleValue>();
    tensor->kind = Kind::Object;
    tensor->tensor = rebuildTensor(args);
    return tensor;
  }
  throw Error(fmt::format("the pickle calls '{}' with {} arguments, which no "
                          "state_dict of tensors does",
                          callable.text, args.items.size()));
}

/// _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
/// copies the strided view out into a contiguous tensor.
Tensor StateDictReader::rebuildTensor(const PickleValue &args) {
  const PickleValue &storage = item(args, 0, Kind::Object, "a tensor storage");
  if (storage.tensor.defined())
    throw Error("a tensor is rebuilt from a tensor, not a storage");
  int64_t offset = item(args, 1, Kind::Int, "a storage offset").integer;
  std::vector<int64_t> shape = intTuple(args, 2, "a tensor size");
  std::vector<int64_t> strides = intTuple(args, 3, "a tensor stride");
  if (shape.size() != strides.size())
    throw Error(fmt::format("a tensor has {} sizes but {} strides",
                            shape.size(), strides.size()));
  int64_t numel = detail::checkedNumel(shape, "a tensor");
  int64_t stored =
      static_cast<int64_t>(storage.blob.size() / dtypeSize(storage.dtype));
  // Copies are never larger than their storage, which bounds the allocation
  // by the file; the last element's offset must lie inside the storage.
  int64_t last = offset;
  bool inBounds = offset >= 0 && offset <= stored && numel <= stored;
  for (size_t d = 0; d < shape.size() && inBounds && numel > 0; ++d) {
    int64_t reach;
    inBounds = !__builtin_mul_overflow(shape[d] - 1, strides[d], &reach) &&
               !__builtin_add_overflow(last, reach, &last);
  }
  if (!inBounds || (numel > 0 && last >= stored))
    throw Error(fmt::format("a tensor of size {} with strides {} at offset {} "
                            "reaches past its storage of {} elements",
                            shapeToString(shape), shapeToString(strides),
                            offset, stored));
  uint64_t bytes = static_cast<uint64_t>(numel) * dtypeSize(storage.dtype);
  if (bytes > copyBudget_)
    throw Error(fmt::format("the tensors share storages so much that copying "
                            "them out needs more than {} times the file's "
                            "size",
                            kMaxCopyFactor));
  copyBudget_ -= bytes;
  Tensor out = Tensor::empty(shape, storage.dtype);
  size_t elementBytes = dtypeSize(storage.dtype);
  auto *dst = static_cast<uint8_t *>(out.rawData());
  detail::forEachOffsetPair(
      shape, out.strides(), 0, strides, offset, [&](int64_t to, int64_t from) {
        std::memcpy(dst + to * elementBytes,
                    storage.blob.data() + from * elementBytes, elementBytes);
      });
  return out;
}

} // namespace

std::vector<std::pair<std::string, Tensor>>
readTorchStateDict(const std::string &path) {
  std::vector<uint8_t> bytes = readFile(path);
  try {
    detail::ZipArchive zip(bytes);
    return StateDictReader(zip, bytes.size()).read();
  } catch (const Error &e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
}

} // namespace kiln
