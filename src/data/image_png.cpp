// PNG decode / encode with libpng (see image.hpp and image_decode.hpp): any colour type and bit depth to
// RGB8, the eXIf chunk handed back for EXIF orientation, headers checked against the size limits first.
// libpng reports errors by longjmp; every libpng call sits in a small function whose frame owns no C++
// object with a destructor, and all buffers are allocated by the caller, so a longjmp skips no destructor.
#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "coordexp/data/image.hpp"
#include "coordexp/util/error.hpp"
#include "image_codecs.hpp"

namespace coordexp {

namespace {

// Shared between libpng callbacks and the caller; plain data only.
struct PngIoState {
  const std::uint8_t* data = nullptr;  // input bytes (reading)
  std::size_t size = 0;
  std::size_t pos = 0;
  std::vector<std::uint8_t>* out = nullptr;  // output bytes (writing)
  bool out_of_memory = false;
  char message[256] = {0};  // the first libpng error message
};

void png_error_to_state(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngIoState*>(png_get_error_ptr(png));
  if (st && st->message[0] == 0) std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "?");
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

void png_read_from_memory(png_structp png, png_bytep dst, png_size_t n) {
  auto* st = static_cast<PngIoState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) png_error(png, "truncated data (the file ends before the image does)");
  std::memcpy(dst, st->data + st->pos, n);
  st->pos += n;
}

void png_write_to_vector(png_structp png, png_bytep src, png_size_t n) {
  auto* st = static_cast<PngIoState*>(png_get_io_ptr(png));
  try {
    st->out->insert(st->out->end(), src, src + n);
  } catch (...) {
    st->out_of_memory = true;
    png_error(png, "out of memory");
  }
}

void png_flush_nothing(png_structp) {}

// Phase 1: signature, header and transforms to 8-bit RGB. Returns false on error (message in st).
bool png_read_header(png_structp png, png_infop info, png_uint_32* width, png_uint_32* height,
                     std::size_t* rowbytes) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_read_info(png, info);
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, width, height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) {
    png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
  }
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *rowbytes = png_get_rowbytes(png, info);
  return true;
}

// Phase 2: the pixel rows, into buffers the caller owns, then the chunks after them (where eXIf may be).
bool png_read_rows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

bool png_write_all(png_structp png, png_infop info, png_uint_32 width, png_uint_32 height, png_bytepp rows,
                   int level) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_compression_level(png, level);
  // Fast levels also skip libpng's per-row search over all five filters: Sub alone is about as good on
  // noisy synthetic images and several times cheaper.
  if (level <= 3) png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

[[noreturn]] void throw_png_problem(const std::string& name, const std::string& found) {
  throw_input_error(name, "a readable PNG image", found);
}

// The size in IHDR, which the PNG format puts first (bytes 16..23), checked before libpng allocates anything.
void check_png_header_size(const std::uint8_t* data, std::size_t size, const std::string& name,
                           std::int64_t max_pixels) {
  if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0) return;  // libpng reports the broken layout
  auto u32 = [&](std::size_t at) {
    return std::int64_t{data[at]} << 24 | std::int64_t{data[at + 1]} << 16 | std::int64_t{data[at + 2]} << 8 |
           std::int64_t{data[at + 3]};
  };
  image_detail::check_header_size(name, "a readable PNG image", u32(16), u32(20), max_pixels);
}

}  // namespace

namespace image_detail {

ImageRGB8 decode_png_rgb8(const std::uint8_t* data, std::size_t size, const std::string& name,
                          std::int64_t max_pixels, std::vector<std::uint8_t>* exif) {
  if (size == 0) throw_png_problem(name, "an empty file");
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0)
    throw_png_problem(name, "no PNG signature in the first 8 bytes (not a PNG file)");
  check_png_header_size(data, size, name, max_pixels);

