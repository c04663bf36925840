// Picture tests: labelled boxes land where the boxes are, in the role's colour, at the requested scale,
// leave the rest of the image alone; montages have the computed size and reject mismatched captions.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "coordexp/report/box_drawing.hpp"
#include "coordexp/report/montage.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

int count_colour(const ImageRGB8& im, RgbColor c, int tolerance = 0) {
  int n = 0;
  for (int y = 0; y < im.height(); ++y)
    for (int x = 0; x < im.width(); ++x) {
      RgbColor p = im.at(x, y);
      n += std::abs(p.r - c.r) <= tolerance && std::abs(p.g - c.g) <= tolerance &&
           std::abs(p.b - c.b) <= tolerance;
    }
  return n;
}

TEST(BoxDrawing, AutoScaleUpscalesSmallImagesByAnInteger) {
  ImageRGB8 im(128, 96, {90, 90, 90});
  BoxDrawConfig cfg;
  EXPECT_EQ(box_picture_scale(im, cfg), 4.0);  // ceil(384 / 96)
  cfg.scale = 2.5;
  EXPECT_EQ(box_picture_scale(im, cfg), 2.5);
  ImageRGB8 out = draw_labelled_boxes(im, {}, {});
  EXPECT_EQ(out.width(), 512);
  EXPECT_EQ(out.height(), 384);
  EXPECT_EQ(count_colour(out, {90, 90, 90}), 512 * 384) << "no boxes: the image only scaled";
}

TEST(BoxDrawing, OutlinesInRoleColoursAtTheBoxEdges) {
  ImageRGB8 im(64, 64, {120, 120, 160});
  const BoxDrawConfig cfg{.scale = 4, .show_labels = false};
  std::vector<LabelledBox> boxes = {
      {{10, 10, 30, 30}, "red star", std::nullopt, BoxRole::kBoxGroundTruth},
      {{36, 36, 60, 56}, "blue ring", 0.9, BoxRole::kBoxPrediction},
  };
  ImageRGB8 out = draw_labelled_boxes(im, boxes, cfg);
  ASSERT_EQ(out.width(), 256);
  // Prediction: solid, so the middle of each side is the prediction colour.
  EXPECT_EQ(out.at(48 * 4, 36 * 4), cfg.prediction_colour);
  EXPECT_EQ(out.at(36 * 4, 46 * 4), cfg.prediction_colour);
  EXPECT_EQ(out.at(60 * 4, 46 * 4), cfg.prediction_colour);
  // Ground truth is dashed: many pixels of its colour along its left side, but not all.
  int gt_on_side = 0;
  for (int y = 40; y < 120; ++y) gt_on_side += out.at(40, y) == cfg.ground_truth_colour;
  EXPECT_GT(gt_on_side, 20);
  EXPECT_LT(gt_on_side, 80);
  // Far from both boxes nothing changed.
  EXPECT_EQ(out.at(4, 250), (RgbColor{120, 120, 160}));
  EXPECT_EQ(out.at(250, 4), (RgbColor{120, 120, 160}));
}

TEST(BoxDrawing, LabelsAddATabAndLowScoresAreDropped) {
  ImageRGB8 im(64, 64, {120, 120, 160});
  BoxDrawConfig cfg{.scale = 4};
  std::vector<LabelledBox> boxes = {{{20, 30, 40, 50}, "red star", 0.8, BoxRole::kBoxPrediction}};
  const int with_label = count_colour(draw_labelled_boxes(im, boxes, cfg), cfg.prediction_colour, 40);
  cfg.show_labels = false;
  const int without_label = count_colour(draw_labelled_boxes(im, boxes, cfg), cfg.prediction_colour, 40);
  EXPECT_GT(with_label, without_label + 200) << "the label tab is filled with the box colour";
  cfg.min_score = 0.9;
  EXPECT_EQ(count_colour(draw_labelled_boxes(im, boxes, cfg), cfg.prediction_colour, 40), 0);
  // Boxes touching the border and inverted boxes are drawn without trouble.
  boxes.push_back({{60, 0, 0, 64}, "whole image", std::nullopt, BoxRole::kBoxGroundTruth});
  EXPECT_NO_THROW(draw_labelled_boxes(im, boxes, {}));
  EXPECT_THROW(draw_labelled_boxes(ImageRGB8(), boxes, {}), InputError);
}

TEST(Montage, GridSizeCaptionsAndPlacement) {
  std::vector<ImageRGB8> tiles = {ImageRGB8(40, 30, {255, 0, 0}), ImageRGB8(20, 30, {0, 0, 255}),
                                  ImageRGB8(40, 20, {0, 255, 0})};
  MontageConfig cfg;
  cfg.padding = 5;
  cfg.columns = 2;
  ImageRGB8 m = make_montage(tiles, {}, cfg);
  EXPECT_EQ(m.width(), 2 * 40 + 3 * 5);
  EXPECT_EQ(m.height(), 2 * 30 + 3 * 5);
  EXPECT_EQ(m.at(5 + 20, 5 + 15), (RgbColor{255, 0, 0}));           // tile 0 at the top left
  EXPECT_EQ(m.at(5 + 40 + 5 + 20, 5 + 15), (RgbColor{0, 0, 255}));  // tile 1 centred in its cell
  EXPECT_EQ(count_colour(m, {0, 255, 0}), 40 * 20);
  std::vector<std::string> captions = {"one", "", "three"};
  cfg.title = "Predictions";
  ImageRGB8 with_text = make_montage(tiles, captions, cfg);
  EXPECT_GT(with_text.height(), m.height());
  EXPECT_EQ(with_text.width(), m.width());
  EXPECT_LT(count_colour(with_text, {255, 255, 255}), with_text.width() * with_text.height());
  std::vector<std::string> two = {"a", "b"};
  EXPECT_THROW(make_montage(tiles, two, cfg), InputError);
  EXPECT_THROW(make_montage({}, {}, cfg), InputError);
  cfg.columns = 0;
  cfg = MontageConfig();
  cfg.padding = 0;
  EXPECT_EQ(make_montage(std::vector<ImageRGB8>(5, ImageRGB8(10, 10)), {}, cfg).width(), 30);  // 3 columns
}

}  // namespace
}  // namespace coordexp
