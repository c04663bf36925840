// Labelled boxes drawn with cairo (see box_drawing.hpp). Label tabs sit outside the box when there is
// room (prediction above, ground truth below) and flip inside at the image border.
#include "coordexp/report/box_drawing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cairo_canvas.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

using namespace report_internal;

double box_picture_scale(const ImageRGB8& image, const BoxDrawConfig& config) {
  if (config.scale > 0) return config.scale;
  const int shorter = std::min(image.width(), image.height());
  return std::max(1.0, std::ceil(static_cast<double>(config.min_side) / std::max(1, shorter)));
}

namespace {

std::string label_text(const LabelledBox& b) {
  if (!b.score || b.role == BoxRole::kBoxGroundTruth) return b.label;
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", *b.score);
  return b.label.empty() ? std::string(score) : b.label + " " + score;
}

void draw_one(cairo_t* cr, const LabelledBox& b, double scale, const BoxDrawConfig& cfg, int w, int h) {
  const bool gt = b.role == BoxRole::kBoxGroundTruth;
  const RgbColor colour = gt ? cfg.ground_truth_colour : cfg.prediction_colour;
  const BoxXYXY box = legalize_box(b.box);
  const double x1 = box.x1 * scale, y1 = box.y1 * scale, x2 = box.x2 * scale, y2 = box.y2 * scale;

  // A thin dark halo under the outline keeps it visible on light and same-coloured backgrounds.
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
  cairo_rectangle(cr, x1, y1, x2 - x1, y2 - y1);
  cairo_set_source_rgba(cr, 0, 0, 0, 0.45);
  cairo_set_line_width(cr, cfg.line_width + 1.5);
  const double dash[] = {6.0, 4.0};
  cairo_set_dash(cr, dash, gt ? 2 : 0, 0);
  cairo_stroke_preserve(cr);
  set_source(cr, colour);
  cairo_set_line_width(cr, cfg.line_width);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);

  const std::string text = label_text(b);
  if (!cfg.show_labels || text.empty()) return;
  select_font(cr, cfg.font_size, /*bold=*/!gt);
  const TextSize ts = measure_text(cr, text);
  const double pad = 2.0, tab_w = ts.width + 2 * pad, tab_h = ts.ascent + ts.descent + 2 * pad;
  double tx = std::clamp(x1 - cfg.line_width / 2, 0.0, std::max(0.0, w - tab_w));
  double ty;
  if (gt)
    ty = (y2 + tab_h <= h) ? y2 : y2 - tab_h;  // below, else inside at the bottom
  else
    ty = (y1 - tab_h >= 0) ? y1 - tab_h : y1;  // above, else inside at the top
  set_source(cr, colour, 0.88);
  cairo_rectangle(cr, tx, ty, tab_w, tab_h);
  cairo_fill(cr);
  set_source(cr, text_colour_on(colour));
  draw_text(cr, text, tx + pad, ty + pad, 0, 0);
}

}  // namespace

ImageRGB8 draw_labelled_boxes(const ImageRGB8& image, std::span<const LabelledBox> boxes,
                              const BoxDrawConfig& config) {
  COORDEXP_CHECK_ARG(!image.empty(), "image", "a non-empty image", "an empty image");
  const double scale = box_picture_scale(image, config);
  CairoCanvas canvas(image, scale);
  cairo_t* cr = canvas.cr();
  std::vector<const LabelledBox*> order;
  for (const LabelledBox& b : boxes)
    if (b.role == BoxRole::kBoxGroundTruth || b.score.value_or(1.0) >= config.min_score) order.push_back(&b);
  std::stable_sort(order.begin(), order.end(), [](const LabelledBox* a, const LabelledBox* b) {
    const int ra = a->role == BoxRole::kBoxGroundTruth ? 0 : 1,
              rb = b->role == BoxRole::kBoxGroundTruth ? 0 : 1;
    if (ra != rb) return ra < rb;
    return a->score.value_or(0.0) < b->score.value_or(0.0);
  });
  for (const LabelledBox* b : order) draw_one(cr, *b, scale, config, canvas.width(), canvas.height());
  return canvas.to_image();
}

}  // namespace coordexp
