// Pictures: 8-bit images, PNG files, the blitz's image grid and a confusion
// matrix heat map.
//
//   kiln::Tensor batch = ...;                 // [N, C, H, W], values in [-1,
//   1] kiln::writePng("grid.png", kiln::imageGrid(batch, {"cat", "ship"}));
//   kiln::writePng("confusion.png",
//                  kiln::confusionMatrixImage(counts, 10, classNames));
//   kiln::Image back = kiln::readPng("grid.png");
//
// Text is drawn with a built-in 5x7 bitmap font: upper-case letters, digits,
// space and - / . : _ ( ) + = % ?; lower case is drawn as upper case and any
// other character as '?'. Glyphs advance 6 pixels.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// An 8-bit image: channels is 1 (gray) or 3 (RGB); pixels are row-major with
/// the channels interleaved, so pixel (x, y) channel c is
/// pixels[(y * width + x) * channels + c].
struct Image {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;

  uint8_t at(int64_t x, int64_t y, int64_t channel = 0) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + channel)];
  }
};

/// Writes `image` as an 8-bit gray or RGB PNG, atomically: readers see the old
/// file or the whole new one. Throws kiln::Error when the image is malformed
/// (channels not 1 or 3, pixels of the wrong size, empty) or the file cannot
/// be written.
void writePng(const std::string &path, const Image &image);

/// The PNG in `path` as 8-bit gray (gray sources) or RGB (colour sources);
/// an alpha channel is composited onto black, 16-bit samples are reduced to
/// 8. Throws kiln::Error naming the file when it is missing, not a PNG,
/// truncated, corrupt, or larger than 2^28 bytes decoded.
Image readPng(const std::string &path);

/// The blitz's `imshow(torchvision.utils.make_grid(images))` as an image:
/// `images` is [N, C, H, W] with C = 1 (gray result) or 3 (RGB), normalised to
/// [-1, 1] as the loaders do; each value x becomes floor((x / 2 + 0.5) * 255 +
/// 0.5) clamped to [0, 255] (so -1 -> 0, 0 -> 128, +1 -> 255, NaN -> 0), which
/// is torchvision's save_image rounding.
///
/// Layout: min(columns, N) columns and ceil(N / columns) rows of cells with
/// `padding` black pixels around and between them. A cell is the H x W image
/// and, when `labels` is not empty, a 10-pixel black caption band below it in
/// which labels[i] is drawn in white, starting 1 pixel below the image at its
/// left edge and cut off at its right edge. So with band = labels.empty() ? 0
/// : 10, image i's top-left pixel is at
///   x = padding + (i % columns) * (W + padding),
///   y = padding + (i / columns) * (H + band + padding),
/// and the result is columns * (W + padding) + padding wide and
/// rows * (H + band + padding) + padding high.
///
/// Throws kiln::Error when `images` is not a 4-D tensor with 1 or 3
/// channels and at least one image, `labels` is neither empty nor N long,
/// columns < 1, padding < 0, or the grid would exceed 2^28 bytes.
Image imageGrid(const Tensor &images, const std::vector<std::string> &labels,
                int64_t columns = 8, int64_t padding = 2);

/// A heat map of `counts` (row-major numClasses x numClasses; rows are the
/// true class, columns the predicted one) on a white RGB background. Each
/// `cell` x `cell` square is coloured by its share of its row's total, f,
/// interpolated from white (255, 255, 255) at f = 0 to dark blue (8, 48, 107)
/// at f = 1 (each channel rounded to nearest); a row with no samples is
/// white.
///
/// Layout: the column (predicted) indices are drawn in black above the
/// matrix, centred on their columns, 4 pixels from the top. The row labels
/// "<i> <name>" (names cut to 10 characters; just "<i>" when classNames is
/// empty) are drawn in black 4 pixels from the left edge, centred on their
/// rows. With L the length in characters of the longest row label, the
/// matrix's top-left pixel is at
///   x0 = 6 * L + 8,  y0 = 15,
/// cell (row r, column c) covers x0 + c * cell <= x < x0 + (c + 1) * cell and
/// y0 + r * cell <= y < y0 + (r + 1) * cell, and a 4-pixel white margin
/// follows on the right and at the bottom: the image is
/// x0 + numClasses * cell + 4 wide and y0 + numClasses * cell + 4 high.
///
/// Throws kiln::Error when counts does not hold numClasses^2 non-negative
/// entries, classNames is neither empty nor numClasses long, numClasses or
/// cell is below 1, or the image would exceed 2^28 bytes.
Image confusionMatrixImage(const std::vector<int64_t> &counts,
                           int64_t numClasses,
                           const std::vector<std::string> &classNames,
                           int64_t cell = 24);

} // namespace kiln
