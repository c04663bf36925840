// 8-bit RGB images: the one pixel type the data, report and training code exchange. PNG load/save through
// libpng (any PNG colour type is converted to RGB8 on load; alpha is dropped), bilinear resize and flip;
// PNG or JPEG by content, DCT scaling and EXIF orientation are in image_decode.hpp (load_image).
// Contract: a missing, empty, truncated or corrupt file gives an InputError naming the file and the problem,
// never a crash; pixels are row-major, 3 bytes per pixel (R, G, B), no row padding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coordexp {

struct RgbColor {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const RgbColor&) const = default;
};

class ImageRGB8 {
 public:
  ImageRGB8() = default;
  // A width x height image filled with `fill`; both sides must be > 0.
  ImageRGB8(int width, int height, RgbColor fill = {});

  int width() const { return width_; }
  int height() const { return height_; }
  bool empty() const { return pixels_.empty(); }
  // Row-major RGB bytes, size width * height * 3.
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }
  std::vector<std::uint8_t>& pixels() { return pixels_; }
  std::uint8_t* row(int y) { return pixels_.data() + static_cast<std::size_t>(y) * width_ * 3; }
  const std::uint8_t* row(int y) const { return pixels_.data() + static_cast<std::size_t>(y) * width_ * 3; }
  // Unchecked pixel access: 0 <= x < width, 0 <= y < height.
  RgbColor at(int x, int y) const {
    const std::uint8_t* p = row(y) + 3 * x;
    return {p[0], p[1], p[2]};
  }
  void set(int x, int y, RgbColor c) {
    std::uint8_t* p = row(y) + 3 * x;
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  bool operator==(const ImageRGB8&) const = default;

 private:
  int width_ = 0, height_ = 0;
  std::vector<std::uint8_t> pixels_;
};

// Largest side accepted on load (guards against absurd headers allocating gigabytes; image_decode.hpp's
// kMaxImagePixels bounds the area as well).
inline constexpr int kMaxImageSide = 32768;

// Reads a PNG file of any colour type / bit depth into RGB8 (16-bit samples keep their high byte). Throws
// InputError "<path>: ..." when the file is missing, empty, not a PNG, truncated or corrupt, or over
// kMaxImageSide / kMaxImagePixels. load_image (image_decode.hpp) reads JPEG too.
ImageRGB8 load_png(const std::string& path);
// Decodes PNG bytes held in memory; `name` is used in error messages in place of a path.
ImageRGB8 decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name = "<memory>");

// Encodes to PNG bytes (8-bit RGB, zlib level `compression_level` 0..9; levels 0..3 use only the Sub row
// filter, which is fast, 4..9 let libpng pick a filter per row). Same image and level -> same bytes.
std::vector<std::uint8_t> encode_png(const ImageRGB8& image, int compression_level = 6);
// Writes a PNG file (via a temporary file renamed into place). Throws InputError naming the path if the
// file cannot be written.
void save_png(const ImageRGB8& image, const std::string& path, int compression_level = 6);

// Bilinear resize with half-pixel centres (as torch's interpolate(mode="bilinear", align_corners=False,
// antialias=False)); output sides must be > 0.
ImageRGB8 resize_bilinear(const ImageRGB8& image, int width, int height);
// Mirrors left-right: pixel (x, y) moves to (width - 1 - x, y). A box [x1, x2] in pixel-edge coordinates
// becomes [width - x2, width - x1].
ImageRGB8 flip_horizontal(const ImageRGB8& image);

}  // namespace coordexp
