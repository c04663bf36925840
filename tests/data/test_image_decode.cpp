// decode_image / load_image tests that need no reference program: the format from the first bytes (a PNG
// named .jpg loads), JPEG baseline / progressive / grey, the DCT scale rule, EXIF orientation from
// hand-built APP1 segments, and every bad input of issue 22 (truncated, random, empty, missing, bombs,
// corrupted bytes) as an InputError naming the file. Pillow parity is in test_image_pillow.cpp.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/data/image_decode.hpp"
#include "coordexp/util/error.hpp"
#include "test_image_util.hpp"

namespace coordexp {
namespace {

using namespace image_test;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::uint8_t> test_jpeg(int w = 64, int h = 48, JpegEncodeOptions options = {}) {
  return encode_jpeg(gradient_image(w, h), options);
}

// A JPEG APP1 segment holding EXIF with one IFD0 entry, Orientation = `value`, little- or big-endian.
std::vector<std::uint8_t> exif_app1(int value, bool big_endian = false) {
  std::vector<std::uint8_t> tiff =
      big_endian
          ? std::vector<std::uint8_t>{'M',  'M',  0, 42, 0, 0, 0, 8, 0, 1,
                                      0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, static_cast<std::uint8_t>(value),
                                      0,    0,    0, 0,  0, 0}
          : std::vector<std::uint8_t>{'I',
                                      'I',
                                      42,
                                      0,
                                      8,
                                      0,
                                      0,
                                      0,
                                      1,
                                      0,
                                      0x12,
                                      0x01,
                                      3,
                                      0,
                                      1,
                                      0,
                                      0,
                                      0,
                                      static_cast<std::uint8_t>(value),
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0};
  std::vector<std::uint8_t> segment = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  for (std::uint8_t b : tiff) segment.push_back(b);
  const std::size_t length = segment.size() - 2;  // counts itself, not the marker
  segment[2] = static_cast<std::uint8_t>(length >> 8), segment[3] = static_cast<std::uint8_t>(length & 255);
  return segment;
}

// `jpeg` with `segment` inserted right after SOI.
std::vector<std::uint8_t> with_segment(std::vector<std::uint8_t> jpeg,
                                       const std::vector<std::uint8_t>& segment) {
  jpeg.insert(jpeg.begin() + 2, segment.begin(), segment.end());
  return jpeg;
}

// Overwrites the frame size in a baseline JPEG's SOF0 segment.
std::vector<std::uint8_t> with_frame_size(std::vector<std::uint8_t> jpeg, int width, int height) {
  for (std::size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      jpeg[i + 5] = static_cast<std::uint8_t>(height >> 8), jpeg[i + 6] = static_cast<std::uint8_t>(height);
      jpeg[i + 7] = static_cast<std::uint8_t>(width >> 8), jpeg[i + 8] = static_cast<std::uint8_t>(width);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF0 marker";
  return jpeg;
}

TEST(DecodeImage, PngAndJpegAreToldApartByContent) {
  const ImageRGB8 im = gradient_image(37, 23);
  const DecodedImage png = decode_image(encode_png(im), "a.png");
  EXPECT_EQ(png.format, ImageFormat::kImageFormatPng);
  EXPECT_EQ(png.pixels, im);
  EXPECT_EQ(png.original_width, 37);
  EXPECT_EQ(png.original_height, 23);
  EXPECT_EQ(png.scale_denominator, 1);

  const DecodedImage jpeg =
      decode_image(encode_jpeg(im, {.quality = 100, .chroma_subsampling = false}), "a.jpg");
  EXPECT_EQ(jpeg.format, ImageFormat::kImageFormatJpeg);
  EXPECT_EQ(image_format_name(jpeg.format), "JPEG");
  EXPECT_EQ(jpeg.original_width, 37);
  EXPECT_EQ(jpeg.original_height, 23);
  EXPECT_EQ(jpeg.scale_denominator, 1);
  EXPECT_EQ(jpeg.exif_orientation, 1);
  EXPECT_TRUE(jpeg.warning.empty()) << jpeg.warning;
  EXPECT_LE(max_abs_diff(jpeg.pixels, im), 6);  // quality 100, 4:4:4: only rounding in the DCT
}

TEST(DecodeImage, ProgressiveAndGreyJpeg) {
  const ImageRGB8 im = gradient_image(50, 30);
  const DecodedImage baseline = decode_image(encode_jpeg(im, {.quality = 95}), "b.jpg");
  const DecodedImage progressive =
      decode_image(encode_jpeg(im, {.quality = 95, .progressive = true}), "p.jpg");
  EXPECT_LE(max_abs_diff(progressive.pixels, baseline.pixels), 2);
  const DecodedImage grey = decode_image(encode_jpeg(im, {.quality = 95, .grayscale = true}), "g.jpg");
  ASSERT_EQ(grey.pixels.width(), 50);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 50; ++x) {
      const RgbColor c = grey.pixels.at(x, y);
      ASSERT_TRUE(c.r == c.g && c.g == c.b) << x << "," << y;
    }
}

TEST(LoadImage, TheExtensionDoesNotMatter) {
  const ImageRGB8 im = gradient_image(9, 7);
  const fs::path png_as_jpg = temp_dir() / "really_a_png.jpg";
  write_bytes(png_as_jpg, encode_png(im));
  const DecodedImage a = load_image(png_as_jpg.string());
  EXPECT_EQ(a.format, ImageFormat::kImageFormatPng);
  EXPECT_EQ(a.pixels, im);
  const fs::path jpg_as_png = temp_dir() / "really_a_jpeg.png";
  write_bytes(jpg_as_png, encode_jpeg(im));
  EXPECT_EQ(load_image(jpg_as_png.string()).format, ImageFormat::kImageFormatJpeg);
  // load_png stays PNG-only.
  EXPECT_TRUE(contains(input_error_message([&] { load_png(jpg_as_png.string()); }), "no PNG signature"));
}

TEST(ImageErrors, RandomBytesNamedJpg) {
  std::mt19937 gen(5);
  std::vector<std::uint8_t> bytes(500);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(gen());
  bytes[0] = 0x3a, bytes[1] = 0x5f, bytes[2] = 0x00, bytes[3] = 0x12;
  const fs::path path = temp_dir() / "random.jpg";
  write_bytes(path, bytes);
  const std::string msg = input_error_message([&] { load_image(path.string()); });
  EXPECT_TRUE(contains(msg, path.string() + ": expected a PNG or JPEG image, found a file starting with "
                                            "3a 5f 00 12: not a PNG or JPEG signature"))
      << msg;
}

TEST(ImageErrors, ZeroByteMissingAndDirectory) {
  const fs::path empty = temp_dir() / "empty.jpg";
  write_bytes(empty, {});
  std::string msg = input_error_message([&] { load_image(empty.string()); });
  EXPECT_TRUE(contains(msg, empty.string() + ": expected a PNG or JPEG image, found an empty file")) << msg;
  const fs::path missing = temp_dir() / "missing.jpg";
  msg = input_error_message([&] { load_image(missing.string()); });
  EXPECT_TRUE(contains(msg, missing.string() + ": expected a PNG or JPEG image, found no such file")) << msg;
  msg = input_error_message([&] { load_image(temp_dir().string()); });
  EXPECT_TRUE(contains(msg, "found a directory")) << msg;
  // Shorter than any signature.
  msg = input_error_message([&] { decode_image({0xFF, 0xD8}, "two.jpg"); });
  EXPECT_TRUE(contains(msg, "two.jpg: expected a PNG or JPEG image, found a file starting with ff d8"))
      << msg;
}

TEST(ImageErrors, TruncatedJpegIsAnErrorNotGreyRows) {
  for (bool progressive : {false, true}) {
    const std::vector<std::uint8_t> full = test_jpeg(64, 48, {.progressive = progressive});
    const fs::path path = temp_dir() / "truncated.jpg";
    write_bytes(path, std::vector<std::uint8_t>(full.begin(), full.begin() + full.size() * 2 / 3));
    const std::string msg = input_error_message([&] { load_image(path.string()); });
    EXPECT_TRUE(contains(msg, path.string() + ": expected a readable JPEG image, found a truncated file"))
        << msg;
    EXPECT_TRUE(contains(msg, "Premature end of JPEG file")) << msg;
    // Every cut, down to the bare SOI, is an InputError; so is a file missing only its EOI marker, as in
    // Pillow ("image file is truncated").
    for (std::size_t n = 0; n < full.size(); n += (n < 8 ? 1 : 5))
      EXPECT_THROW(decode_image(std::vector<std::uint8_t>(full.begin(), full.begin() + n), "cut.jpg"),
                   InputError)
          << "cut at " << n << (progressive ? " (progressive)" : "");
    EXPECT_THROW(decode_image(std::vector<std::uint8_t>(full.begin(), full.end() - 2), "no_eoi.jpg"),
                 InputError);
  }
}

TEST(ImageErrors, DecompressionBombsAreRejectedOnTheHeader) {
  const std::vector<std::uint8_t> jpeg = test_jpeg(16, 16);
  std::string msg =
      input_error_message([&] { decode_image(with_frame_size(jpeg, 60000, 60000), "bomb.jpg"); });
  EXPECT_TRUE(contains(msg,
                       "bomb.jpg: expected a readable JPEG image, found a header claiming 60000 x 60000 "
                       "pixels, over the limit of 32768 a side"))
      << msg;
  // Sides within kMaxImageSide, area over the default budget (Pillow's 2 * 89,478,485 pixels).
  msg = input_error_message([&] { decode_image(with_frame_size(jpeg, 20000, 20000), "area.jpg"); });
  EXPECT_TRUE(contains(msg,
                       "area.jpg: expected a readable JPEG image, found a header claiming 20000 x 20000 "
                       "pixels (400000000), over the budget of 178956970 pixels"))
      << msg;
  // The budget is an option.
  DecodeOptions small;
  small.max_pixels = 100;
  msg = input_error_message([&] { decode_image(jpeg, "small_budget.jpg", small); });
  EXPECT_TRUE(contains(msg, "over the budget of 100 pixels")) << msg;
  EXPECT_TRUE(
      contains(input_error_message([&] { decode_image(encode_png(gradient_image(16, 16)), "s.png", small); }),
               "over the budget of 100 pixels"));
}

TEST(ImageErrors, CorruptedBytesNeverCrash) {
  const std::vector<std::uint8_t> full = test_jpeg(24, 16, {.quality = 80});
  int decoded = 0, refused = 0;
  for (std::size_t at = 2; at < full.size(); ++at) {
    std::vector<std::uint8_t> bad = full;
    bad[at] ^= 0x5A;
    try {
      const DecodedImage im = decode_image(bad, "flipped.jpg");
      ASSERT_EQ(im.pixels.pixels().size(),
                static_cast<std::size_t>(im.pixels.width()) * im.pixels.height() * 3);
      ++decoded;
    } catch (const InputError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(decoded, 0);  // a flipped bit in entropy-coded data usually decodes to wrong pixels, as in Pillow
  std::mt19937 gen(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::uint8_t> noise = {0xFF, 0xD8, 0xFF};
    for (int i = 0; i < 300; ++i) noise.push_back(static_cast<std::uint8_t>(gen()));
    EXPECT_THROW(decode_image(noise, "noise.jpg"), InputError);
  }
}

TEST(ImageErrors, ExtraneousBytesAreAToleratedWarning) {
  std::vector<std::uint8_t> jpeg = test_jpeg(32, 32);
  ASSERT_EQ(jpeg[jpeg.size() - 2], 0xFF);
  ASSERT_EQ(jpeg[jpeg.size() - 1], 0xD9);
  const std::vector<std::uint8_t> junk(40, 0x00);
  jpeg.insert(jpeg.end() - 2, junk.begin(), junk.end());
  const DecodedImage im = decode_image(jpeg, "junk.jpg");
  EXPECT_TRUE(contains(im.warning, "extraneous bytes before marker 0xd9")) << im.warning;
  EXPECT_LE(max_abs_diff(im.pixels, decode_image(test_jpeg(32, 32)).pixels), 0);
}

TEST(DctScale, LargestFactorThatStillCoversTheTarget) {
  EXPECT_EQ(jpeg_scale_denominator(2000, 1333, 0, 0), 1);
  EXPECT_EQ(jpeg_scale_denominator(2000, 1333, 448, 448), 2);  // 1333 / 448 = 2.97
  EXPECT_EQ(jpeg_scale_denominator(2000, 1333, 448, 300), 4);
  EXPECT_EQ(jpeg_scale_denominator(2000, 1333, 200, 150), 8);
  EXPECT_EQ(jpeg_scale_denominator(2000, 1333, 1001, 10), 1);  // one side more than half: full size
  EXPECT_EQ(jpeg_scale_denominator(1000, 1000, 500, 500), 2);
  EXPECT_EQ(jpeg_scale_denominator(1000, 1000, 501, 500), 1);
  EXPECT_EQ(jpeg_scale_denominator(100, 100, 1000, 1000), 1);  // upscaling
  EXPECT_THROW(jpeg_scale_denominator(100, 100, 10, 0), InputError);
  EXPECT_THROW(jpeg_scale_denominator(100, 100, -1, -1), InputError);
}

TEST(DctScale, DecodesSmallerAndKeepsTheOriginalSize) {
  const std::vector<std::uint8_t> jpeg = test_jpeg(203, 131);
  const std::vector<std::pair<int, int>> targets = {{100, 60}, {50, 32}, {25, 16}, {1, 1}, {102, 60}};
  const std::vector<int> expected = {2, 4, 8, 8, 1};
  for (std::size_t i = 0; i < targets.size(); ++i) {
    DecodeOptions options;
    options.target_width = targets[i].first, options.target_height = targets[i].second;
    const DecodedImage im = decode_image(jpeg, "scaled.jpg", options);
    const int m = expected[i];
    EXPECT_EQ(im.scale_denominator, m) << i;
    EXPECT_EQ(im.original_width, 203);
    EXPECT_EQ(im.original_height, 131);
    EXPECT_EQ(im.pixels.width(), (203 + m - 1) / m) << i;
    EXPECT_EQ(im.pixels.height(), (131 + m - 1) / m) << i;
    EXPECT_GE(im.pixels.width(), targets[i].first);
    EXPECT_GE(im.pixels.height(), targets[i].second);
  }
  // A PNG is never scaled.
  DecodeOptions options;
  options.target_width = options.target_height = 10;
  const DecodedImage png = decode_image(encode_png(gradient_image(100, 100)), "big.png", options);
  EXPECT_EQ(png.scale_denominator, 1);
  EXPECT_EQ(png.pixels.width(), 100);
  options.target_width = 0;  // one side only
  EXPECT_THROW(decode_image(jpeg, "bad_target.jpg", options), InputError);
}

TEST(ExifTranspose, EachOrientationMovesPixelsAsExifSays) {
  // 3x2: a b c / d e f, with a..f told apart by their red value.
  ImageRGB8 im(3, 2);
  for (int i = 0; i < 6; ++i) im.set(i % 3, i / 3, {static_cast<std::uint8_t>('a' + i), 0, 0});
  auto rows = [](const ImageRGB8& out) {
    std::string s;
    for (int y = 0; y < out.height(); ++y) {
      if (y) s += '/';
      for (int x = 0; x < out.width(); ++x) s += static_cast<char>(out.at(x, y).r);
    }
    return s;
  };
  EXPECT_EQ(rows(exif_transpose(im, 1)), "abc/def");
  EXPECT_EQ(rows(exif_transpose(im, 2)), "cba/fed");
  EXPECT_EQ(rows(exif_transpose(im, 3)), "fed/cba");
  EXPECT_EQ(rows(exif_transpose(im, 4)), "def/abc");
  EXPECT_EQ(rows(exif_transpose(im, 5)), "ad/be/cf");
  EXPECT_EQ(rows(exif_transpose(im, 6)), "da/eb/fc");
  EXPECT_EQ(rows(exif_transpose(im, 7)), "fc/eb/da");
  EXPECT_EQ(rows(exif_transpose(im, 8)), "cf/be/ad");
  EXPECT_EQ(rows(exif_transpose(im, 0)), "abc/def");
  EXPECT_EQ(rows(exif_transpose(im, 9)), "abc/def");
}

TEST(ExifOrientation, ReadAlwaysAppliedOnlyWhenAsked) {
  const std::vector<std::uint8_t> plain = test_jpeg(40, 24);
  const ImageRGB8 stored = decode_image(plain).pixels;
  for (int k = 1; k <= 8; ++k) {
    for (bool big_endian : {false, true}) {
      const std::vector<std::uint8_t> jpeg = with_segment(plain, exif_app1(k, big_endian));
      const DecodedImage kept = decode_image(jpeg, "kept.jpg");
      EXPECT_EQ(kept.exif_orientation, k);
      EXPECT_EQ(kept.pixels, stored) << "orientation is ignored by default";
      DecodeOptions apply;
      apply.apply_exif_orientation = true;
      const DecodedImage upright = decode_image(jpeg, "upright.jpg", apply);
      EXPECT_EQ(upright.pixels, exif_transpose(stored, k)) << k;
      EXPECT_EQ(upright.original_width, k >= 5 ? 24 : 40);
      EXPECT_EQ(upright.original_height, k >= 5 ? 40 : 24);
    }
  }
}

TEST(ExifOrientation, UprightTargetPicksTheScaleOnTheStoredImage) {
  // Stored 160 x 96, orientation 6: upright 96 x 160. An upright target of 24 x 40 is 40 x 24 stored: 1/4.
  DecodeOptions options;
  options.apply_exif_orientation = true;
  options.target_width = 24, options.target_height = 40;
  const DecodedImage im = decode_image(with_segment(test_jpeg(160, 96), exif_app1(6)), "rot.jpg", options);
  EXPECT_EQ(im.scale_denominator, 4);
  EXPECT_EQ(im.pixels.width(), 24);
  EXPECT_EQ(im.pixels.height(), 40);
  EXPECT_EQ(im.original_width, 96);
  EXPECT_EQ(im.original_height, 160);
}

TEST(ExifOrientation, BrokenOrOddExifMeansOrientationOne) {
  const std::vector<std::uint8_t> plain = test_jpeg(16, 8);
  EXPECT_EQ(decode_image(with_segment(plain, exif_app1(9))).exif_orientation, 1);
  EXPECT_EQ(decode_image(with_segment(plain, exif_app1(0))).exif_orientation, 1);
  std::vector<std::uint8_t> garbage = exif_app1(6);
  for (std::size_t i = 10; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 37);
  EXPECT_EQ(decode_image(with_segment(plain, garbage)).exif_orientation, 1);
  std::vector<std::uint8_t> cut = exif_app1(6);
  cut.resize(14);  // "Exif\0\0" and half a TIFF header, length field fixed to match
  cut[2] = 0, cut[3] = 12;
  EXPECT_EQ(decode_image(with_segment(plain, cut)).exif_orientation, 1);
}

}  // namespace
}  // namespace coordexp
