// Tensor::toString: PyTorch 1.13's _tensor_str.py with default options.
#include "kiln/runtime/Tensor.h"

#include "TensorInternal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>

namespace kiln {

namespace {

// PyTorch's default print options.
constexpr int64_t kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

std::string formatFixed(double value, int64_t precision) {
  return fmt::format("{:.{}f}", value, precision);
}

std::string formatScientific(double value) {
  // printf's %e gives Python's two-digit minimum exponent ("1.0000e+00");
  // fmt's {:e} does too, so the two agree.
  return fmt::format("{:.{}e}", value, kPrecision);
}

/// Decides, from every printed value, whether floats print as integers
/// ("1."), fixed ("0.5000") or scientific, and how wide a column is.
class Formatter {
public:
  Formatter(const std::vector<double> &values, bool floating)
      : floating_(floating) {
    if (!floating) {
      for (double v : values)
        maxWidth_ = std::max(maxWidth_, fmt::format("{}", int64_t(v)).size());
      return;
    }
    std::vector<double> finite;
    for (double v : values)
      if (std::isfinite(v) && v != 0.0)
        finite.push_back(v);
    if (finite.empty())
      return;
    double minAbs = std::abs(finite.front()), maxAbs = minAbs;
    for (double v : finite) {
      minAbs = std::min(minAbs, std::abs(v));
      maxAbs = std::max(maxAbs, std::abs(v));
      if (v != std::ceil(v))
        intMode_ = false;
    }
    bool wideRange = maxAbs / minAbs > 1000.0 || maxAbs > 1e8;
    sciMode_ = intMode_ ? wideRange : wideRange || minAbs < 1e-4;
    for (double v : finite) {
      size_t width = sciMode_   ? formatScientific(v).size()
                     : intMode_ ? formatFixed(v, 0).size() + 1
                                : formatFixed(v, kPrecision).size();
      maxWidth_ = std::max(maxWidth_, width);
    }
  }

  size_t width() const { return maxWidth_; }

  std::string format(double value) const {
    std::string text;
    if (!floating_) {
      text = fmt::format("{}", int64_t(value));
    } else if (sciMode_) {
      text = formatScientific(value);
    } else if (intMode_) {
      text = formatFixed(value, 0);
      if (std::isfinite(value))
        text += '.';
    } else {
      text = formatFixed(value, kPrecision);
    }
    if (text.size() < maxWidth_)
      text.insert(0, maxWidth_ - text.size(), ' ');
    return text;
  }

private:
  bool floating_;
  bool intMode_ = true;
  bool sciMode_ = false;
  size_t maxWidth_ = 1;
};

/// Walks the tensor as PyTorch does, eliding the middle of long axes when
/// summarising. Elements are read as doubles, so int64 values past 2^53 print
/// rounded; kiln's int64 tensors hold labels and indices, far below that.
class Printer {
public:
  explicit Printer(bool summarize) : summarize_(summarize) {}

  void collect(const Tensor &t, std::vector<double> &values) const {
    if (t.dim() == 0) {
      values.push_back(t.item());
      return;
    }
    int64_t size = t.size(0);
    bool elide = summarize_ && size > 2 * kEdgeItems;
    for (int64_t i = 0; i < size; ++i) {
      if (elide && i == kEdgeItems)
        i = size - kEdgeItems;
      collect(t.select(0, i), values);
    }
  }

  std::string render(const Tensor &t, int64_t indent,
                     const Formatter &formatter) const {
    if (t.dim() == 0)
      return formatter.format(t.item());
    if (t.dim() == 1)
      return renderVector(t, indent, formatter);
    int64_t size = t.size(0);
    bool elide = summarize_ && size > 2 * kEdgeItems;
    std::vector<std::string> slices;
    for (int64_t i = 0; i < size; ++i) {
      if (elide && i == kEdgeItems) {
        slices.push_back("...");
        i = size - kEdgeItems;
      }
      slices.push_back(render(t.select(0, i), indent + 1, formatter));
    }
    std::string separator =
        "," + std::string(t.dim() - 1, '\n') + std::string(indent + 1, ' ');
    return "[" + join(slices, separator) + "]";
  }

private:
  std::string renderVector(const Tensor &t, int64_t indent,
                           const Formatter &formatter) const {
    int64_t elementLength = static_cast<int64_t>(formatter.width()) + 2;
    int64_t perLine =
        std::max<int64_t>(1, (kLineWidth - indent) / elementLength);
    int64_t size = t.size(0);
    bool elide = summarize_ && size > 2 * kEdgeItems;
    std::vector<std::string> items;
    for (int64_t i = 0; i < size; ++i) {
      if (elide && i == kEdgeItems) {
        items.push_back(" ...");
        i = size - kEdgeItems;
      }
      items.push_back(formatter.format(t.at({i})));
    }
    std::vector<std::string> lines;
    for (size_t i = 0; i < items.size(); i += perLine) {
      size_t end = std::min(items.size(), i + static_cast<size_t>(perLine));
      lines.push_back(join({items.begin() + i, items.begin() + end}, ", "));
    }
    return "[" + join(lines, ",\n" + std::string(indent + 1, ' ')) + "]";
  }

  static std::string join(const std::vector<std::string> &parts,
                          const std::string &separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i)
        out += separator;
      out += parts[i];
    }
    return out;
  }

  bool summarize_;
};

/// Appends ", suffix" entries, wrapping onto a new line as PyTorch does when
/// the last line would pass the line width.
std::string addSuffixes(std::string text,
                        const std::vector<std::string> &suffixes,
                        int64_t indent) {
  size_t newline = text.rfind('\n');
  // Mirrors Python's len(s) - s.rfind('\n') + 1, where rfind gives -1 if
  // absent.
  int64_t lastLineLength =
      static_cast<int64_t>(text.size()) -
      (newline == std::string::npos ? -1 : static_cast<int64_t>(newline)) + 1;
  for (const std::string &suffix : suffixes) {
    int64_t length = static_cast<int64_t>(suffix.size());
    if (lastLineLength + length + 2 > kLineWidth) {
      text += ",\n" + std::string(indent, ' ') + suffix;
      lastLineLength = indent + length;
      continue;
    }
    text += ", " + suffix;
    lastLineLength += length + 2;
  }
  return text + ")";
}

} // namespace

std::string Tensor::toString() const {
  if (!defined())
    return "tensor(undefined)";
  const std::string prefix = "tensor(";
  int64_t indent = static_cast<int64_t>(prefix.size());
  std::vector<std::string> suffixes;
  std::string body;
  if (numel() == 0) {
    body = "[]";
    if (dim() != 1) {
      std::string sizes;
      for (int64_t s : shape_)
        sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
      suffixes.push_back("size=(" + sizes + ")");
    }
  } else {
    Printer printer(numel() > kThreshold);
    std::vector<double> values;
    printer.collect(*this, values);
    Formatter formatter(values, dtype_ == DType::F32 || dtype_ == DType::F64);
    body = printer.render(*this, indent, formatter);
  }
  // PyTorch omits the dtype for its defaults, float32 and int64.
  if (dtype_ == DType::F64 || dtype_ == DType::U8)
    suffixes.push_back(std::string("dtype=kiln.") + dtypeName(dtype_));
  return addSuffixes(prefix + body, suffixes, indent);
}

std::ostream &operator<<(std::ostream &os, const Tensor &tensor) {
  return os << tensor.toString();
}

} // namespace kiln
