// A restricted unpickler: the opcodes of pickle protocol 2 that torch.save
// uses, with every global and every call decided by the caller.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln::detail {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

/// One Python object. Containers hold their items in `items`; a dict holds
/// its keys and values alternately, in insertion order.
struct PickleValue {
  enum class Kind {
    None,
    Bool,
    Int,
    String,
    Tuple,
    List,
    Dict,
    Global,
    Object
  };
  Kind kind = Kind::None;
  int64_t integer = 0;           // Bool, Int
  std::string text;              // String; Global as "module.name"
  std::vector<PickleRef> items;  // Tuple, List, Dict
  Tensor tensor;                 // Object made by the caller's hooks
  std::span<const uint8_t> blob; // Object: a storage's bytes
  DType dtype = DType::F32;      // Object: a storage's element type
  // unpickle's bookkeeping: a container inside another is frozen, so `depth`
  // (levels of containers below and including this one) stays true.
  bool nested = false;
  int depth = 0;
};

/// Python's name for a value's type, for error messages.
const char *pickleKindName(PickleValue::Kind kind);

/// The caller's decisions. Anything a hook refuses it throws as kiln::Error.
struct PickleHooks {
  /// May GLOBAL push "module.name"? Nothing else is ever looked up.
  std::function<bool(const std::string &qualifiedName)> allowGlobal;
  /// BINPERSID: the object a persistent id stands for.
  std::function<PickleRef(const PickleValue &pid)> persistentLoad;
  /// REDUCE: calls an allowed global with an argument tuple.
  std::function<PickleRef(const PickleValue &callable, const PickleValue &args)>
      reduce;
};

/// Runs the pickle in `bytes` and returns the object it builds. Throws
/// kiln::Error naming the byte offset and problem for an unknown opcode, a
/// refused global, truncation, or a structure no state_dict has (nesting
/// deeper than 32, a container changed after it was put in another).
PickleRef unpickle(std::span<const uint8_t> bytes, const PickleHooks &hooks);

} // namespace kiln::detail
