// Fuzzes decode_image: PNG (libpng) or JPEG (TurboJPEG, with libexif reading the EXIF Orientation) by the
// first bytes. Bad bytes are an InputError; an image that decodes has consistent sizes, a DCT scale of 1, 2,
// 4 or 8 and an orientation of 1..8. Every input applies EXIF orientation and odd-length inputs ask for the
// smallest DCT scale, so the rotated and scaled paths run too; a 4 M pixel budget keeps runs fast.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "coordexp/data/image_decode.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  coordexp::DecodeOptions options;
  options.apply_exif_orientation = true;
  options.max_pixels = std::int64_t{1} << 22;
  if (size & 1) options.target_width = options.target_height = 1;
  coordexp::DecodedImage im;
  try {
    im = coordexp::decode_image(bytes, "fuzz.img", options);
  } catch (const coordexp::InputError&) {
    return 0;
  }
  const coordexp::ImageRGB8& px = im.pixels;
  if (px.width() <= 0 || px.height() <= 0) std::abort();
  if (px.pixels().size() != static_cast<size_t>(px.width()) * px.height() * 3) std::abort();
  const int m = im.scale_denominator;
  if (m != 1 && m != 2 && m != 4 && m != 8) std::abort();
  if (im.format == coordexp::ImageFormat::kImageFormatPng && m != 1) std::abort();
  if (px.width() != (im.original_width + m - 1) / m || px.height() != (im.original_height + m - 1) / m)
    std::abort();
  if (static_cast<std::int64_t>(im.original_width) * im.original_height > options.max_pixels) std::abort();
  if (im.exif_orientation < 1 || im.exif_orientation > 8) std::abort();
  return 0;
}
