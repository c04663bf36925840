// decode_image against Pillow (python3-pil, Debian's 9.4, which decodes through the same libjpeg-turbo):
// tests/data/image_pillow_ref.py writes test images into a temporary folder at test time (CMYK and YCCK
// JPEGs, all 8 EXIF orientations on JPEG and PNG, draft() scales, PNG colour types, a few real photos from
// ../shared/data/raccoon) with Pillow's RGB result for each; every case must match it. Skips without Pillow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "coordexp/data/image_decode.hpp"
#include "test_image_util.hpp"

namespace coordexp {
namespace {

using namespace image_test;

struct PillowCase {
  std::string name, input, expected_ppm;
  bool apply_orientation = false;
  int target_width = 0, target_height = 0;
};

// A binary PPM (P6, maxval 255) as written by image_pillow_ref.py.
ImageRGB8 read_ppm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  in >> magic >> w >> h >> maxval;
  in.get();
  if (magic != "P6" || w <= 0 || h <= 0 || maxval != 255) {
    ADD_FAILURE() << path << ": not a P6 PPM written by image_pillow_ref.py";
    return {};
  }
  ImageRGB8 im(w, h);
  in.read(reinterpret_cast<char*>(im.pixels().data()), static_cast<std::streamsize>(im.pixels().size()));
  return im;
}

// Runs the reference script once per process; nullopt (and the tests skip) when Pillow is missing.
const std::optional<std::vector<PillowCase>>& pillow_cases() {
  static const std::optional<std::vector<PillowCase>> cases = []() -> std::optional<std::vector<PillowCase>> {
    if (std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") != 0) return std::nullopt;
    const fs::path out = temp_dir() / "pillow_ref";
    std::vector<std::string> args = {"/usr/bin/python3",
                                     std::string(COORDEXP_SOURCE_DIR) + "/tests/data/image_pillow_ref.py",
                                     out.string()};
    // Real photos: a 2000 x 1333 one, a greyscale one, one with an EXIF block, the smallest one.
    const fs::path photos = fs::path(COORDEXP_SOURCE_DIR) / ".." / "shared" / "data" / "raccoon" / "images";
    for (const char* name : {"raccoon-183.jpg", "raccoon-161.jpg", "raccoon-11.jpg", "raccoon-122.jpg"})
      if (fs::exists(photos / name)) args.push_back((photos / name).string());
    std::string cmd;
    for (const std::string& arg : args) cmd.append(cmd.empty() ? "" : " ").append(arg);
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "the Pillow reference failed: " << cmd;
      return std::nullopt;
    }
    std::vector<PillowCase> list;
    std::ifstream manifest(out / "manifest.txt");
    for (std::string line; std::getline(manifest, line);) {
      std::istringstream fields(line);
      PillowCase c;
      int orient = 0;
      if (fields >> c.name >> c.input >> c.expected_ppm >> orient >> c.target_width >> c.target_height) {
        c.apply_orientation = orient != 0;
        list.push_back(c);
      }
    }
    return list;
  }();
  return cases;
}

// Decodes every case whose name starts with `prefix` and compares with Pillow; returns how many ran.
int expect_pillow_match(const std::string& prefix, int tolerance) {
  int ran = 0;
  for (const PillowCase& c : *pillow_cases()) {
    if (c.name.rfind(prefix, 0) != 0) continue;
    ++ran;
    DecodeOptions options;
    options.apply_exif_orientation = c.apply_orientation;
    options.target_width = c.target_width, options.target_height = c.target_height;
    const DecodedImage ours = load_image(c.input, options);
    const ImageRGB8 pillow = read_ppm(c.expected_ppm);
    EXPECT_EQ(ours.pixels.width(), pillow.width()) << c.name;
    EXPECT_EQ(ours.pixels.height(), pillow.height()) << c.name;
    const int diff = max_abs_diff(ours.pixels, pillow);
    EXPECT_TRUE(diff >= 0 && diff <= tolerance) << c.name << ": max difference " << diff << " grey levels";
    EXPECT_TRUE(ours.warning.empty()) << c.name << ": " << ours.warning;
  }
  return ran;
}

#define SKIP_WITHOUT_PILLOW() \
  if (!pillow_cases()) GTEST_SKIP() << "no /usr/bin/python3 with PIL (Debian: python3-pil)"

TEST(ImagePillow, JpegBaselineProgressiveGrey) {
  SKIP_WITHOUT_PILLOW();
  EXPECT_EQ(expect_pillow_match("jpeg_", 0), 3);
}

// Pillow reads every CMYK JPEG as Adobe-inverted ("CMYK;I") and converts with cmyk2rgb; the issue allows
// 1 grey level, but the conversion here is Pillow's own integer arithmetic, so it must match exactly.
TEST(ImagePillow, CmykAndYcckJpegAsPillowConvertsThem) {
  SKIP_WITHOUT_PILLOW();
  EXPECT_EQ(expect_pillow_match("cmyk_", 0), 3);
}

TEST(ImagePillow, AllEightExifOrientationsAsExifTranspose) {
  SKIP_WITHOUT_PILLOW();
  EXPECT_EQ(expect_pillow_match("orientation_", 0), 32);
}

TEST(ImagePillow, DctScaleAsDraft) {
  SKIP_WITHOUT_PILLOW();
  EXPECT_EQ(expect_pillow_match("draft_", 0), 8);
}

TEST(ImagePillow, PngColourTypes) {
  SKIP_WITHOUT_PILLOW();
  EXPECT_EQ(expect_pillow_match("png_", 0), 6);
}

TEST(ImagePillow, RealPhotosFullAndScaled) {
  SKIP_WITHOUT_PILLOW();
  if (expect_pillow_match("photo_", 0) == 0) GTEST_SKIP() << "no photos under ../shared/data/raccoon/images";
}

}  // namespace
}  // namespace coordexp
