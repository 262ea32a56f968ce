// PNG files through libpng's simplified API, and the pictures kiln draws:
// image grids and confusion matrices, captioned with a built-in bitmap font.
#include "kiln/runtime/Image.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/util/AtomicFile.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string_view>

namespace kiln {

namespace {

/// Decoded images above this many bytes are refused, so a tiny hostile PNG
/// claiming to be 60000 x 60000 cannot make kiln allocate gigabytes.
constexpr double kMaxImageBytes = double(1 << 28);

constexpr int64_t kGlyphWidth = 5, kGlyphHeight = 7, kGlyphAdvance = 6;
constexpr int64_t kCaptionBand = 10;
constexpr uint8_t kWhite[3] = {255, 255, 255};
constexpr uint8_t kBlack[3] = {0, 0, 0};
constexpr uint8_t kDarkBlue[3] = {8, 48, 107};

struct Glyph {
  char character;
  /// Top to bottom; bit 4 is the leftmost pixel.
  uint8_t rows[kGlyphHeight];
};

constexpr Glyph kFont[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};

const Glyph &glyphFor(char character) {
  char wanted = (character >= 'a' && character <= 'z')
                    ? static_cast<char>(character - 'a' + 'A')
                    : character;
  for (const Glyph &glyph : kFont)
    if (glyph.character == wanted)
      return glyph;
  return glyphFor('?');
}

/// A width x height image filled with `fill`, refused when it would be too
/// big. Sizes arrive as doubles so that absurd requests cannot overflow before
/// they are checked.
Image blankImage(double width, double height, int64_t channels,
                 const uint8_t *fill, const char *what) {
  if (width * height * static_cast<double>(channels) > kMaxImageBytes)
    throw Error(fmt::format("{} would be {} x {} pixels, over kiln's limit of "
                            "{} bytes; draw fewer or smaller images",
                            what, width, height, kMaxImageBytes));
  Image image{
      static_cast<int64_t>(width), static_cast<int64_t>(height), channels, {}};
  image.pixels.resize(
      static_cast<size_t>(image.width * image.height * channels));
  for (size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = fill[i % static_cast<size_t>(channels)];
  return image;
}

/// Sets one pixel; a gray image takes the colour's first channel.
void setPixel(Image &image, int64_t x, int64_t y, const uint8_t *colour) {
  size_t base = static_cast<size_t>((y * image.width + x) * image.channels);
  for (int64_t c = 0; c < image.channels; ++c)
    image.pixels[base + static_cast<size_t>(c)] = colour[c];
}

/// Draws `text` with its top-left corner at (x, y), dropping pixels outside
/// the image or at or right of `clipRight`.
void drawText(Image &image, int64_t x, int64_t y, std::string_view text,
              const uint8_t *colour, int64_t clipRight) {
  int64_t right = std::min(clipRight, image.width);
  for (char character : text) {
    const Glyph &glyph = glyphFor(character);
    for (int64_t row = 0; row < kGlyphHeight; ++row) {
      int64_t py = y + row;
      if (py < 0 || py >= image.height)
        continue;
      for (int64_t col = 0; col < kGlyphWidth; ++col) {
        int64_t px = x + col;
        if (px < 0 || px >= right || !(glyph.rows[row] >> (4 - col) & 1))
          continue;
        setPixel(image, px, py, colour);
      }
    }
    x += kGlyphAdvance;
  }
}

int64_t textWidth(std::string_view text) {
  return text.empty() ? 0
                      : static_cast<int64_t>(text.size()) * kGlyphAdvance - 1;
}

uint32_t bigEndian32(const uint8_t *bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 |
         uint32_t(bytes[2]) << 8 | uint32_t(bytes[3]);
}

/// Walks the chunks up to IEND so that a cut-off file is reported as such
/// rather than as whatever libpng trips over first.
void checkComplete(const std::string &path, const std::vector<uint8_t> &bytes) {
  size_t pos = 8;
  while (true) {
    if (pos + 8 > bytes.size())
      throw Error(fmt::format("{} is truncated: it ends after {} bytes, before "
                              "the PNG's IEND chunk; write it again",
                              path, bytes.size()));
    uint32_t length = bigEndian32(&bytes[pos]);
    std::string type(reinterpret_cast<const char *>(&bytes[pos + 4]), 4);
    if (pos + 12 + size_t(length) > bytes.size())
      throw Error(fmt::format("{} is truncated: it ends after {} bytes, inside "
                              "its '{}' chunk of {} bytes; write it again",
                              path, bytes.size(), type, length));
    if (type == "IEND")
      return;
    pos += 12 + size_t(length);
  }
}

} // namespace

void writePng(const std::string &path, const Image &image) {
  if (image.channels != 1 && image.channels != 3)
    throw Error(fmt::format("cannot write {}: an image has 1 (gray) or 3 (RGB) "
                            "channels, not {}",
                            path, image.channels));
  if (image.width < 1 || image.height < 1 ||
      double(image.width) * double(image.height) * double(image.channels) >
          kMaxImageBytes)
    throw Error(fmt::format("cannot write {}: a {} x {} image is empty or over "
                            "kiln's limit of {} bytes",
                            path, image.width, image.height, kMaxImageBytes));
  if (image.pixels.size() !=
      static_cast<size_t>(image.width * image.height * image.channels))
    throw Error(fmt::format("cannot write {}: a {} x {} x {} image needs {} "
                            "bytes of pixels, it has {}",
                            path, image.width, image.height, image.channels,
                            image.width * image.height * image.channels,
                            image.pixels.size()));
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // The first call only measures; the second writes into a buffer that fits.
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(),
                                 0, nullptr))
    throw Error(fmt::format("cannot encode {} as PNG: {}", path, png.message));
  std::vector<uint8_t> encoded(size);
  if (!png_image_write_to_memory(&png, encoded.data(), &size, 0,
                                 image.pixels.data(), 0, nullptr))
    throw Error(fmt::format("cannot encode {} as PNG: {}", path, png.message));
  writeFileAtomically(path, [&](std::ostream &out) {
    out.write(reinterpret_cast<const char *>(encoded.data()),
              static_cast<std::streamsize>(size));
  });
}

