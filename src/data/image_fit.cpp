// Fitting images to the model frame (see image_fit.hpp).
#include "coordexp/data/image_fit.hpp"

#include <algorithm>
#include <cmath>

#include "coordexp/data/resample.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

ImageFitMode parse_image_fit_mode(const std::string& name) {
  if (name == "square") return ImageFitMode::kFitSquare;
  if (name == "letterbox") return ImageFitMode::kFitLetterbox;
  if (name == "native") return ImageFitMode::kFitNative;
  throw_input_error("image fit", "one of square, letterbox, native", "\"" + name + "\"");
}

const char* image_fit_mode_name(ImageFitMode mode) {
  switch (mode) {
    case ImageFitMode::kFitSquare:
      return "square";
    case ImageFitMode::kFitLetterbox:
      return "letterbox";
    case ImageFitMode::kFitNative:
      return "native";
  }
  return "square";
}

FitSize smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels, int64_t max_pixels,
                     const std::string& source) {
  if (height <= 0 || width <= 0)
    throw_input_error(source, "positive height and width",
                      std::to_string(height) + " x " + std::to_string(width));
  if (std::max(height, width) > 200 * std::min(height, width))
    throw_input_error(source, "an aspect ratio of at most 200",
                      std::to_string(height) + " x " + std::to_string(width));
  const double f = static_cast<double>(factor);
  // Python's round() rounds half to even, as std::nearbyint does in the default rounding mode.
  int64_t h = std::max<int64_t>(factor, static_cast<int64_t>(std::nearbyint(height / f)) * factor);
  int64_t w = std::max<int64_t>(factor, static_cast<int64_t>(std::nearbyint(width / f)) * factor);
  if (h * w > max_pixels) {
    const double beta = std::sqrt(static_cast<double>(height) * width / max_pixels);
    h = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(height / beta / f)) * factor);
    w = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(width / beta / f)) * factor);
  } else if (h * w < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (static_cast<double>(height) * width));
    h = static_cast<int64_t>(std::ceil(height * beta / f)) * factor;
    w = static_cast<int64_t>(std::ceil(width * beta / f)) * factor;
  }
  return {h, w};
}

BoxXYXY ImageFit::to_frame(const BoxXYXY& b) const {
  const double sx = static_cast<double>(content_width) / frame_width;
  const double sy = static_cast<double>(content_height) / frame_height;
  const double ox = static_cast<double>(pad_left) / frame_width,
               oy = static_cast<double>(pad_top) / frame_height;
  return {b.x1 * sx + ox, b.y1 * sy + oy, b.x2 * sx + ox, b.y2 * sy + oy};
}

BoxXYXY ImageFit::to_image(const BoxXYXY& b) const {
  const double sx = static_cast<double>(frame_width) / content_width;
  const double sy = static_cast<double>(frame_height) / content_height;
  const double ox = static_cast<double>(pad_left) / frame_width,
               oy = static_cast<double>(pad_top) / frame_height;
  auto x = [&](double v) { return std::clamp((v - ox) * sx, 0.0, 1.0); };
  auto y = [&](double v) { return std::clamp((v - oy) * sy, 0.0, 1.0); };
  return {x(b.x1), y(b.y1), x(b.x2), y(b.y2)};
}

ImageFit fit_image(int64_t width, int64_t height, const ImageFitConfig& config, const std::string& source) {
  if (width <= 0 || height <= 0)
    throw_input_error(source, "positive width and height",
                      std::to_string(width) + " x " + std::to_string(height));
  ImageFit f;
  switch (config.mode) {
    case ImageFitMode::kFitSquare:
      f.frame_width = f.frame_height = f.content_width = f.content_height = config.size;
      break;
    case ImageFitMode::kFitLetterbox: {
      const double scale = static_cast<double>(config.size) / static_cast<double>(std::max(width, height));
      f.frame_width = f.frame_height = config.size;
      f.content_width = std::clamp<int64_t>(std::llround(width * scale), 1, config.size);
      f.content_height = std::clamp<int64_t>(std::llround(height * scale), 1, config.size);
      f.pad_left = (config.size - f.content_width) / 2;
      f.pad_top = (config.size - f.content_height) / 2;
      break;
    }
    case ImageFitMode::kFitNative: {
      const FitSize s =
          smart_resize(height, width, config.factor, config.min_pixels, config.max_pixels, source);
      f.frame_width = f.content_width = s.width;
      f.frame_height = f.content_height = s.height;
      break;
    }
  }
  return f;
}

ImageRGB8 apply_fit(const ImageRGB8& image, const ImageFit& fit) {
  const ImageRGB8 content = image.width() == fit.content_width && image.height() == fit.content_height
                                ? image
                                : resize_bicubic_pil(image, static_cast<int>(fit.content_width),
                                                     static_cast<int>(fit.content_height));
  if (fit.frame_width == fit.content_width && fit.frame_height == fit.content_height) return content;
  ImageRGB8 frame(static_cast<int>(fit.frame_width), static_cast<int>(fit.frame_height), {128, 128, 128});
  const size_t row_bytes = static_cast<size_t>(fit.content_width) * 3;
  for (int64_t y = 0; y < fit.content_height; ++y)
    std::copy_n(content.row(static_cast<int>(y)), row_bytes,
                frame.row(static_cast<int>(y + fit.pad_top)) + fit.pad_left * 3);
  return frame;
}

}  // namespace coordexp
