// The restricted unpickler, following CPython's Lib/pickle.py (_Unpickler)
// for the opcodes it implements.
#include "Pickle.h"

#include "kiln/runtime/Error.h"

#include <fmt/format.h>

#include <unordered_map>

namespace kiln::detail {

namespace {

// No state_dict nests deeper than a few levels; the limit keeps hostile
// nesting from overflowing the stack when the objects are destroyed.
constexpr int kMaxDepth = 32;

using Kind = PickleValue::Kind;

PickleRef make(Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  value->depth = kind >= Kind::Tuple && kind <= Kind::Dict ? 1 : 0;
  return value;
}

class Unpickler {
public:
  Unpickler(std::span<const uint8_t> bytes, const PickleHooks &hooks)
      : bytes_(bytes), hooks_(hooks) {}

  PickleRef run();

private:
  [[noreturn]] void fail(const std::string &reason) const {
    throw Error(fmt::format("pickle byte {}: {}", opStart_, reason));
  }
  uint64_t le(unsigned width) {
    if (bytes_.size() - pos_ < width)
      fail("the pickle is truncated");
    uint64_t value = 0;
    for (unsigned i = width; i-- > 0;)
      value = value << 8 | bytes_[pos_ + i];
    pos_ += width;
    return value;
  }
  std::string text(uint64_t size) {
    if (bytes_.size() - pos_ < size)
      fail("the pickle is truncated inside a string");
    std::string out(bytes_.begin() + pos_, bytes_.begin() + pos_ + size);
    pos_ += size;
    return out;
  }
  /// Python's readline, without the newline: GLOBAL's operands.
  std::string line() {
    for (size_t end = pos_; end < bytes_.size(); ++end) {
      if (bytes_[end] != '\n')
        continue;
      std::string out = text(end - pos_);
      ++pos_;
      return out;
    }
    fail("the pickle is truncated inside a GLOBAL name");
  }