Image readPng(const std::string &path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open {}: {}", path,
                            errno ? std::strerror(errno) : "unreadable"));
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in),
                             std::istreambuf_iterator<char>()};
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    throw Error(fmt::format("{} is not a PNG file: it does not start with the "
                            "8-byte PNG signature",
                            path));
  checkComplete(path, bytes);

  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw Error(fmt::format("{} is a corrupt PNG: {}", path, png.message));
  bool colour = png.format & PNG_FORMAT_FLAG_COLOR;
  png.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  if (double(png.width) * double(png.height) * (colour ? 3 : 1) >
      kMaxImageBytes) {
    png_image_free(&png);
    throw Error(fmt::format("{} is {} x {} pixels, over kiln's limit of {} "
                            "bytes decoded",
                            path, png.width, png.height, kMaxImageBytes));
  }
  Image image{png.width, png.height, colour ? 3 : 1, {}};
  image.pixels.resize(PNG_IMAGE_SIZE(png));
  png_color black{0, 0, 0};
  if (!png_image_finish_read(&png, &black, image.pixels.data(), 0, nullptr))
    throw Error(fmt::format("{} is a corrupt PNG: {}", path, png.message));
  return image;
}

Image imageGrid(const Tensor &images, const std::vector<std::string> &labels,
                int64_t columns, int64_t padding) {
  if (!images.defined() || images.dim() != 4)
    throw Error(fmt::format("imageGrid needs an [N, C, H, W] batch, got shape "
                            "{}",
                            images.defined() ? shapeToString(images.shape())
                                             : "undefined"));
  const int64_t count = images.size(0), channels = images.size(1),
                height = images.size(2), width = images.size(3);
  if (channels != 1 && channels != 3)
    throw Error(fmt::format("imageGrid draws 1- or 3-channel images, got {} "
                            "channels (shape {})",
                            channels, shapeToString(images.shape())));
  if (count < 1 || height < 1 || width < 1)
    throw Error(fmt::format("imageGrid got no pixels to draw (shape {})",
                            shapeToString(images.shape())));
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != count)
    throw Error(fmt::format("imageGrid got {} labels for {} images; pass one "
                            "per image or none",
                            labels.size(), count));
  if (columns < 1 || padding < 0)
    throw Error(fmt::format("imageGrid needs columns >= 1 and padding >= 0, "
                            "got columns {} and padding {}",
                            columns, padding));

  columns = std::min(columns, count);
  const int64_t rows = (count + columns - 1) / columns;
  const int64_t band = labels.empty() ? 0 : kCaptionBand;
  Image grid = blankImage(
      double(columns) * double(width + padding) + double(padding),
      double(rows) * double(height + band + padding) + double(padding),
      channels, kBlack, "the image grid");

  Tensor source = images.to(DType::F32);
  const float *values = source.data<float>();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t left = padding + (i % columns) * (width + padding);
    const int64_t top = padding + (i / columns) * (height + band + padding);
    for (int64_t c = 0; c < channels; ++c) {
      const float *plane = values + (i * channels + c) * height * width;
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          double level =
              std::floor((plane[y * width + x] / 2.0 + 0.5) * 255.0 + 0.5);
          // NaN fails both comparisons and ends up black.
          uint8_t byte = level >= 255.0 ? 255
                         : level > 0.0  ? static_cast<uint8_t>(level)
                                        : 0;
          grid.pixels[static_cast<size_t>(
              ((top + y) * grid.width + left + x) * channels + c)] = byte;
        }
    }
    if (!labels.empty())
      drawText(grid, left, top + height + 1, labels[i], kWhite, left + width);
  }
  return grid;
}

