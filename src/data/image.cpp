// RGB8 images: PNG decode/encode with libpng, bilinear resize and horizontal flip (see image.hpp).
// libpng reports errors by longjmp; every libpng call sits in a small function whose frame owns no C++
// object with a destructor, and all buffers are allocated by the caller, so a longjmp skips no destructor.
#include "coordexp/data/image.hpp"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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

// Phase 2: the pixel rows, into buffers the caller owns.
bool png_read_rows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
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

}  // namespace

ImageRGB8 decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw_png_problem(name, "an empty file");
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    throw_png_problem(name, "no PNG signature in the first 8 bytes (not a PNG file)");

  PngIoState st;
  st.data = bytes.data();
  st.size = bytes.size();
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
  // (a 70-byte file claiming 30000 x 30000 pixels must not reserve 2.7 GB).
  constexpr std::uint64_t kMaxExpansion = 1032 * 24;
  const bool too_big_for_file = ok && std::uint64_t{width} * height * 3 > bytes.size() * kMaxExpansion;
  if (too_big_for_file) ok = false;
  ImageRGB8 image;
  if (ok) {
    try {
      image = ImageRGB8(static_cast<int>(width), static_cast<int>(height));
      std::vector<png_bytep> rows(height);
      for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.row(static_cast<int>(y));
      ok = png_read_rows(png, rows.data());
    } catch (...) {
      png_destroy_read_struct(&png, &info, nullptr);
      throw;
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (too_big_for_file)
    throw_png_problem(name, "a truncated file: its header claims " + std::to_string(width) + " x " +
                                std::to_string(height) + " pixels, more than " +
                                std::to_string(bytes.size()) + " bytes of PNG data can hold");
  if (!ok) throw_png_problem(name, std::string("a corrupt or truncated file (libpng: ") + st.message + ")");
  return image;
}

ImageRGB8 load_png(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_png_problem(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw_png_problem(path, "a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw_png_problem(path, std::string("a file that cannot be opened (") + std::strerror(errno) + ")");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_png_problem(path, "a read error");
  return decode_png(bytes, path);
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
