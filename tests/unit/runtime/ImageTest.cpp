// Tests for pictures: PNG round trips and refusals, image grids, confusion
// matrices, checked pixel by pixel at the positions Image.h documents.
#include "kiln/runtime/Image.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <filesystem>

using Catch::Matchers::Contains;
using kiln::Image;
using kiln::Tensor;
using kiln::test::TempDir;

namespace {

/// A 2-wide, 3-high RGB image whose every byte differs.
Image knownRgb() {
  Image image{2, 3, 3, {}};
  for (int i = 0; i < 18; ++i)
    image.pixels.push_back(static_cast<uint8_t>(i * 14 + 3));
  return image;
}

/// Three 1-channel 4x4 images, filled with -1, +1 and 0, plus a few marked
/// pixels (set through at(image, x, y)).
Tensor threeGrayImages() {
  Tensor images = Tensor::zeros({3, 1, 4, 4});
  float *v = images.data<float>();
  auto at = [&](int i, int x, int y) -> float & {
    return v[i * 16 + y * 4 + x];
  };
  for (int i = 0; i < 16; ++i) {
    v[i] = -1.0f;
    v[16 + i] = 1.0f;
  }
  at(0, 1, 2) = 0.5f;  // floor(0.75 * 255 + 0.5) = 191
  at(1, 0, 0) = 3.0f;  // clamped to 255
  at(1, 1, 0) = -3.0f; // clamped to 0
  at(2, 3, 1) = 1.0f;
  return images;
}

} // namespace

TEST_CASE("writePng and readPng round-trip a 2x3 RGB image exactly",
          "[image]") {
  TempDir dir;
  const std::string path = dir.file("rgb.png");
  Image written = knownRgb();
  kiln::writePng(path, written);
  CHECK_FALSE(kiln::test::hasTemporaryFile(path));

  Image read = kiln::readPng(path);
  CHECK(read.width == 2);
  CHECK(read.height == 3);
  CHECK(read.channels == 3);
  CHECK(read.pixels == written.pixels);
  CHECK(read.at(1, 2, 2) == 17 * 14 + 3);

  Image gray{3, 1, 1, {0, 128, 255}};
  kiln::writePng(path, gray);
  Image grayRead = kiln::readPng(path);
  CHECK(grayRead.channels == 1);
  CHECK(grayRead.pixels == gray.pixels);
}

TEST_CASE("readPng refuses truncated corrupt foreign and missing files",
          "[image]") {
  TempDir dir;
  const std::string good = dir.file("good.png");
  kiln::writePng(good, knownRgb());
  std::vector<uint8_t> bytes = kiln::test::readRaw(good);

  const std::string cut = dir.file("cut.png");
  kiln::test::writeRaw(cut, {bytes.begin(), bytes.begin() + bytes.size() / 2});
  CHECK_THROWS_WITH(kiln::readPng(cut), Contains(cut) && Contains("truncated"));

  // Dropping only IEND still counts as truncated.
  kiln::test::writeRaw(cut, {bytes.begin(), bytes.end() - 12});
  CHECK_THROWS_WITH(kiln::readPng(cut), Contains("truncated"));

  // Flipping a byte inside IHDR's data breaks its CRC.
  std::vector<uint8_t> corrupt = bytes;
  corrupt[8 + 8 + 3] ^= 0xFF;
  const std::string bad = dir.file("corrupt.png");
  kiln::test::writeRaw(bad, corrupt);
  CHECK_THROWS_WITH(kiln::readPng(bad), Contains(bad) && Contains("corrupt"));

  const std::string text = dir.file("notes.png");
  kiln::test::writeRaw(text,
                       {'h', 'e', 'l', 'l', 'o', ',', ' ', 'p', 'n', 'g', '?'});
  CHECK_THROWS_WITH(kiln::readPng(text),
                    Contains(text) && Contains("not a PNG file"));

  CHECK_THROWS_WITH(kiln::readPng(dir.file("missing.png")),
                    Contains("cannot open"));
}