Image confusionMatrixImage(const std::vector<int64_t> &counts,
                           int64_t numClasses,
                           const std::vector<std::string> &classNames,
                           int64_t cell) {
  if (numClasses < 1 || cell < 1)
    throw Error(fmt::format("confusionMatrixImage needs numClasses >= 1 and "
                            "cell >= 1, got {} and {}",
                            numClasses, cell));
  if (double(counts.size()) != double(numClasses) * double(numClasses))
    throw Error(fmt::format("confusionMatrixImage got {} counts for {} "
                            "classes; it needs {} x {} = {}",
                            counts.size(), numClasses, numClasses, numClasses,
                            numClasses * numClasses));
  if (!classNames.empty() &&
      static_cast<int64_t>(classNames.size()) != numClasses)
    throw Error(fmt::format("confusionMatrixImage got {} class names for {} "
                            "classes; pass one per class or none",
                            classNames.size(), numClasses));
  for (int64_t value : counts)
    if (value < 0)
      throw Error(
          fmt::format("confusionMatrixImage got a negative count ({})", value));

  std::vector<std::string> rowLabels;
  size_t longest = 0;
  for (int64_t i = 0; i < numClasses; ++i) {
    std::string label = std::to_string(i);
    if (!classNames.empty())
      label += " " + classNames[static_cast<size_t>(i)].substr(0, 10);
    longest = std::max(longest, label.size());
    rowLabels.push_back(std::move(label));
  }
  const int64_t x0 = kGlyphAdvance * static_cast<int64_t>(longest) + 8;
  const int64_t y0 = 15, margin = 4;
  const double side = double(numClasses) * double(cell);
  Image image =
      blankImage(double(x0) + side + margin, double(y0) + side + margin, 3,
                 kWhite, "the confusion matrix");

  for (int64_t r = 0; r < numClasses; ++r) {
    auto row = counts.begin() + r * numClasses;
    const double total =
        double(std::accumulate(row, row + numClasses, int64_t{0}));
    drawText(image, margin, y0 + r * cell + (cell - kGlyphHeight) / 2,
             rowLabels[static_cast<size_t>(r)], kBlack, x0);
    for (int64_t c = 0; c < numClasses; ++c) {
      const double fraction = total > 0 ? double(row[c]) / total : 0.0;
      uint8_t colour[3];
      for (int k = 0; k < 3; ++k)
        colour[k] = static_cast<uint8_t>(
            std::lround(255.0 + fraction * (kDarkBlue[k] - 255.0)));
      for (int64_t y = 0; y < cell; ++y)
        for (int64_t x = 0; x < cell; ++x)
          setPixel(image, x0 + c * cell + x, y0 + r * cell + y, colour);
    }
  }
  for (int64_t c = 0; c < numClasses; ++c) {
    std::string index = std::to_string(c);
    drawText(image, x0 + c * cell + (cell - textWidth(index)) / 2, margin,
             index, kBlack, image.width);
  }
  return image;
}

} // namespace kiln
