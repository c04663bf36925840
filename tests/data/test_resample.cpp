// resize_bicubic_pil: against Pillow's Image.resize(BICUBIC) on real photos (decoded and resized by Pillow in
// tests/data/resample_ref.py at test time; skipped when the photos or Pillow are missing), on synthetic
// images with answers checkable by hand (identity, constant, 1-pixel-wide, checkerboard), and on bad
// arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "coordexp/data/resample.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

const char* const kPhotoDir = "/work/shared/data/raccoon/images";

// Reads width * height * 3 raw RGB bytes.
ImageRGB8 read_raw_rgb(const fs::path& path, int width, int height) {
  ImageRGB8 im(width, height);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(im.pixels().data()), static_cast<std::streamsize>(im.pixels().size()));
  if (!in) ADD_FAILURE() << path << ": expected " << im.pixels().size() << " bytes";
  return im;
}

ImageRGB8 noise_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  ImageRGB8 im(w, h);
  for (auto& b : im.pixels()) b = static_cast<std::uint8_t>(rng() & 255);
  return im;
}

template <class F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InputError, nothing was thrown";
  return "";
}

// Bytes of `got` that differ from `expected`, and the largest difference.
struct ByteDiff {
  std::size_t count = 0;
  int max = 0;
};

ByteDiff byte_diff(const ImageRGB8& got, const ImageRGB8& expected) {
  ByteDiff d;
  for (std::size_t i = 0; i < got.pixels().size(); ++i) {
    const int e = std::abs(got.pixels()[i] - expected.pixels()[i]);
    d.max = std::max(d.max, e);
    d.count += e != 0;
  }
  return d;
}

// Every photo and target size the reference script chose: same decoded bytes in, Pillow's bytes expected,
// from the SIMD path and from the portable one.
TEST(Resample, MatchesPillowBicubicOnPhotos) {
  if (!fs::is_directory(kPhotoDir)) GTEST_SKIP() << kPhotoDir << " is missing (the raccoon photos)";
  if (std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") != 0)
    GTEST_SKIP() << "no /usr/bin/python3 with Pillow (Debian: python3-pil)";
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("coordexp_resample_test_" + std::to_string(rd()));
  const std::string cmd = "/usr/bin/python3 " + std::string(COORDEXP_SOURCE_DIR) +
                          "/tests/data/resample_ref.py " + kPhotoDir + " " + dir.string();
  struct RemoveOnExit {
    fs::path dir;
    ~RemoveOnExit() { fs::remove_all(dir); }
  } remove_on_exit{dir};  // ~100 MB of raw pixels
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "the Pillow reference failed: " << cmd;
  std::ifstream manifest(dir / "manifest.txt");
  std::map<std::string, ImageRGB8> sources;
  std::string line;
  std::size_t cases = 0, bytes = 0, differing[2] = {0, 0};
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string photo, source, target;
    int sw = 0, sh = 0, tw = 0, th = 0;
    ASSERT_TRUE(fields >> photo >> source >> sw >> sh >> target >> tw >> th) << "manifest line: " << line;
    if (!sources.count(source)) sources.emplace(source, read_raw_rgb(dir / source, sw, sh));
    const ImageRGB8 expected = read_raw_rgb(dir / target, tw, th);
    for (bool simd : {true, false}) {
      const ImageRGB8 got = detail::resize_bicubic_pil(sources.at(source), tw, th, simd);
      ASSERT_EQ(got.width(), tw);
      ASSERT_EQ(got.height(), th);
      const ByteDiff d = byte_diff(got, expected);
      EXPECT_LE(d.max, 1) << photo << " " << sw << "x" << sh << " -> " << tw << "x" << th
                          << (simd ? " simd" : "") << ": " << d.count << " bytes differ";
      differing[simd] += d.count;
    }
    ++cases, bytes += static_cast<std::size_t>(tw) * th * 3;
  }
  EXPECT_GE(cases, 20u) << "the reference script wrote too few cases";
  // Exact is what the implementation achieves; one grey level is the acceptance bar above.
  EXPECT_EQ(differing[1], 0u) << differing[1] << " of " << bytes << " bytes differ from Pillow (SIMD path)";
  EXPECT_EQ(differing[0], 0u) << differing[0] << " of " << bytes << " bytes differ from Pillow (portable)";
  std::cout << cases << " resizes of " << sources.size() << " images, " << bytes
            << " bytes; differing from Pillow: " << differing[1] << " (SIMD path), " << differing[0]
            << " (portable path)\n";
}