TEST_CASE("writePng refuses malformed images and leaves no file", "[image]") {
  TempDir dir;
  const std::string path = dir.file("x.png");
  CHECK_THROWS_WITH(
      kiln::writePng(path, Image{2, 2, 2, std::vector<uint8_t>(8)}),
      Contains("1 (gray) or 3 (RGB)"));
  CHECK_THROWS_WITH(
      kiln::writePng(path, Image{2, 2, 1, std::vector<uint8_t>(3)}),
      Contains("needs 4 bytes"));
  CHECK_THROWS_WITH(kiln::writePng(path, Image{0, 2, 1, {}}),
                    Contains("empty"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_THROWS_WITH(kiln::writePng(dir.file("no/such/dir.png"), knownRgb()),
                    Contains("cannot create"));
}

TEST_CASE("imageGrid lays out images with black padding", "[image]") {
  // 2 columns, 2 rows of 4x4 cells with 1 pixel of padding: 2 * 5 + 1 = 11.
  Image grid = kiln::imageGrid(threeGrayImages(), {}, 2, 1);
  REQUIRE(grid.width == 11);
  REQUIRE(grid.height == 11);
  REQUIRE(grid.channels == 1);

  // Image 0 at (1, 1), image 1 at (6, 1), image 2 at (1, 6); 0 becomes 128.
  CHECK(grid.at(1, 1) == 0);
  CHECK(grid.at(1 + 1, 1 + 2) == 191);
  CHECK(grid.at(6 + 0, 1 + 0) == 255);
  CHECK(grid.at(6 + 1, 1 + 0) == 0);
  CHECK(grid.at(6 + 3, 1 + 3) == 255);
  CHECK(grid.at(1 + 0, 6 + 0) == 128);
  CHECK(grid.at(1 + 3, 6 + 1) == 255);
  CHECK(grid.at(1 + 2, 6 + 1) == 128);

  for (int64_t y = 0; y < 11; ++y)
    for (int64_t x = 0; x < 11; ++x) {
      bool padding = x % 5 == 0 || y % 5 == 0;
      bool emptyCell = x > 5 && y > 5;
      if (padding || emptyCell) {
        INFO("x " << x << " y " << y);
        CHECK(grid.at(x, y) == 0);
      }
    }
}

TEST_CASE("imageGrid draws white captions in a band under each image",
          "[image]") {
  // Each cell gains a 10-pixel band: 2 * (4 + 10 + 1) + 1 = 31 high.
  Image grid = kiln::imageGrid(threeGrayImages(), {"A", "b", "C"}, 2, 1);
  REQUIRE(grid.width == 11);
  REQUIRE(grid.height == 31);

  // Images keep their pixels; image 2 now starts at y = 1 + 15.
  CHECK(grid.at(1 + 1, 1 + 2) == 191);
  CHECK(grid.at(1 + 3, 16 + 1) == 255);
  CHECK(grid.at(1 + 0, 16 + 0) == 128);

  // Image 0's band spans y = 5..14 and its text starts at y = 6. 'A' is
  // .###. on top and ##### across its middle, cut at the image's right edge.
  for (int64_t x = 1; x <= 4; ++x)
    CHECK(grid.at(x, 5) == 0);
  CHECK(grid.at(1, 6) == 0);
  CHECK(grid.at(2, 6) == 255);
  CHECK(grid.at(4, 6) == 255);
  for (int64_t x = 1; x <= 4; ++x)
    CHECK(grid.at(x, 6 + 3) == 255);
  CHECK(grid.at(5, 6 + 3) == 0);

  // 'b' is drawn as 'B' (#### on top) under image 1; 'C' under image 2.
  CHECK(grid.at(6, 6) == 255);
  CHECK(grid.at(9, 6) == 255);
  int litUnderImage2 = 0;
  for (int64_t y = 16 + 4; y < 16 + 14; ++y)
    for (int64_t x = 1; x <= 4; ++x)
      litUnderImage2 += grid.at(x, y) == 255;
  CHECK(litUnderImage2 > 5);
}

TEST_CASE("imageGrid interleaves RGB channels", "[image]") {
  Tensor images = Tensor::zeros({1, 3, 2, 2});
  float *v = images.data<float>();
  for (int i = 0; i < 4; ++i) {
    v[i] = 1.0f;
    v[4 + i] = -1.0f;
  }
  Image grid = kiln::imageGrid(images, {}, 8, 2);
  REQUIRE(grid.width == 6);
  REQUIRE(grid.height == 6);
  REQUIRE(grid.channels == 3);
  CHECK(grid.at(2, 2, 0) == 255);
  CHECK(grid.at(3, 3, 1) == 0);
  CHECK(grid.at(3, 2, 2) == 128);
  CHECK(grid.at(1, 2, 0) == 0);
}

TEST_CASE("imageGrid refuses what it cannot draw", "[image]") {
  CHECK_THROWS_WITH(kiln::imageGrid(Tensor::zeros({2, 4, 4}), {}),
                    Contains("[N, C, H, W]") && Contains("[2, 4, 4]"));
  CHECK_THROWS_WITH(kiln::imageGrid(Tensor::zeros({2, 2, 4, 4}), {}),
                    Contains("2 channels"));
  CHECK_THROWS_WITH(kiln::imageGrid(threeGrayImages(), {"a", "b"}),
                    Contains("2 labels for 3 images"));
  CHECK_THROWS_WITH(kiln::imageGrid(threeGrayImages(), {}, 0),
                    Contains("columns >= 1"));
  CHECK_THROWS_WITH(kiln::imageGrid(threeGrayImages(), {}, 2, int64_t{1} << 40),
                    Contains("over kiln's limit"));
}

TEST_CASE("confusionMatrixImage colours cells by row share at the documented "
          "positions",
          "[image]") {
  // Longest row label "0 cat" has 5 characters: x0 = 6 * 5 + 8 = 38, y0 = 15.
  const std::vector<std::string> names = {"cat", "dog", "ant"};
  Image diagonal =
      kiln::confusionMatrixImage({5, 0, 0, 0, 7, 0, 0, 0, 9}, 3, names);
  REQUIRE(diagonal.width == 38 + 3 * 24 + 4);
  REQUIRE(diagonal.height == 15 + 3 * 24 + 4);
  REQUIRE(diagonal.channels == 3);
  auto rgb = [](const Image &image, int64_t x, int64_t y) {
    return std::vector<int>{image.at(x, y, 0), image.at(x, y, 1),
                            image.at(x, y, 2)};
  };
  const std::vector<int> darkBlue = {8, 48, 107}, white = {255, 255, 255};
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 3; ++c) {
      INFO("row " << r << " column " << c);
      const std::vector<int> &expected = r == c ? darkBlue : white;
      // First, centre and last pixel of the cell.
      CHECK(rgb(diagonal, 38 + c * 24, 15 + r * 24) == expected);
      CHECK(rgb(diagonal, 38 + c * 24 + 12, 15 + r * 24 + 12) == expected);
      CHECK(rgb(diagonal, 38 + c * 24 + 23, 15 + r * 24 + 23) == expected);
    }
  // The margins right of and below the matrix are white.
  CHECK(rgb(diagonal, 38 + 72, 15 + 72) == white);
  CHECK(rgb(diagonal, 37, 14) == white);

  // Column index "0" at x = 38 + (24 - 5) / 2 = 47, y = 4; its top row is
  // .###. . Row label "0 cat" at x = 4, y = 15 + (24 - 7) / 2 = 23.
  CHECK(rgb(diagonal, 48, 4) == std::vector<int>{0, 0, 0});
  CHECK(rgb(diagonal, 47, 4) == white);
  CHECK(rgb(diagonal, 5, 23) == std::vector<int>{0, 0, 0});
  CHECK(rgb(diagonal, 4, 23) == white);

  // Shares 1/4 and 3/4, rounded per channel; an empty row is white.
  Image mixed =
      kiln::confusionMatrixImage({1, 3, 0, 0, 0, 0, 0, 2, 2}, 3, {}, 10);
  // Labels are just "0".."2": x0 = 6 * 1 + 8 = 14.
  REQUIRE(mixed.width == 14 + 30 + 4);
  REQUIRE(mixed.height == 15 + 30 + 4);
  CHECK(rgb(mixed, 14 + 5, 15 + 5) == std::vector<int>{193, 203, 218});
  CHECK(rgb(mixed, 14 + 15, 15 + 5) == std::vector<int>{70, 100, 144});
  CHECK(rgb(mixed, 14 + 25, 15 + 5) == white);
  CHECK(rgb(mixed, 14 + 5, 15 + 15) == white);
  CHECK(rgb(mixed, 14 + 25, 15 + 25) == std::vector<int>{132, 152, 181});
}

TEST_CASE("confusionMatrixImage refuses inconsistent input", "[image]") {
  CHECK_THROWS_WITH(kiln::confusionMatrixImage({1, 2, 3}, 2, {}),
                    Contains("3 counts for 2 classes"));
  CHECK_THROWS_WITH(kiln::confusionMatrixImage({1, -2, 3, 4}, 2, {}),
                    Contains("negative"));
  CHECK_THROWS_WITH(kiln::confusionMatrixImage({1, 2, 3, 4}, 2, {"a"}),
                    Contains("1 class names for 2 classes"));
  CHECK_THROWS_WITH(kiln::confusionMatrixImage({}, 0, {}),
                    Contains("numClasses >= 1"));
}
