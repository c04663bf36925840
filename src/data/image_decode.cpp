// Image files of any supported format (see image_decode.hpp): the format from the first bytes, the file read
// whole, every header held to the size limits, and errors that name the file. The decoders themselves are
// image_png.cpp and image_jpeg.cpp.
#include "coordexp/data/image_decode.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "coordexp/util/error.hpp"
#include "image_codecs.hpp"

namespace coordexp {

namespace {

constexpr const char* kExpectedImage = "a PNG or JPEG image";

bool has_png_signature(const std::uint8_t* data, std::size_t size) {
  static constexpr std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return size >= 8 && std::memcmp(data, kPng, 8) == 0;
}

// SOI then the first marker's 0xFF: what every JPEG (JFIF, EXIF, Adobe, raw) starts with.
bool has_jpeg_signature(const std::uint8_t* data, std::size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

// "3a 5f 00 12" for up to the first four bytes.
std::string first_bytes_hex(const std::uint8_t* data, std::size_t size) {
  std::string hex;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 4); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", data[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace

namespace image_detail {

std::vector<std::uint8_t> read_file_bytes(const std::string& path, const std::string& expected) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_input_error(path, expected, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw_input_error(path, expected, "a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw_input_error(path, expected,
                      std::string("a file that cannot be opened (") + std::strerror(errno) + ")");
  in.seekg(0, std::ios::end);
  const std::streamoff length = in.tellg();
  in.seekg(0, std::ios::beg);
  std::vector<std::uint8_t> bytes(length > 0 ? static_cast<std::size_t>(length) : 0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (length < 0 || !in) throw_input_error(path, expected, "a read error");
  if (bytes.empty()) throw_input_error(path, expected, "an empty file (0 bytes)");
  return bytes;
}

void check_header_size(const std::string& name, const std::string& expected, std::int64_t width,
                       std::int64_t height, std::int64_t max_pixels) {
  const std::string claim =
      "a header claiming " + std::to_string(width) + " x " + std::to_string(height) + " pixels";
  if (width <= 0 || height <= 0) throw_input_error(name, expected, claim);
  if (width > kMaxImageSide || height > kMaxImageSide)
    throw_input_error(name, expected,
                      claim + ", over the limit of " + std::to_string(kMaxImageSide) + " a side",
                      "a decompression bomb or a corrupt header");
  if (width * height > max_pixels)
    throw_input_error(name, expected,
                      claim + " (" + std::to_string(width * height) + "), over the budget of " +
                          std::to_string(max_pixels) + " pixels",
                      "a decompression bomb or a corrupt header; if the image is genuine, raise "
                      "DecodeOptions::max_pixels");
}

}  // namespace image_detail

std::string image_format_name(ImageFormat format) {
  return format == ImageFormat::kImageFormatJpeg ? "JPEG" : "PNG";
}

DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name,
                          const DecodeOptions& options) {
  COORDEXP_CHECK_ARG(options.max_pixels > 0, "max_pixels", "> 0", std::to_string(options.max_pixels));
  jpeg_scale_denominator(1, 1, options.target_width, options.target_height);  // checks the target size
  const std::uint8_t* data = bytes.data();
  const std::size_t size = bytes.size();
  if (size == 0) throw_input_error(name, kExpectedImage, "an empty file (0 bytes)");
  if (has_jpeg_signature(data, size)) return image_detail::decode_jpeg(data, size, name, options);
  if (!has_png_signature(data, size))
    throw_input_error(name, kExpectedImage,
                      "a file starting with " + first_bytes_hex(data, size) + ": not a PNG or JPEG signature",
                      "a PNG starts with 89 50 4e 47, a JPEG with ff d8 ff; the extension does not matter");
  DecodedImage out;
  std::vector<std::uint8_t> exif;
  out.pixels = image_detail::decode_png_rgb8(data, size, name, options.max_pixels, &exif);
  out.format = ImageFormat::kImageFormatPng;
  out.original_width = out.pixels.width();
  out.original_height = out.pixels.height();
  if (!exif.empty()) {
    exif.insert(exif.begin(), {'E', 'x', 'i', 'f', 0, 0});  // libexif reads the JPEG APP1 layout
    out.exif_orientation = image_detail::exif_orientation_from_app1(exif.data(), exif.size());
  }
  if (options.apply_exif_orientation && out.exif_orientation != 1) {
    out.pixels = exif_transpose(out.pixels, out.exif_orientation);
    if (out.exif_orientation >= 5) std::swap(out.original_width, out.original_height);
  }
  return out;
}

DecodedImage load_image(const std::string& path, const DecodeOptions& options) {
  return decode_image(image_detail::read_file_bytes(path, kExpectedImage), path, options);
}

}  // namespace coordexp
