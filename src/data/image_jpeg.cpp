// JPEG decode / encode through libjpeg-turbo's TurboJPEG API (see image_decode.hpp): header checked against
// the size limits before any pixel buffer, DCT scaling for a target size, CMYK / YCCK converted as Pillow
// converts Adobe CMYK, EXIF orientation, and libjpeg-turbo's warnings sorted into tolerated and fatal.
#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string_view>

#include "coordexp/data/image_decode.hpp"
#include "coordexp/util/error.hpp"
#include "image_codecs.hpp"

namespace coordexp {

namespace {

constexpr const char* kExpectedJpeg = "a readable JPEG image";

struct TjDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroy>;

// TurboJPEG keeps the first warning's text, or the error's text when an error follows warnings; both go to
// a thread-local buffer, so this is read right after the failing call on the same thread.
std::string tj_message(tjhandle tj) {
  const char* msg = tjGetErrorStr2(tj);
  return msg && *msg ? msg : "unknown error";
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

// libjpeg's warnings that say the data ends (or a marker arrives) before the image does: what is missing
// would be decoded as grey rows, so they are errors here (Pillow raises "image file is truncated" too).
bool is_missing_data_warning(const std::string& msg) {
  return starts_with(msg, "Premature end of JPEG file") ||
         starts_with(msg, "Corrupt JPEG data: premature end of data segment");
}

// The other warnings libjpeg-turbo 2.1 emits (jerror.h, JWRN_*; no error's text starts like these): libjpeg
// decodes on, and so does Pillow.
bool is_tolerated_warning(const std::string& msg) {
  static constexpr std::array<std::string_view, 6> kTolerated = {
      "Corrupt JPEG data: ",  // extraneous bytes before a marker, bad Huffman / arithmetic code, bad ICC, RST
      "Unknown Adobe color transform code",
      "Inconsistent progression sequence",
      "Warning: unknown JFIF revision number",
      "Invalid SOS parameters for sequential JPEG",
      "Application transferred too many scanlines",
  };
  if (is_missing_data_warning(msg)) return false;
  for (std::string_view prefix : kTolerated)
    if (starts_with(msg, prefix)) return true;
  return false;
}

// After a TurboJPEG call returned -1: returns the text of a tolerated warning, or throws the InputError.
std::string tolerated_warning_or_throw(tjhandle tj, const std::string& name) {
  const std::string msg = tj_message(tj);
  const bool warning_only = tjGetErrorCode(tj) == TJERR_WARNING;
  if (warning_only && is_missing_data_warning(msg))
    throw_input_error(name, kExpectedJpeg,
                      "a truncated file: the data ends before the image does (libjpeg-turbo: " + msg + ")",
                      "re-download or re-encode the file; missing rows would be decoded as grey");
  // A fatal error after a warning still reports TJERR_WARNING, but its text is the error's, not a warning's.
  if (warning_only && is_tolerated_warning(msg)) return msg;
  throw_input_error(name, kExpectedJpeg, "a corrupt file (libjpeg-turbo: " + msg + ")");
}

struct JpegHeader {
  int width = 0, height = 0;
  int colorspace = TJCS_YCbCr;  // TJCS_*
};

JpegHeader read_jpeg_header(tjhandle tj, const std::uint8_t* data, std::size_t size,
                            const std::string& name) {
  JpegHeader header;
  int subsampling = 0;
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &header.width, &header.height,
                          &subsampling, &header.colorspace) != 0)
    tolerated_warning_or_throw(tj, name);
  if (header.width <= 0 || header.height <= 0)
    throw_input_error(name, kExpectedJpeg, "a JPEG stream with no image in it (tables only)");
  return header;
}

// Pillow's CMYK -> RGB (libImaging/Convert.c cmyk2rgb) on libjpeg's output, which for Adobe files (all but
// a few) is inverted: Pillow unpacks it as "CMYK;I", so its C = 255 - c' and its 255 - K = k'.
void adobe_cmyk_to_rgb(const std::uint8_t* cmyk, std::size_t pixel_count, std::uint8_t* rgb) {
  for (std::size_t i = 0; i < pixel_count; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];
    for (int c = 0; c < 3; ++c) {
      const int tmp = (255 - cmyk[c]) * nk + 128;  // Pillow's MULDIV255: round(a * b / 255)
      rgb[c] = static_cast<std::uint8_t>(nk - (((tmp >> 8) + tmp) >> 8));
    }
  }
}

struct ScaledDecode {
  ImageRGB8 pixels;
  std::string warning;
};

