// Reading image files of any supported format into RGB8: PNG (libpng) or JPEG (libjpeg-turbo's TurboJPEG),
// chosen by the file's first bytes, never its extension. Contract: bad bytes are an InputError naming the
// file and the problem, never a crash; a header is checked against the size limits before any pixel buffer.
//
// EXIF orientation is read but NOT applied by default: COCO-style annotations (COCO, LVIS, Objects365, VOC)
// index the pixels as stored, and a loader that rotates them moves every box. Set
// DecodeOptions::apply_exif_orientation for data annotated on images shown upright by a viewer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"

namespace coordexp {

// Largest width * height accepted from a header (decompression bomb guard), checked before allocating:
// Pillow's limit (it raises DecompressionBombError above 2 * Image.MAX_IMAGE_PIXELS = 2 * 89,478,485), so
// whatever Pillow opens opens here too. 179 M pixels is 537 MB of RGB8.
inline constexpr std::int64_t kMaxImagePixels = 2 * std::int64_t{89'478'485};

enum class ImageFormat {
  kImageFormatPng,
  kImageFormatJpeg,
};
std::string image_format_name(ImageFormat format);  // "PNG", "JPEG"

struct DecodeOptions {
  // The size the caller will resize the decoded image to (in the orientation it is returned in), or 0 x 0
  // for none. It only picks a JPEG DCT scale (see jpeg_scale_denominator); the result is never resized to
  // it. Note: a DCT-scaled decode differs slightly from a full decode + resize, so leave it 0 x 0 where
  // pixels must match a reference pipeline that decodes in full (transformers' Qwen2-VL processor).
  int target_width = 0;
  int target_height = 0;
  // Rotate / flip the pixels as the EXIF Orientation tag (1..8, JPEG APP1 or PNG eXIf) says, as Pillow's
  // ImageOps.exif_transpose does. Off by default: stored pixels are what COCO boxes index.
  bool apply_exif_orientation = false;
  // Headers claiming more pixels than this (or a side over kMaxImageSide) are refused before allocating.
  std::int64_t max_pixels = kMaxImagePixels;
};

// A decoded image and where it came from. `pixels` may be smaller than the image (JPEG DCT scaling):
// pixels.width() == ceil(original_width / scale_denominator), likewise for the height. It covers the same
// area, so boxes normalised to the original image apply to `pixels` as they are (its last column and row
// may stand for fewer than scale_denominator stored pixels, as with Pillow's draft).
struct DecodedImage {
  ImageRGB8 pixels;
  // Full-resolution size, in the orientation of `pixels` (the header's size, sides swapped when an EXIF
  // orientation 5..8 was applied).
  int original_width = 0;
  int original_height = 0;
  int scale_denominator = 1;  // 1, 2, 4 or 8: the DCT scale the JPEG was decoded at (always 1 for PNG)
  // The EXIF Orientation tag found (1..8; 1 when absent or invalid), whether applied or not.
  int exif_orientation = 1;
  ImageFormat format = ImageFormat::kImageFormatPng;
  // libjpeg-turbo's warning on a JPEG it decoded anyway (e.g. "Corrupt JPEG data: 3 extraneous bytes before
  // marker 0xd9"), or empty: such files load, as in Pillow, and a dataset checker can count them.
  std::string warning;
};

// Decodes a PNG or JPEG file. Throws InputError "<path>: expected ..., found ..." when the file is missing,
// empty, neither format, truncated (a JPEG missing data is an error, not grey rows: see decode_image),
// corrupt, or over the size limits.
DecodedImage load_image(const std::string& path, const DecodeOptions& options = {});
// Decodes PNG or JPEG bytes held in memory; `name` stands for the path in error messages.
// JPEG: baseline, progressive (at most 500 scans) and arithmetic-coded; greyscale is replicated to RGB;
// CMYK / YCCK are read as Adobe (inverted) CMYK, as Pillow reads every CMYK JPEG, and converted with
// Pillow's integer arithmetic (R = K' - round((255 - C') * K' / 255) in the stored, inverted values), so
// the RGB bytes equal Pillow's convert("RGB"). libjpeg-turbo warnings about missing data
// ("Premature end of JPEG file", "premature end of data segment") are errors; other warnings (extraneous
// bytes before a marker, an unknown JFIF version, ...) are tolerated as Pillow tolerates them.
// PNG: any colour type and bit depth to RGB8 (16-bit samples keep their high byte; alpha is dropped).
DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name = "<memory>",
                          const DecodeOptions& options = {});

// The DCT scale a JPEG of stored_width x stored_height is decoded at for a target size (as Pillow's
// Image.draft does): the largest of 8, 4, 2 with stored_width >= m * target_width and
// stored_height >= m * target_height (so the scaled image, ceil(stored / m), still covers the target),
// else 1. A target of 0 x 0 means none (1).
int jpeg_scale_denominator(int stored_width, int stored_height, int target_width, int target_height);

// The image turned upright as an EXIF Orientation value says (PIL.ImageOps.exif_transpose): 2 mirror
// left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate
// 90 counter-clockwise; 1 and unknown values return the image unchanged. 5..8 swap width and height.
ImageRGB8 exif_transpose(const ImageRGB8& image, int exif_orientation);

struct JpegEncodeOptions {
  int quality = 90;                // 1..100, libjpeg's quality scale
  bool progressive = false;        // progressive (several scans) instead of baseline
  bool grayscale = false;          // one luminance channel
  bool chroma_subsampling = true;  // 4:2:0 chroma (false: 4:4:4); ignored for grayscale
};
// Encodes to JPEG bytes with TurboJPEG (tests, seed corpora, and users who want JPEG output).
std::vector<std::uint8_t> encode_jpeg(const ImageRGB8& image, const JpegEncodeOptions& options = {});

}  // namespace coordexp
