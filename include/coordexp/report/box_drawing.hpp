// Pictures of detections: an image with labelled boxes drawn on it, ground truth and predictions in
// different colours and line styles, each label on a filled tab so it stays readable on any background.
// Boxes are xyxy in the input image's pixels; the picture is upscaled (small training images would give
// unreadable labels), so output size = input size x scale.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "coordexp/data/image.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

enum class BoxRole {
  kBoxGroundTruth,  // dashed, label tab below the box
  kBoxPrediction,   // solid, label tab above the box, score appended
};

struct LabelledBox {
  BoxXYXY box;                  // pixels of the input image, (x1, y1, x2, y2)
  std::string label;            // e.g. "red star"; empty draws no tab
  std::optional<double> score;  // predictions: shown as "label 0.87"
  BoxRole role = BoxRole::kBoxPrediction;
};

struct BoxDrawConfig {
  double scale = 0;                           // output pixels per input pixel; 0 = auto (see min_side)
  int min_side = 384;                         // auto scale: smallest integer making the shorter side >= this
  double line_width = 2.0;                    // box outline width, output pixels
  double font_size = 11.0;                    // label text size, output pixels
  bool show_labels = true;                    // draw label tabs
  double min_score = 0.0;                     // predictions with a lower score are not drawn
  RgbColor ground_truth_colour{30, 210, 90};  // green
  RgbColor prediction_colour{255, 70, 40};    // orange-red
};

// The scale draw_labelled_boxes uses for an image (config.scale, or the auto rule).
double box_picture_scale(const ImageRGB8& image, const BoxDrawConfig& config);

// Draws ground-truth boxes first, then predictions (lowest score first, so the best is on top).
ImageRGB8 draw_labelled_boxes(const ImageRGB8& image, std::span<const LabelledBox> boxes,
                              const BoxDrawConfig& config = {});

}  // namespace coordexp