ScaledDecode decompress(tjhandle tj, const std::uint8_t* data, std::size_t size, const JpegHeader& header,
                        int scale_denominator, const std::string& name) {
  const tjscalingfactor factor{1, scale_denominator};
  const int width = TJSCALED(header.width, factor), height = TJSCALED(header.height, factor);
  const bool cmyk = header.colorspace == TJCS_CMYK || header.colorspace == TJCS_YCCK;
  ScaledDecode out{ImageRGB8(width, height), ""};
  std::vector<std::uint8_t> cmyk_pixels;
  if (cmyk) cmyk_pixels.resize(static_cast<std::size_t>(width) * height * 4);
  std::uint8_t* dst = cmyk ? cmyk_pixels.data() : out.pixels.pixels().data();
  // TJFLAG_LIMITSCANS: more than 500 progressive scans is an error (a known CPU-exhaustion input).
  // tjDecompress2 picks the largest scaling factor whose output fits width x height: 1 / scale_denominator,
  // or for a few-pixel image another factor giving the same size.
  if (tjDecompress2(tj, data, static_cast<unsigned long>(size), dst, width, 0, height,
                    cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS) != 0)
    out.warning = tolerated_warning_or_throw(tj, name);
  if (cmyk)
    adobe_cmyk_to_rgb(cmyk_pixels.data(), static_cast<std::size_t>(width) * height,
                      out.pixels.pixels().data());
  return out;
}

}  // namespace

int jpeg_scale_denominator(int stored_width, int stored_height, int target_width, int target_height) {
  COORDEXP_CHECK_ARG(target_width >= 0 && target_height >= 0 && (target_width > 0) == (target_height > 0),
                     "target size", "both sides > 0, or 0 x 0 for none",
                     std::to_string(target_width) + " x " + std::to_string(target_height));
  if (target_width == 0 || stored_width <= 0 || stored_height <= 0) return 1;
  const int fit = std::min(stored_width / target_width, stored_height / target_height);
  for (int m : {8, 4, 2})
    if (fit >= m) return m;
  return 1;
}

namespace image_detail {

DecodedImage decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name,
                         const DecodeOptions& options) {
  TjHandle tj(tjInitDecompress());
  if (!tj) throw std::bad_alloc();
  const JpegHeader header = read_jpeg_header(tj.get(), data, size, name);
  check_header_size(name, kExpectedJpeg, header.width, header.height, options.max_pixels);

  DecodedImage out;
  out.format = ImageFormat::kImageFormatJpeg;
  const ByteRange exif = find_jpeg_exif(data, size);
  if (exif.size > 0) out.exif_orientation = exif_orientation_from_app1(exif.data, exif.size);
  // Orientations 5..8 swap the sides: the target is given upright, the DCT scale applies to the stored image.
  const bool swap_sides = options.apply_exif_orientation && out.exif_orientation >= 5;
  out.scale_denominator = jpeg_scale_denominator(header.width, header.height,
                                                 swap_sides ? options.target_height : options.target_width,
                                                 swap_sides ? options.target_width : options.target_height);
  ScaledDecode decoded = decompress(tj.get(), data, size, header, out.scale_denominator, name);
  out.warning = std::move(decoded.warning);
  const bool turn = options.apply_exif_orientation && out.exif_orientation != 1;
  out.pixels = turn ? exif_transpose(decoded.pixels, out.exif_orientation) : std::move(decoded.pixels);
  out.original_width = swap_sides ? header.height : header.width;
  out.original_height = swap_sides ? header.width : header.height;
  return out;
}

}  // namespace image_detail

std::vector<std::uint8_t> encode_jpeg(const ImageRGB8& image, const JpegEncodeOptions& options) {
  COORDEXP_CHECK_ARG(!image.empty(), "image", "a non-empty image", "an empty image");
  COORDEXP_CHECK_ARG(options.quality >= 1 && options.quality <= 100, "quality", "1..100",
                     std::to_string(options.quality));
  TjHandle tj(tjInitCompress());
  if (!tj) throw std::bad_alloc();
  const int subsampling = options.grayscale            ? TJSAMP_GRAY
                          : options.chroma_subsampling ? TJSAMP_420
                                                       : TJSAMP_444;
  const int flags = TJFLAG_ACCURATEDCT | (options.progressive ? TJFLAG_PROGRESSIVE : 0);
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  if (tjCompress2(tj.get(), image.pixels().data(), image.width(), 0, image.height(), TJPF_RGB, &jpeg,
                  &jpeg_size, subsampling, options.quality, flags) != 0) {
    const std::string msg = tj_message(tj.get());
    tjFree(jpeg);
    throw std::runtime_error("JPEG encoding failed: " + msg);
  }
  std::vector<std::uint8_t> bytes(jpeg, jpeg + jpeg_size);
  tjFree(jpeg);
  return bytes;
}

}  // namespace coordexp
