// .npy reading and writing, following numpy/lib/format.py.
#include "kiln/runtime/Npy.h"

#include "TensorInternal.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

namespace kiln {

static_assert(std::endian::native == std::endian::little,
              ".npy data is written little-endian and kiln copies it verbatim");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
// NumPy pads magic + version + length + header to a multiple of 64 so the
// data that follows is aligned for any dtype.
constexpr size_t kAlignment = 64;

Error corrupt(const std::string &path, const std::string &reason) {
  return Error(fmt::format("{}: {}; the file is truncated or not a .npy "
                           "file, write it again with numpy.save",
                           path, reason));
}

const char *npyDescr(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "<f4";
  case DType::F64:
    return "<f8";
  case DType::I64:
    return "<i8";
  case DType::U8:
    return "|u1";
  }
  return "?";
}

std::optional<DType> dtypeFromDescr(const std::string &descr) {
  for (DType dtype : {DType::F32, DType::F64, DType::I64, DType::U8})
    if (descr == npyDescr(dtype))
      return dtype;
  return std::nullopt;
}

struct Header {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the Python dict literal NumPy writes, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
  HeaderParser(const std::string &path, const std::string &text)
      : path_(path), text_(text) {}

  Header parse() {
    Header header;
    bool seenDescr = false, seenOrder = false, seenShape = false;
    expect('{');
    while (!consume('}')) {
      std::string key = parseString();
      expect(':');
      if (key == "descr" && !seenDescr) {
        header.descr = parseString();
        seenDescr = true;
      } else if (key == "fortran_order" && !seenOrder) {
        header.fortranOrder = parseBool();
        seenOrder = true;
      } else if (key == "shape" && !seenShape) {
        header.shape = parseShape();
        seenShape = true;
      } else {
        throw fail(fmt::format("its header has an unexpected or repeated key "
                               "'{}'",
                               key));
      }
      if (consume(','))
        continue;
      expect('}');
      break;
    }
    if (!seenDescr || !seenOrder || !seenShape)
      throw fail("its header lacks one of 'descr', 'fortran_order', 'shape'");
    skipSpace();
    if (pos_ != text_.size())
      throw fail("its header has text after the closing '}'");
    return header;
  }

private:
  Error fail(const std::string &reason) const { return corrupt(path_, reason); }

  void skipSpace() {
    while (pos_ < text_.size() && std::isspace(uint8_t(text_[pos_])))
      ++pos_;
  }

  bool consume(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c))
      throw fail(fmt::format("its header has no '{}' at byte {}", c, pos_));
  }

  std::string parseString() {
    skipSpace();
    char quote = pos_ < text_.size() ? text_[pos_] : '\0';
    if (quote != '\'' && quote != '"')
      throw fail(
          fmt::format("its header has no quoted string at byte {}", pos_));
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos)
      throw fail("its header has an unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }

  bool parseBool() {
    skipSpace();
    for (auto [word, value] : {std::pair{"True", true}, {"False", false}}) {
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    throw fail("its 'fortran_order' is neither True nor False");
  }

  std::vector<int64_t> parseShape() {
    std::vector<int64_t> shape;
    expect('(');
    while (!consume(')')) {
      skipSpace();
      size_t begin = pos_;
      int64_t size = 0;
      while (pos_ < text_.size() && std::isdigit(uint8_t(text_[pos_]))) {
        if (__builtin_mul_overflow(size, 10, &size) ||
            __builtin_add_overflow(size, text_[pos_] - '0', &size))
          throw fail("its shape has a size too large to address");
        ++pos_;
      }
      if (pos_ == begin)
        throw fail("its shape is not a tuple of sizes >= 0");
      shape.push_back(size);
      if (consume(','))
        continue;
      expect(')');
      break;
    }
    return shape;
  }

  const std::string &path_;
  const std::string &text_;
  size_t pos_ = 0;
};

uint32_t readLittleEndian(const unsigned char *bytes, int count) {
  uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i)
    value = value << 8 | bytes[i];
  return value;
}

} // namespace

