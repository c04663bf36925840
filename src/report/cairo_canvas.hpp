// Private helpers of the report area: a cairo surface owned RAII-style, conversion to and from ImageRGB8,
// colours and text (DejaVu Sans through cairo's toy font API, which fontconfig resolves). Not installed;
// only src/report/*.cpp include it.
#pragma once

#include <cairo.h>

#include <memory>
#include <string>

#include "coordexp/data/image.hpp"

namespace coordexp::report_internal {

// An RGB24 cairo surface with its drawing context.
class CairoCanvas {
 public:
  CairoCanvas(int width, int height, RgbColor background = {255, 255, 255});
  // A canvas showing `image` scaled by `scale` (bilinear when upscaling by a non-integer factor, nearest
  // for integer factors so pixels stay crisp).
  CairoCanvas(const ImageRGB8& image, double scale);
  cairo_t* cr() const { return cr_.get(); }
  int width() const { return width_; }
  int height() const { return height_; }
  ImageRGB8 to_image() const;

 private:
  int width_ = 0, height_ = 0;
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface_{nullptr, cairo_surface_destroy};
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr_{nullptr, cairo_destroy};
};

void set_source(cairo_t* cr, RgbColor c, double alpha = 1.0);

struct TextSize {
  double width = 0;    // advance width
  double ascent = 0;   // above the baseline
  double descent = 0;  // below the baseline
};

void select_font(cairo_t* cr, double size, bool bold = false);
TextSize measure_text(cairo_t* cr, const std::string& text);
// Draws text with its anchor at (x, y): h_align 0 left, 0.5 centre, 1 right; v_align 0 top, 0.5 middle,
// 1 bottom (of ascent + descent). `angle` rotates about the anchor (radians, clockwise).
void draw_text(cairo_t* cr, const std::string& text, double x, double y, double h_align, double v_align,
               double angle = 0.0);

// Black or white, whichever reads better on `background`.
RgbColor text_colour_on(RgbColor background);

}  // namespace coordexp::report_internal
