// Fitting images to the model frame: Qwen2-VL's smart resize rules; square, letterbox and native fits with
// boxes mapped to the frame and back (exact round trip, letterbox boxes inside the content); the fitted
// picture (padding grey, content resized); and the image store: cached and streamed stores give the same
// pictures, and a file whose size disagrees with its annotation, or that does not decode, is counted and
// named, never fatal.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "coordexp/data/image_fit.hpp"
#include "coordexp/data/image_store.hpp"
#include "coordexp/data/resample.hpp"
#include "coordexp/util/error.hpp"
#include "test_image_util.hpp"

namespace coordexp {
namespace {

using image_test::gradient_image;
using image_test::temp_dir;

TEST(ImageFit, SmartResizeMatchesTheProcessorsRules) {
  const FitSize same = smart_resize(56, 84, 28, 56 * 56, 28 * 28 * 1280);
  EXPECT_EQ(same.height, 56);
  EXPECT_EQ(same.width, 84);
  // 42 / 28 = 1.5 and 70 / 28 = 2.5: Python's round() goes to the even neighbour (2, 2)
  const FitSize even = smart_resize(42, 70, 28, 28 * 28, 1 << 30);
  EXPECT_EQ(even.height, 56);
  EXPECT_EQ(even.width, 56);
  // too small: scaled up to min_pixels with ceil
  const FitSize up = smart_resize(10, 10, 28, 56 * 56, 28 * 28 * 1280);
  EXPECT_EQ(up.height, 56);
  EXPECT_EQ(up.width, 56);
  // too large: scaled down with floor below max_pixels, aspect kept
  const FitSize down = smart_resize(4000, 3000, 28, 3136, 28 * 28 * 1280);
  EXPECT_EQ(down.height % 28, 0);
  EXPECT_EQ(down.width % 28, 0);
  EXPECT_LE(down.height * down.width, 28 * 28 * 1280);
  EXPECT_NEAR(static_cast<double>(down.height) / down.width, 4.0 / 3.0, 0.05);
  EXPECT_THROW(smart_resize(10, 3000, 28, 56 * 56, 28 * 28 * 1280), InputError);  // aspect ratio over 200
  EXPECT_THROW(smart_resize(0, 30, 28, 56 * 56, 28 * 28 * 1280), InputError);
}

TEST(ImageFit, SquareAndNativeKeepNormalisedBoxes) {
  ImageFitConfig square;
  square.size = 128;
  const ImageFit s = fit_image(640, 480, square);
  EXPECT_EQ(s.frame_width, 128);
  EXPECT_EQ(s.content_height, 128);
  const BoxXYXY b{0.1, 0.2, 0.55, 0.9};
  EXPECT_EQ(s.to_frame(b), b);
  EXPECT_EQ(s.to_image(b), b);
  ImageFitConfig native;
  native.mode = ImageFitMode::kFitNative;
  const ImageFit n = fit_image(2000, 1333, native);
  EXPECT_EQ(n.frame_width % 28, 0);
  EXPECT_EQ(n.frame_height % 28, 0);
  EXPECT_LE(n.frame_width * n.frame_height, 28 * 28 * 1280);
  EXPECT_EQ(n.to_frame(b), b);
}

// A 200 x 100 image in a 100 x 100 letterbox: content 100 x 50, 25 pixels of padding above and below.
TEST(ImageFit, LetterboxMapsBoxesIntoTheContentAndBack) {
  ImageFitConfig c;
  c.mode = ImageFitMode::kFitLetterbox;
  c.size = 100;
  const ImageFit f = fit_image(200, 100, c);
  EXPECT_EQ(f.content_width, 100);
  EXPECT_EQ(f.content_height, 50);
  EXPECT_EQ(f.pad_left, 0);
  EXPECT_EQ(f.pad_top, 25);
  const BoxXYXY whole{0, 0, 1, 1}, frame = f.to_frame(whole);
  EXPECT_DOUBLE_EQ(frame.y1, 0.25);
  EXPECT_DOUBLE_EQ(frame.y2, 0.75);
  EXPECT_DOUBLE_EQ(frame.x2, 1.0);
  const BoxXYXY b{0.1, 0.2, 0.4, 0.8}, back = f.to_image(f.to_frame(b));
  EXPECT_NEAR(back.x1, b.x1, 1e-12);
  EXPECT_NEAR(back.y1, b.y1, 1e-12);
  EXPECT_NEAR(back.x2, b.x2, 1e-12);
  EXPECT_NEAR(back.y2, b.y2, 1e-12);
  // a prediction reaching into the padding is clamped to the image
  const BoxXYXY spill = f.to_image({0.0, 0.1, 0.5, 0.9});
  EXPECT_EQ(spill.y1, 0.0);
  EXPECT_EQ(spill.y2, 1.0);
  // the picture: grey padding, the content resized as Pillow would
  const ImageRGB8 src = gradient_image(200, 100);
  const ImageRGB8 pic = apply_fit(src, f);
  EXPECT_EQ(pic.width(), 100);
  EXPECT_EQ(pic.height(), 100);
  EXPECT_EQ(pic.at(50, 10), (RgbColor{128, 128, 128}));
  EXPECT_EQ(pic.at(50, 90), (RgbColor{128, 128, 128}));
  const ImageRGB8 content = resize_bicubic_pil(src, 100, 50);
  EXPECT_EQ(pic.at(37, 25 + 20), content.at(37, 20));
  c.mode = ImageFitMode::kFitNative;
  EXPECT_THROW(fit_image(0, 10, c), InputError);
  EXPECT_THROW(parse_image_fit_mode("stretch"), InputError);
}

// Three PNGs: a good one, one whose annotation says another size, and one that is not an image.
DetectionDataset store_dataset() {
  const auto dir = temp_dir() / "store";
  std::filesystem::create_directories(dir);
  save_png(gradient_image(40, 30), (dir / "a.png").string());
  save_png(gradient_image(40, 30), (dir / "b.png").string());
  std::ofstream(dir / "c.png") << "not an image";
  DetectionDataset d;
  d.images.push_back({1, (dir / "a.png").string(), 40, 30, {}});
  d.images.push_back({2, (dir / "b.png").string(), 50, 30, {}});  // annotated 50 x 30, the file is 40 x 30
  d.images.push_back({3, (dir / "c.png").string(), 40, 30, {}});
  return d;
}

TEST(ImageStore, CachedAndStreamedGiveTheSamePicturesAndCountBadFiles) {
  const DetectionDataset d = store_dataset();
  ImageStoreConfig c = ImageStoreConfig::square(16);
  const ImageStore cached(d, c);
  c.cache_mib = 0;  // nothing fits: decoded when asked
  const ImageStore streamed(d, c);
  EXPECT_TRUE(cached.cached());
  EXPECT_FALSE(streamed.cached());
  ASSERT_TRUE(cached.get(0) && streamed.get(0));
  EXPECT_EQ(cached.get(0)->pixels, streamed.get(0)->pixels);
  EXPECT_EQ(cached.get(0)->pixels, resize_bicubic_pil(gradient_image(40, 30), 16, 16));
  EXPECT_EQ(cached.corrupt(), 2);
  EXPECT_FALSE(cached.usable(1));
  EXPECT_FALSE(cached.usable(2));
  EXPECT_NE(cached.first_error().find("50 x 30"), std::string::npos) << cached.first_error();
  EXPECT_TRUE(streamed.usable(1));  // not known before it is decoded
  const auto many = streamed.get_many({0, 1, 2});
  EXPECT_TRUE(many[0]);
  EXPECT_FALSE(many[1]);
  EXPECT_FALSE(many[2]);
  EXPECT_EQ(streamed.corrupt(), 2);
  EXPECT_FALSE(streamed.usable(1));
}

}  // namespace
}  // namespace coordexp
