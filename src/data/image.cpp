// RGB8 images: the pixel container, bilinear resize and horizontal flip (see image.hpp). PNG coding lives
// in image_png.cpp, JPEG in image_jpeg.cpp, format dispatch in image_decode.cpp.
#include "coordexp/data/image.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "coordexp/util/error.hpp"

namespace coordexp {

ImageRGB8::ImageRGB8(int width, int height, RgbColor fill) : width_(width), height_(height) {
  COORDEXP_CHECK_ARG(width > 0 && height > 0, "image size", "width > 0 and height > 0",
                     std::to_string(width) + "x" + std::to_string(height));
  pixels_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = fill.r, pixels_[i + 1] = fill.g, pixels_[i + 2] = fill.b;
  }
}

ImageRGB8 resize_bilinear(const ImageRGB8& image, int width, int height) {
  COORDEXP_CHECK_ARG(!image.empty(), "image", "a non-empty image", "an empty image");
  COORDEXP_CHECK_ARG(width > 0 && height > 0, "resize size", "width > 0 and height > 0",
                     std::to_string(width) + "x" + std::to_string(height));
  const int in_w = image.width(), in_h = image.height();
  if (in_w == width && in_h == height) return image;
  // Source coordinate of each output column / row, precomputed once.
  struct Tap {
    int i0, i1;
    float w1;
  };
  auto taps = [](int in, int out) {
    std::vector<Tap> t(out);
    const double scale = static_cast<double>(in) / out;
    for (int o = 0; o < out; ++o) {
      double src = std::max(0.0, (o + 0.5) * scale - 0.5);
      int i0 = std::min(static_cast<int>(src), in - 1);
      int i1 = std::min(i0 + 1, in - 1);
      t[o] = {i0, i1, static_cast<float>(src - i0)};
    }
    return t;
  };
  const std::vector<Tap> tx = taps(in_w, width), ty = taps(in_h, height);
  ImageRGB8 out(width, height);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* r0 = image.row(ty[y].i0);
    const std::uint8_t* r1 = image.row(ty[y].i1);
    const float wy1 = ty[y].w1, wy0 = 1.0f - wy1;
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < width; ++x) {
      const int a = 3 * tx[x].i0, b = 3 * tx[x].i1;
      const float wx1 = tx[x].w1, wx0 = 1.0f - wx1;
      for (int c = 0; c < 3; ++c) {
        float top = r0[a + c] * wx0 + r0[b + c] * wx1;
        float bottom = r1[a + c] * wx0 + r1[b + c] * wx1;
        float v = top * wy0 + bottom * wy1;
        dst[3 * x + c] = static_cast<std::uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
      }
    }
  }
  return out;
}

ImageRGB8 flip_horizontal(const ImageRGB8& image) {
  ImageRGB8 out = image;
  const int w = image.width();
  for (int y = 0; y < image.height(); ++y) {
    const std::uint8_t* src = image.row(y);
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < w; ++x) std::memcpy(dst + 3 * (w - 1 - x), src + 3 * x, 3);
  }
  return out;
}

}  // namespace coordexp