// The SIMD path against the portable one on noise of many small sizes (windows wider than the row, rows
// shorter than a vector, the image's last bytes) and on large reductions.
TEST(Resample, SimdAndPortablePathsAgree) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> side(1, 40);
  for (int trial = 0; trial < 300; ++trial) {
    const int w = side(rng), h = side(rng), tw = side(rng), th = side(rng);
    const ImageRGB8 im = noise_image(w, h, static_cast<unsigned>(trial));
    ASSERT_EQ(detail::resize_bicubic_pil(im, tw, th, true), detail::resize_bicubic_pil(im, tw, th, false))
        << w << "x" << h << " -> " << tw << "x" << th;
  }
  const ImageRGB8 big = noise_image(997, 331, 3);
  for (auto [tw, th] : {std::pair{13, 7}, {250, 331}, {997, 29}, {1500, 500}, {1, 331}})
    EXPECT_EQ(detail::resize_bicubic_pil(big, tw, th, true), detail::resize_bicubic_pil(big, tw, th, false))
        << "997x331 -> " << tw << "x" << th;
}

TEST(Resample, SameSizeReturnsTheInput) {
  const ImageRGB8 im = noise_image(37, 23, 1);
  EXPECT_EQ(resize_bicubic_pil(im, 37, 23), im);
}

TEST(Resample, ConstantImageStaysConstant) {
  // Normalised weights sum to one up to fixed-point rounding, which the half-unit offset absorbs.
  for (std::uint8_t v : {0, 1, 77, 128, 254, 255}) {
    const ImageRGB8 im(53, 41, {v, static_cast<std::uint8_t>(255 - v), 200});
    for (auto [w, h] : {std::pair{17, 9}, {100, 77}, {53, 12}, {3, 41}, {1, 1}, {131, 2}}) {
      EXPECT_EQ(resize_bicubic_pil(im, w, h), ImageRGB8(w, h, {v, static_cast<std::uint8_t>(255 - v), 200}))
          << int(v) << " -> " << w << "x" << h;
    }
  }
}

TEST(Resample, OnePixelWideInput) {
  // A single column: the horizontal pass spreads it over every output column unchanged (the weights over one
  // input pixel normalise to exactly one), so each output row holds one colour.
  ImageRGB8 column(1, 40);
  for (int y = 0; y < 40; ++y) column.set(0, y, {static_cast<std::uint8_t>(6 * y), 100, 9});
  const ImageRGB8 wide = resize_bicubic_pil(column, 5, 40);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(wide.at(x, y), column.at(0, y)) << x << "," << y;
  const ImageRGB8 shorter = resize_bicubic_pil(column, 1, 13);
  ASSERT_EQ(shorter.width(), 1);
  ASSERT_EQ(shorter.height(), 13);
  // A linear ramp stays monotone under a symmetric filter away from the ends.
  for (int y = 2; y < 11; ++y) EXPECT_GT(shorter.at(0, y).r, shorter.at(0, y - 1).r) << y;
  EXPECT_EQ(resize_bicubic_pil(column, 3, 1).at(1, 0).g, 100);
}

TEST(Resample, CheckerboardHalvedIsMidGrey) {
  // Shrinking by 2 widens the kernel to 4 input pixels each side; the weights are symmetric about the output
  // centre (a pixel edge), so black and white pixels get equal total weight: 255 / 2 = 127.5, rounded up to
  // 128 (Pillow gives 128 there too).
  const int n = 64;
  ImageRGB8 board(n, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const std::uint8_t v = (x + y) % 2 ? 255 : 0;
      board.set(x, y, {v, v, v});
    }
  const ImageRGB8 half = resize_bicubic_pil(board, n / 2, n / 2);
  for (int y = 2; y < n / 2 - 2; ++y)
    for (int x = 2; x < n / 2 - 2; ++x) {
      EXPECT_EQ(half.at(x, y), (RgbColor{128, 128, 128})) << x << "," << y;
    }
}

TEST(Resample, BadArgumentsAreInputErrorsNamingThem) {
  const ImageRGB8 im = noise_image(8, 6, 2);
  EXPECT_NE(input_error_message([&] { resize_bicubic_pil(im, 0, 4); }).find("argument width"),
            std::string::npos);
  EXPECT_NE(input_error_message([&] { resize_bicubic_pil(im, -3, 4); }).find("argument width"),
            std::string::npos);
  EXPECT_NE(input_error_message([&] { resize_bicubic_pil(im, 4, 0); }).find("argument height"),
            std::string::npos);
  EXPECT_NE(input_error_message([&] { resize_bicubic_pil(im, 4, 1 << 20); }).find("argument height"),
            std::string::npos);
  EXPECT_NE(input_error_message([&] { resize_bicubic_pil(ImageRGB8(), 4, 4); }).find("argument image"),
            std::string::npos);
}

}  // namespace
}  // namespace coordexp
