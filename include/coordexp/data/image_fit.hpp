// How an image is fitted to the frame a model sees, and how boxes move between the two frames. Boxes in
// datasets, predictions, drawings and evaluation are normalised to the original image ([0, 1] of its width
// and height); targets and generated coordinates are normalised to the model frame. Three fits:
//   square     resized to S x S, aspect not kept (the tiny model's default; the frames' normalised
//              coordinates are the same);
//   letterbox  resized to fit S x S with its aspect kept, centred, the rest padded with grey;
//   native     Qwen2-VL's smart resize: the closest size whose sides are multiples of `factor` (28) with an
//              area in [min_pixels, max_pixels], aspect kept as far as the rounding allows (the frames'
//              normalised coordinates are the same).
// Resampling is Pillow's bicubic (resample.hpp), as Qwen2-VL's image processor does.
#pragma once

#include <cstdint>
#include <string>

#include "coordexp/data/image.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

enum class ImageFitMode { kFitSquare, kFitLetterbox, kFitNative };
ImageFitMode parse_image_fit_mode(const std::string& name);  // "square", "letterbox", "native"
const char* image_fit_mode_name(ImageFitMode mode);

struct ImageFitConfig {
  ImageFitMode mode = ImageFitMode::kFitSquare;
  int64_t size = 128;                   // S, the side of the square / letterbox frame
  int64_t factor = 28;                  // native: sides are multiples of this (patch * merge)
  int64_t min_pixels = 56 * 56;         // native: least area
  int64_t max_pixels = 28 * 28 * 1280;  // native: most area
};

// Qwen2-VL's smart_resize: (height, width) of the native fit. An aspect ratio over 200 or a non-positive
// side is an InputError naming `source`.
struct FitSize {
  int64_t height = 0, width = 0;
};
FitSize smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels, int64_t max_pixels,
                     const std::string& source = "image");

// Where an image of width x height lands in the model frame: frame size, the resized image's size and its
// offset (letterbox padding, left and top).
struct ImageFit {
  int64_t frame_width = 0, frame_height = 0;
  int64_t content_width = 0, content_height = 0;
  int64_t pad_left = 0, pad_top = 0;
  // Normalised image coordinates -> normalised model-frame coordinates, and back (clamped to [0, 1]).
  BoxXYXY to_frame(const BoxXYXY& image_box) const;
  BoxXYXY to_image(const BoxXYXY& frame_box) const;
};
ImageFit fit_image(int64_t width, int64_t height, const ImageFitConfig& config,
                   const std::string& source = "image");

// The model-frame picture: `image` resized to the content size (Pillow bicubic) and padded with grey
// (128, 128, 128) around it.
ImageRGB8 apply_fit(const ImageRGB8& image, const ImageFit& fit);

}  // namespace coordexp
