// Private pieces of image decoding shared by src/data/image_*.cpp (src/data only): the PNG and JPEG decoders
// behind decode_image, the size check every header passes before a pixel buffer exists, file reading, and
// the EXIF Orientation reader. Errors are InputErrors naming `name` (the path, or a stand-in for it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/data/image_decode.hpp"

namespace coordexp::image_detail {

// The whole file; InputError "<path>: expected <expected>, found ..." when it is missing, a directory,
// unreadable or empty.
std::vector<std::uint8_t> read_file_bytes(const std::string& path, const std::string& expected);

// Throws InputError naming `name` when a header's width x height has a side outside 1..kMaxImageSide or more
// than `max_pixels` pixels (a decompression bomb), before anything is allocated for it.
void check_header_size(const std::string& name, const std::string& expected, std::int64_t width,
                       std::int64_t height, std::int64_t max_pixels);

// PNG bytes to RGB8 (see decode_image). When `exif` is not null it receives the payload of the eXIf chunk
// (TIFF layout, "MM\0*" or "II*\0", without JPEG's "Exif\0\0"), or is left empty when there is none.
ImageRGB8 decode_png_rgb8(const std::uint8_t* data, std::size_t size, const std::string& name,
                          std::int64_t max_pixels, std::vector<std::uint8_t>* exif);

// JPEG bytes to a DecodedImage (see decode_image; DCT scale and orientation included).
DecodedImage decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name,
                         const DecodeOptions& options);

// The Orientation tag (IFD0, 0x0112) of EXIF data laid out as in a JPEG APP1 segment ("Exif\0\0", then
// TIFF), read with libexif: 1..8, or 1 when there is no such tag, its value is outside 1..8, or the data
// cannot be parsed (a broken EXIF block never fails a decode, as in Pillow).
int exif_orientation_from_app1(const std::uint8_t* data, std::size_t size);

// The payload of a JPEG's first EXIF APP1 segment (from "Exif\0\0" on), searched among the markers before the
// first scan; size 0 when there is none. Never reads past `size`.
struct ByteRange {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};
ByteRange find_jpeg_exif(const std::uint8_t* data, std::size_t size);

}  // namespace coordexp::image_detail
