// RGB8 image tests: PNG round trips (memory and file), decoding of hand-built PNGs of every colour type and
// bit depth, clear InputErrors for missing, empty, random, truncated, corrupted and oversized files, bilinear
// resize against values worked out by hand (half-pixel centres), and horizontal flip.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "coordexp/data/image.hpp"
#include "coordexp/util/error.hpp"
#include "test_image_util.hpp"

namespace coordexp {
namespace {

using namespace image_test;

// --- Hand-built PNGs (stored deflate blocks), to decode colour types our encoder never writes. ---
std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

void put_chunk(std::vector<std::uint8_t>& png, const char type[4], const std::vector<std::uint8_t>& data) {
  put_u32(png, static_cast<std::uint32_t>(data.size()));
  std::vector<std::uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_u32(png, crc32(body.data(), body.size()));
}

// A PNG of one colour type and bit depth from raw scanlines (each already prefixed with filter byte 0);
// `palette` (RGB triples) and `trns` become PLTE and tRNS chunks when not empty.
std::vector<std::uint8_t> handmade_png(std::uint32_t w, std::uint32_t h, std::uint8_t colour_type,
                                       const std::vector<std::uint8_t>& scanlines, std::uint8_t bit_depth = 8,
                                       const std::vector<std::uint8_t>& palette = {},
                                       const std::vector<std::uint8_t>& trns = {}) {
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_u32(ihdr, w);
  put_u32(ihdr, h);
  ihdr.insert(ihdr.end(), {bit_depth, colour_type, 0, 0, 0});
  put_chunk(png, "IHDR", ihdr);
  if (!palette.empty()) put_chunk(png, "PLTE", palette);
  if (!trns.empty()) put_chunk(png, "tRNS", trns);
  std::vector<std::uint8_t> z = {0x78, 0x01, 0x01};  // zlib header, one final stored block
  const auto len = static_cast<std::uint16_t>(scanlines.size());
  z.insert(z.end(), {static_cast<std::uint8_t>(len & 255), static_cast<std::uint8_t>(len >> 8),
                     static_cast<std::uint8_t>(~len & 255), static_cast<std::uint8_t>((~len >> 8) & 255)});
  z.insert(z.end(), scanlines.begin(), scanlines.end());
  std::uint32_t a = 1, b = 0;  // adler32
  for (std::uint8_t c : scanlines) a = (a + c) % 65521, b = (b + a) % 65521;
  put_u32(z, (b << 16) | a);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

TEST(ImageRGB8, ConstructsFilledAndRejectsBadSizes) {
  ImageRGB8 im(3, 2, {1, 2, 3});
  EXPECT_EQ(im.width(), 3);
  EXPECT_EQ(im.height(), 2);
  EXPECT_EQ(im.pixels().size(), 18u);
  EXPECT_EQ(im.at(2, 1), (RgbColor{1, 2, 3}));
  EXPECT_THROW(ImageRGB8(0, 5), InputError);
  EXPECT_THROW(ImageRGB8(5, -1), InputError);
}

TEST(Png, MemoryRoundTripIsExactAtEveryLevel) {
  const ImageRGB8 im = gradient_image(37, 23);
  for (int level : {0, 1, 6, 9}) {
    std::vector<std::uint8_t> bytes = encode_png(im, level);
    EXPECT_EQ(decode_png(bytes), im) << "level " << level;
    EXPECT_EQ(encode_png(im, level), bytes) << "encoding must be deterministic";
  }
}

TEST(Png, FileRoundTripAndNoTemporaryLeft) {
  const ImageRGB8 im = gradient_image(16, 9);
  const fs::path path = temp_dir() / "round_trip.png";
  save_png(im, path.string());
  EXPECT_EQ(load_png(path.string()), im);
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

TEST(Png, DecodesGreyAndDropsAlpha) {
  // 2x2 grey: 0, 255 / 128, 64.
  ImageRGB8 grey = decode_png(handmade_png(2, 2, 0, {0, 0, 255, 0, 128, 64}));
  ASSERT_EQ(grey.width(), 2);
  EXPECT_EQ(grey.at(1, 0), (RgbColor{255, 255, 255}));
  EXPECT_EQ(grey.at(0, 1), (RgbColor{128, 128, 128}));
  // 1x2 RGBA: alpha is dropped, colour kept.
  ImageRGB8 rgba = decode_png(handmade_png(1, 2, 6, {0, 10, 20, 30, 0, 0, 40, 50, 60, 255}));
  EXPECT_EQ(rgba.at(0, 0), (RgbColor{10, 20, 30}));
  EXPECT_EQ(rgba.at(0, 1), (RgbColor{40, 50, 60}));
}

TEST(Png, SixteenBitSamplesKeepTheirHighByte) {
  // 2x1 RGB, 16 bits: (0x1234, 0xABCD, 0xFF00), (0x00FF, 0x8080, 0x0001).
  ImageRGB8 rgb = decode_png(
      handmade_png(2, 1, 2, {0, 0x12, 0x34, 0xAB, 0xCD, 0xFF, 0x00, 0x00, 0xFF, 0x80, 0x80, 0x00, 0x01}, 16));
  EXPECT_EQ(rgb.at(0, 0), (RgbColor{0x12, 0xAB, 0xFF}));
  EXPECT_EQ(rgb.at(1, 0), (RgbColor{0x00, 0x80, 0x00}));
  // 2x1 grey, 16 bits (Pillow's "I;16" -> "RGB" clips at 255 instead; the high byte is the faithful value).
  ImageRGB8 grey = decode_png(handmade_png(2, 1, 0, {0, 0x12, 0x34, 0xFE, 0xFF}, 16));
  EXPECT_EQ(grey.at(0, 0), (RgbColor{0x12, 0x12, 0x12}));
  EXPECT_EQ(grey.at(1, 0), (RgbColor{0xFE, 0xFE, 0xFE}));
  // 1x1 RGBA, 16 bits: alpha dropped.
  ImageRGB8 rgba = decode_png(handmade_png(1, 1, 6, {0, 0xA0, 1, 0xB0, 2, 0xC0, 3, 0x00, 0x00}, 16));
  EXPECT_EQ(rgba.at(0, 0), (RgbColor{0xA0, 0xB0, 0xC0}));
  // 1x1 grey + alpha, 16 bits.
  ImageRGB8 ga = decode_png(handmade_png(1, 1, 4, {0, 0x7F, 0xFF, 0x00, 0x10}, 16));
  EXPECT_EQ(ga.at(0, 0), (RgbColor{0x7F, 0x7F, 0x7F}));
}

TEST(Png, PaletteLowBitDepthAndGreyAlpha) {
  const std::vector<std::uint8_t> palette = {10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220};
  // 4x1 palette, 2 bits per index: indices 3, 2, 1, 0 packed in one byte (0b11100100).
  ImageRGB8 pal = decode_png(handmade_png(4, 1, 3, {0, 0xE4}, 2, palette));
  EXPECT_EQ(pal.at(0, 0), (RgbColor{200, 210, 220}));
  EXPECT_EQ(pal.at(1, 0), (RgbColor{70, 80, 90}));
  EXPECT_EQ(pal.at(3, 0), (RgbColor{10, 20, 30}));
  // The same with tRNS (transparency per palette entry): colours kept, alpha dropped.
  EXPECT_EQ(decode_png(handmade_png(4, 1, 3, {0, 0xE4}, 2, palette, {0, 128, 255, 7})), pal);
  // 8x1 grey, 1 bit: 0b10110000 -> 255, 0, 255, 255, 0, 0, 0, 0.
  ImageRGB8 bits = decode_png(handmade_png(8, 1, 0, {0, 0xB0}, 1));
  EXPECT_EQ(bits.at(0, 0), (RgbColor{255, 255, 255}));
  EXPECT_EQ(bits.at(1, 0), (RgbColor{0, 0, 0}));
  EXPECT_EQ(bits.at(3, 0), (RgbColor{255, 255, 255}));
  EXPECT_EQ(bits.at(7, 0), (RgbColor{0, 0, 0}));
  // 2x1 grey + alpha, 8 bits.
  ImageRGB8 ga = decode_png(handmade_png(2, 1, 4, {0, 33, 0, 99, 255}));
  EXPECT_EQ(ga.at(0, 0), (RgbColor{33, 33, 33}));
  EXPECT_EQ(ga.at(1, 0), (RgbColor{99, 99, 99}));
}

TEST(PngErrors, MissingFileNamesThePath) {
  const std::string path = (temp_dir() / "does_not_exist.png").string();
  std::string msg = input_error_message([&] { load_png(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST(PngErrors, EmptyFile) {
  const fs::path path = temp_dir() / "empty.png";
  write_bytes(path, {});
  std::string msg = input_error_message([&] { load_png(path.string()); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(PngErrors, RandomBytesAreNotAPng) {
  std::mt19937 gen(7);
  std::vector<std::uint8_t> bytes(1000);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(gen());
  const fs::path path = temp_dir() / "random.png";
  write_bytes(path, bytes);
  std::string msg = input_error_message([&] { load_png(path.string()); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("signature"), std::string::npos) << msg;
}

TEST(PngErrors, RandomBytesAfterAValidSignature) {
  std::mt19937 gen(11);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::uint8_t> bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<std::uint8_t>(gen()));
    EXPECT_THROW(decode_png(bytes, "noise.png"), InputError);
  }
}

TEST(PngErrors, EveryTruncationIsAnInputError) {
  const std::vector<std::uint8_t> full = encode_png(gradient_image(20, 20), 6);
  const fs::path path = temp_dir() / "truncated.png";
  write_bytes(path, std::vector<std::uint8_t>(full.begin(), full.begin() + full.size() / 2));
  std::string msg = input_error_message([&] { load_png(path.string()); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Cut everywhere before IEND's payload: never a crash, always InputError. (Dropping only the IEND chunk
  // loses no pixels, and libpng, like most readers, does not insist on it.)
  for (std::size_t n = 0; n + 12 < full.size(); n += 3)
    EXPECT_THROW(decode_png(std::vector<std::uint8_t>(full.begin(), full.begin() + n), "cut.png"), InputError)
        << "cut at " << n;
}

TEST(PngErrors, FlippedBytesInTheImageDataAreCaught) {
  const std::vector<std::uint8_t> full = encode_png(gradient_image(20, 20), 6);
  // Offsets from 33 (after signature + IHDR) cover IDAT length, type, payload and CRC.
  int caught = 0;
  for (std::size_t at = 33; at + 12 < full.size(); ++at) {
    std::vector<std::uint8_t> bad = full;
    bad[at] ^= 0x5A;
    try {
      decode_png(bad, "flipped.png");
    } catch (const InputError&) {
      ++caught;
    }
  }
  // Every corrupted byte breaks either a CRC or the zlib stream.
  EXPECT_EQ(caught, static_cast<int>(full.size() - 12 - 33));
}

TEST(PngErrors, AbsurdDimensionsAreRejectedBeforeAllocation) {
  std::vector<std::uint8_t> png = handmade_png(1, 1, 2, {0, 1, 2, 3});
  // Patch IHDR's width to 100000 and fix its CRC.
  png[16] = 0x00, png[17] = 0x01, png[18] = 0x86, png[19] = 0xA0;
  const std::uint32_t crc = crc32(png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  std::string msg = input_error_message([&] { decode_png(png, "huge.png"); });
  EXPECT_NE(msg.find("huge.png"), std::string::npos) << msg;
}

// Patches IHDR's width and height and fixes its CRC.
void set_png_size(std::vector<std::uint8_t>& png, std::uint32_t width, std::uint32_t height) {
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<std::uint8_t>(width >> (24 - 8 * i));
    png[20 + i] = static_cast<std::uint8_t>(height >> (24 - 8 * i));
  }
  const std::uint32_t crc = crc32(png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
}

// Found by fuzz/fuzz_png.cpp: a 70-byte file whose header claimed 30000 x 30000 pixels (under
// kMaxImageSide) made decode_png allocate 2.7 GB before reading any pixel data. 30000 x 30000 is now over
// the pixel budget; 12000 x 12000 is under it, and still more than 70 bytes can hold.
TEST(PngErrors, HeaderClaimingMorePixelsThanTheFileCanHoldIsRejectedBeforeAllocation) {
  std::vector<std::uint8_t> png = handmade_png(1, 1, 2, {0, 1, 2, 3});
  set_png_size(png, 12000, 12000);
  const std::string msg = input_error_message([&] { decode_png(png, "bomb.png"); });
  EXPECT_NE(msg.find("bomb.png: expected a readable PNG image, found a truncated file: its header claims "
                     "12000 x 12000 pixels"),
            std::string::npos)
      << msg;
}

TEST(PngErrors, DecompressionBombsAreRejectedOnTheHeader) {
  std::vector<std::uint8_t> png = handmade_png(1, 1, 2, {0, 1, 2, 3});
  set_png_size(png, 60000, 60000);
  std::string msg = input_error_message([&] { decode_png(png, "side.png"); });
  EXPECT_NE(msg.find("side.png: expected a readable PNG image, found a header claiming 60000 x 60000 pixels, "
                     "over the limit of 32768 a side"),
            std::string::npos)
      << msg;
  set_png_size(png, 30000, 30000);  // sides allowed, area over Pillow's 2 * 89,478,485
  msg = input_error_message([&] { decode_png(png, "area.png"); });
  EXPECT_NE(msg.find("area.png: expected a readable PNG image, found a header claiming 30000 x 30000 pixels "
                     "(900000000), over the budget of 178956970 pixels"),
            std::string::npos)
      << msg;
}

TEST(PngErrors, DirectoryIsNotAnImage) {
  EXPECT_THROW(load_png(temp_dir().string()), InputError);
}

TEST(PngErrors, UnwritablePathNamesIt) {
  const std::string path = (temp_dir() / "no_such_dir" / "x.png").string();
  std::string msg = input_error_message([&] { save_png(gradient_image(2, 2), path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Resize, UpscaleMatchesHalfPixelBilinear) {
  // One row 0, 100 -> 4 columns: source x = (o + 0.5) / 2 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25
  // (clamped to the last pixel), so 0, 25, 75, 100 (torch align_corners=False gives the same).
  ImageRGB8 im(2, 1);
  im.set(0, 0, {0, 0, 0});
  im.set(1, 0, {100, 200, 40});
  ImageRGB8 up = resize_bilinear(im, 4, 1);
  EXPECT_EQ(up.at(0, 0), (RgbColor{0, 0, 0}));
  EXPECT_EQ(up.at(1, 0), (RgbColor{25, 50, 10}));
  EXPECT_EQ(up.at(2, 0), (RgbColor{75, 150, 30}));
  EXPECT_EQ(up.at(3, 0), (RgbColor{100, 200, 40}));
}

TEST(Resize, DownscaleByTwoAveragesPairs) {
  ImageRGB8 im(4, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      im.set(x, y, {static_cast<std::uint8_t>(x * 20), static_cast<std::uint8_t>(y * 40), 9});
  ImageRGB8 down = resize_bilinear(im, 2, 2);
  EXPECT_EQ(down.at(0, 0), (RgbColor{10, 20, 9}));
  EXPECT_EQ(down.at(1, 1), (RgbColor{50, 100, 9}));
}

TEST(Resize, ConstantStaysConstantAndIdentityIsExact) {
  ImageRGB8 flat(13, 7, {12, 200, 77});
  ImageRGB8 r = resize_bilinear(flat, 29, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 29; ++x) ASSERT_EQ(r.at(x, y), (RgbColor{12, 200, 77}));
  const ImageRGB8 g = gradient_image(9, 5);
  EXPECT_EQ(resize_bilinear(g, 9, 5), g);
  EXPECT_THROW(resize_bilinear(g, 0, 5), InputError);
}

TEST(Flip, MirrorsColumnsAndIsAnInvolution) {
  const ImageRGB8 g = gradient_image(7, 4);
  ImageRGB8 f = flip_horizontal(g);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 7; ++x) ASSERT_EQ(f.at(x, y), g.at(6 - x, y));
  EXPECT_EQ(flip_horizontal(f), g);
}

}  // namespace
}  // namespace coordexp