  PickleRef pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back()))
      fail("an opcode needs a value but the stack is empty");
    PickleRef value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  PickleRef &top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back()))
      fail("an opcode needs a value but the stack is empty");
    return stack_.back();
  }
  std::vector<PickleRef> popToMark() {
    if (marks_.empty())
      fail("an opcode needs a MARK but there is none");
    std::vector<PickleRef> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  /// Puts `item` into `container`, which must be of `kind` and not frozen.
  void insert(PickleValue &container, Kind kind, PickleRef item) {
    if (container.kind != kind)
      fail(fmt::format("cannot add items to a {}",
                       pickleKindName(container.kind)));
    if (container.nested || &container == item.get())
      fail("a container is changed after being put inside another, which "
           "no state_dict does");
    item->nested = true;
    container.depth = std::max(container.depth, item->depth + 1);
    if (container.depth > kMaxDepth)
      fail(fmt::format("objects nest deeper than {} levels", kMaxDepth));
    container.items.push_back(std::move(item));
  }
  PickleRef tuple(std::vector<PickleRef> items) {
    PickleRef result = make(Kind::Tuple);
    for (PickleRef &item : items)
      insert(*result, Kind::Tuple, std::move(item));
    return result;
  }
  void setItems(std::vector<PickleRef> items) {
    if (items.size() % 2 != 0)
      fail("SETITEMS has a key without a value");
    PickleRef dict = top();
    for (PickleRef &item : items)
      insert(*dict, Kind::Dict, std::move(item));
  }
  void memoPut(uint64_t index) { memo_[index] = top(); }
  void memoGet(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      fail(fmt::format("memo entry {} is read before it is written", index));
    stack_.push_back(it->second);
  }
  void push(Kind kind, int64_t integer) {
    PickleRef value = make(kind);
    value->integer = integer;
    stack_.push_back(std::move(value));
  }
  void step(uint8_t op);

  std::span<const uint8_t> bytes_;
  const PickleHooks &hooks_;
  size_t pos_ = 0;
  size_t opStart_ = 0;
  bool stopped_ = false;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

PickleRef Unpickler::run() {
  while (!stopped_) {
    opStart_ = pos_;
    if (pos_ == bytes_.size())
      fail("the pickle ends without STOP; the file is truncated");
    step(bytes_[pos_++]);
  }
  if (!marks_.empty() || stack_.size() != 1)
    fail("STOP leaves the stack unbalanced; the pickle is corrupt");
  return stack_.back();
}

void Unpickler::step(uint8_t op) {
  switch (op) {
  case 0x80: // PROTO
    if (le(1) > 2)
      fail("pickle protocol above 2; kiln reads what torch.save writes");
    return;
  case '.': // STOP
    stopped_ = true;
    return;
  case '(': // MARK
    marks_.push_back(stack_.size());
    return;
  case 'N': // NONE
    return push(Kind::None, 0);
  case 0x88: // NEWTRUE
    return push(Kind::Bool, 1);
  case 0x89: // NEWFALSE
    return push(Kind::Bool, 0);
  case 'K': // BININT1
    return push(Kind::Int, static_cast<int64_t>(le(1)));
  case 'M': // BININT2
    return push(Kind::Int, static_cast<int64_t>(le(2)));
  case 'J': // BININT: signed 32-bit
    return push(Kind::Int, static_cast<int32_t>(le(4)));
  case 0x8a: { // LONG1: little-endian two's complement of n bytes
    uint64_t size = le(1);
    if (size > 8)
      fail(fmt::format("an integer of {} bytes does not fit in 64 bits", size));
    uint64_t raw = size == 0 ? 0 : le(static_cast<unsigned>(size));
    if (size > 0 && size < 8 && (raw >> (8 * size - 1) & 1))
      raw |= ~uint64_t{0} << (8 * size);
    return push(Kind::Int, static_cast<int64_t>(raw));
  }
  case 'X': { // BINUNICODE
    PickleRef value = make(Kind::String);
    value->text = text(le(4));
    stack_.push_back(std::move(value));
    return;
  }
  case ')': // EMPTY_TUPLE
    stack_.push_back(make(Kind::Tuple));
    return;
  case ']': // EMPTY_LIST
    stack_.push_back(make(Kind::List));
    return;
  case '}': // EMPTY_DICT
    stack_.push_back(make(Kind::Dict));
    return;
  case 't': // TUPLE
    stack_.push_back(tuple(popToMark()));
    return;
  case 0x85:   // TUPLE1
  case 0x86:   // TUPLE2
  case 0x87: { // TUPLE3
    std::vector<PickleRef> items(op - 0x84);
    for (size_t i = items.size(); i-- > 0;)
      items[i] = pop();
    stack_.push_back(tuple(std::move(items)));
    return;
  }
  case 'a': { // APPEND
    PickleRef item = pop();
    insert(*top(), Kind::List, std::move(item));
    return;
  }
  case 'e': { // APPENDS
    std::vector<PickleRef> items = popToMark();
    PickleRef list = top();
    for (PickleRef &item : items)
      insert(*list, Kind::List, std::move(item));
    return;
  }
  case 's': { // SETITEM
    PickleRef value = pop();
    PickleRef key = pop();
    setItems({std::move(key), std::move(value)});
    return;
  }
  case 'u': // SETITEMS
    return setItems(popToMark());
  case 'q': // BINPUT
    return memoPut(le(1));
  case 'r': // LONG_BINPUT
    return memoPut(le(4));
  case 'h': // BINGET
    return memoGet(le(1));
  case 'j': // LONG_BINGET
    return memoGet(le(4));
  case 'c': { // GLOBAL
    std::string module = line();
    std::string name = line();
    std::string qualified = module + "." + name;
    if (!hooks_.allowGlobal(qualified))
      fail(fmt::format("the pickle refers to '{}', which kiln refuses to "
                       "load: only the globals of a tensor state_dict are "
                       "allowed",
                       qualified));
    PickleRef value = make(Kind::Global);
    value->text = std::move(qualified);
    stack_.push_back(std::move(value));
    return;
  }
  case 'Q': { // BINPERSID
    PickleRef pid = pop();
    stack_.push_back(hooks_.persistentLoad(*pid));
    return;
  }
  case 'R': { // REDUCE
    PickleRef args = pop();
    PickleRef callable = pop();
    if (callable->kind != Kind::Global || args->kind != Kind::Tuple)
      fail("REDUCE needs a global and an argument tuple");
    stack_.push_back(hooks_.reduce(*callable, *args));
    return;
  }
  case 'b': { // BUILD
    // torch.save pickles a state_dict's `_metadata` attribute (module
    // versions) as the OrderedDict's state; the tensors do not need it.
    pop();
    if (top()->kind != Kind::Dict)
      fail(fmt::format("BUILD sets the state of a {}, which no state_dict "
                       "does",
                       pickleKindName(top()->kind)));
    return;
  }
  default:
    fail(fmt::format("opcode 0x{:02x} is not one torch.save writes for a "
                     "state_dict; kiln does not run it",
                     op));
  }
}

} // namespace

const char *pickleKindName(Kind kind) {
  switch (kind) {
  case Kind::None:
    return "None";
  case Kind::Bool:
    return "bool";
  case Kind::Int:
    return "int";
  case Kind::String:
    return "str";
  case Kind::Tuple:
    return "tuple";
  case Kind::List:
    return "list";
  case Kind::Dict:
    return "dict";
  case Kind::Global:
    return "global";
  case Kind::Object:
    return "object";
  }
  return "?";
}

PickleRef unpickle(std::span<const uint8_t> bytes, const PickleHooks &hooks) {
  return Unpickler(bytes, hooks).run();
}

} // namespace kiln::detail