Tensor readNpy(const std::string &path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open {}: {}; check the path", path,
                            errno ? std::strerror(errno) : "unknown error"));
  in.seekg(0, std::ios::end);
  uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  unsigned char preamble[12] = {};
  if (fileSize < 10 || !in.read(reinterpret_cast<char *>(preamble), 8))
    throw corrupt(path, fmt::format("it has {} bytes, too few for the .npy "
                                    "preamble",
                                    fileSize));
  if (std::memcmp(preamble, kMagic, kMagicBytes) != 0)
    throw corrupt(path, "it does not start with the .npy magic \\x93NUMPY");
  int major = preamble[6];
  if (major < 1 || major > 3)
    throw Error(fmt::format("{}: .npy format version {}.{} is not one kiln "
                            "reads (1.0, 2.0, 3.0); save it with an older "
                            "numpy",
                            path, major, preamble[7]));
  int lengthBytes = major == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char *>(preamble + 8), lengthBytes))
    throw corrupt(path, "it ends inside the header length");
  uint64_t headerLength = readLittleEndian(preamble + 8, lengthBytes);
  uint64_t dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > fileSize)
    throw corrupt(path, fmt::format("its header claims {} bytes but only {} "
                                    "follow the length",
                                    headerLength, fileSize - 8 - lengthBytes));
  std::string text(headerLength, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(headerLength)))
    throw corrupt(path, "reading the header failed");
  if (text.empty() || text.back() != '\n')
    throw corrupt(path, "its header does not end in a newline");

  Header header = HeaderParser(path, text).parse();
  std::optional<DType> dtype = dtypeFromDescr(header.descr);
  if (!dtype)
    throw Error(fmt::format("{}: dtype '{}' has no kiln counterpart; save the "
                            "array with .astype('<f4'), '<f8' or '<i8'",
                            path, header.descr));
  if (header.fortranOrder)
    throw Error(fmt::format("{}: the array is stored in Fortran order, which "
                            "kiln does not read; save "
                            "numpy.ascontiguousarray(a) instead",
                            path));
  int64_t count;
  uint64_t bytes;
  try {
    count = detail::checkedNumel(header.shape, path.c_str());
  } catch (const Error &) {
    throw corrupt(path, fmt::format("its shape {} is too large to address",
                                    shapeToString(header.shape)));
  }
  if (__builtin_mul_overflow(static_cast<uint64_t>(count), dtypeSize(*dtype),
                             &bytes) ||
      bytes != fileSize - dataStart)
    throw corrupt(path, fmt::format("its shape {} of {} needs {} data bytes "
                                    "but the file holds {}",
                                    shapeToString(header.shape), header.descr,
                                    bytes, fileSize - dataStart));

  Tensor result = Tensor::empty(header.shape, *dtype);
  if (!in.read(static_cast<char *>(result.rawData()),
               static_cast<std::streamsize>(bytes)))
    throw corrupt(path, "reading the data failed");
  return result;
}

void writeNpy(const std::string &path, const Tensor &tensor) {
  if (!tensor.defined())
    throw Error(fmt::format("writeNpy({}): the tensor is undefined; create it "
                            "before saving",
                            path));
  const std::vector<int64_t> &shape = tensor.shape();
  std::string shapeText = shape.size() == 1
                              ? fmt::format("({},)", shape[0])
                              : fmt::format("({})", fmt::join(shape, ", "));
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                  npyDescr(tensor.dtype()), shapeText);
  // Version 1.0 stores the header length in 16 bits, 2.0 in 32.
  auto paddedLength = [&](size_t prefix) {
    size_t end =
        (prefix + header.size() + 1 + kAlignment - 1) / kAlignment * kAlignment;
    return end - prefix;
  };
  bool v1 = paddedLength(kMagicBytes + 4) <= 0xffff;
  size_t length = paddedLength(kMagicBytes + (v1 ? 4 : 6));
  header.append(length - header.size() - 1, ' ');
  header.push_back('\n');

  Tensor data = tensor.contiguous();
  writeFileAtomically(path, [&](std::ostream &out) {
    out.write(kMagic, kMagicBytes);
    out.put(static_cast<char>(v1 ? 1 : 2));
    out.put(0);
    for (int i = 0; i < (v1 ? 2 : 4); ++i)
      out.put(static_cast<char>(length >> (8 * i)));
    out << header;
    out.write(static_cast<const char *>(data.rawData()),
              static_cast<std::streamsize>(data.nbytes()));
  });
}

} // namespace kiln