  PngIoState st;
  st.data = data;
  st.size = size;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_error_to_state, png_ignore_warning);
  if (!png) throw std::bad_alloc();
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw std::bad_alloc();
  }
  png_set_read_fn(png, &st, png_read_from_memory);

  png_uint_32 width = 0, height = 0;
  std::size_t rowbytes = 0;
  bool ok = png_read_header(png, info, &width, &height, &rowbytes);
  if (ok && (width == 0 || height == 0 || rowbytes != static_cast<std::size_t>(width) * 3)) {
    std::snprintf(st.message, sizeof st.message, "an unsupported pixel layout (%u x %u, %zu bytes per row)",
                  width, height, rowbytes);
    ok = false;
  }
  // Deflate expands at most 1032:1 and a byte of 1-bit pixels becomes 24 RGB bytes, so n bytes of file
  // cannot hold more than n * 1032 * 24 bytes of image: refuse a header that claims more before allocating
  // (a 70-byte file claiming 12000 x 12000 pixels must not reserve 432 MB).
  constexpr std::uint64_t kMaxExpansion = 1032 * 24;
  const bool too_big_for_file = ok && std::uint64_t{width} * height * 3 > size * kMaxExpansion;
  if (too_big_for_file) ok = false;
  ImageRGB8 image;
  if (ok) {
    try {
      image = ImageRGB8(static_cast<int>(width), static_cast<int>(height));
      std::vector<png_bytep> rows(height);
      for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.row(static_cast<int>(y));
      ok = png_read_rows(png, info, rows.data());
      png_uint_32 exif_size = 0;
      png_bytep exif_data = nullptr;
      if (ok && exif && png_get_eXIf_1(png, info, &exif_size, &exif_data) && exif_data)
        exif->assign(exif_data, exif_data + exif_size);
    } catch (...) {
      png_destroy_read_struct(&png, &info, nullptr);
      throw;
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (too_big_for_file)
    throw_png_problem(name, "a truncated file: its header claims " + std::to_string(width) + " x " +
                                std::to_string(height) + " pixels, more than " + std::to_string(size) +
                                " bytes of PNG data can hold");
  if (!ok) throw_png_problem(name, std::string("a corrupt or truncated file (libpng: ") + st.message + ")");
  return image;
}

}  // namespace image_detail

ImageRGB8 decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  return image_detail::decode_png_rgb8(bytes.data(), bytes.size(), name, kMaxImagePixels, nullptr);
}

ImageRGB8 load_png(const std::string& path) {
  const std::vector<std::uint8_t> bytes = image_detail::read_file_bytes(path, "a readable PNG image");
  return image_detail::decode_png_rgb8(bytes.data(), bytes.size(), path, kMaxImagePixels, nullptr);
}

std::vector<std::uint8_t> encode_png(const ImageRGB8& image, int compression_level) {
  COORDEXP_CHECK_ARG(!image.empty(), "image", "a non-empty image", "an empty image");
  COORDEXP_CHECK_ARG(compression_level >= 0 && compression_level <= 9, "compression_level", "0..9",
                     std::to_string(compression_level));
  std::vector<std::uint8_t> out;
  out.reserve(image.pixels().size() / 2 + 1024);
  std::vector<png_bytep> rows(image.height());
  for (int y = 0; y < image.height(); ++y) rows[y] = const_cast<png_bytep>(image.row(y));

  PngIoState st;
  st.out = &out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_error_to_state, png_ignore_warning);
  if (!png) throw std::bad_alloc();
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw std::bad_alloc();
  }
  png_set_write_fn(png, &st, png_write_to_vector, png_flush_nothing);
  bool ok = png_write_all(png, info, image.width(), image.height(), rows.data(), compression_level);
  png_destroy_write_struct(&png, &info);
  if (st.out_of_memory) throw std::bad_alloc();
  if (!ok) throw std::runtime_error(std::string("PNG encoding failed: ") + st.message);
  return out;
}

void save_png(const ImageRGB8& image, const std::string& path, int compression_level) {
  std::vector<std::uint8_t> bytes = encode_png(image, compression_level);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_input_error(path, "a writable file", std::string("an error: ") + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw_input_error(path, "a writable file", "a write error (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw_input_error(path, "a writable file", "a rename error: " + ec.message());
}

}  // namespace coordexp
