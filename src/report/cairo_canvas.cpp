// Cairo canvas helpers for the report area (see cairo_canvas.hpp).
#include "cairo_canvas.hpp"

#include <cmath>
#include <cstring>

#include "coordexp/util/error.hpp"

namespace coordexp::report_internal {

CairoCanvas::CairoCanvas(int width, int height, RgbColor background) : width_(width), height_(height) {
  COORDEXP_CHECK_ARG(width > 0 && height > 0 && width <= 16384 && height <= 16384, "canvas size",
                     "1..16384 x 1..16384", std::to_string(width) + "x" + std::to_string(height));
  surface_.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height));
  cr_.reset(cairo_create(surface_.get()));
  set_source(cr_.get(), background);
  cairo_paint(cr_.get());
}

CairoCanvas::CairoCanvas(const ImageRGB8& image, double scale)
    : CairoCanvas(static_cast<int>(std::lround(image.width() * scale)),
                  static_cast<int>(std::lround(image.height() * scale))) {
  auto src = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, image.width(), image.height()), cairo_surface_destroy);
  cairo_surface_flush(src.get());
  unsigned char* data = cairo_image_surface_get_data(src.get());
  const int stride = cairo_image_surface_get_stride(src.get());
  for (int y = 0; y < image.height(); ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    const std::uint8_t* p = image.row(y);
    for (int x = 0; x < image.width(); ++x)
      row[x] = (std::uint32_t{p[3 * x]} << 16) | (std::uint32_t{p[3 * x + 1]} << 8) | p[3 * x + 2];
  }
  cairo_surface_mark_dirty(src.get());
  cairo_t* cr = cr_.get();
  cairo_save(cr);
  cairo_scale(cr, scale, scale);
  cairo_set_source_surface(cr, src.get(), 0, 0);
  const bool integer = std::fabs(scale - std::round(scale)) < 1e-9;
  cairo_pattern_set_filter(cairo_get_source(cr), integer ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_BILINEAR);
  cairo_paint(cr);
  cairo_restore(cr);
}

ImageRGB8 CairoCanvas::to_image() const {
  cairo_surface_flush(surface_.get());
  const unsigned char* data = cairo_image_surface_get_data(surface_.get());
  const int stride = cairo_image_surface_get_stride(surface_.get());
  ImageRGB8 out(width_, height_);
  for (int y = 0; y < height_; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    std::uint8_t* p = out.row(y);
    for (int x = 0; x < width_; ++x) {
      p[3 * x] = (row[x] >> 16) & 255, p[3 * x + 1] = (row[x] >> 8) & 255, p[3 * x + 2] = row[x] & 255;
    }
  }
  return out;
}

void set_source(cairo_t* cr, RgbColor c, double alpha) {
  cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, alpha);
}

void select_font(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

TextSize measure_text(cairo_t* cr, const std::string& text) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_text_extents_t te;
  cairo_text_extents(cr, text.c_str(), &te);
  // Font ascent/descent (not the glyphs') keep labels of different text the same height.
  return {te.x_advance, fe.ascent * 0.92, fe.descent * 0.8};
}

void draw_text(cairo_t* cr, const std::string& text, double x, double y, double h_align, double v_align,
               double angle) {
  const TextSize ts = measure_text(cr, text);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  const double height = ts.ascent + ts.descent;
  cairo_move_to(cr, -h_align * ts.width, -v_align * height + ts.ascent);
  cairo_show_text(cr, text.c_str());
  cairo_restore(cr);
}

RgbColor text_colour_on(RgbColor bg) {
  const double luma = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
  return luma > 150 ? RgbColor{0, 0, 0} : RgbColor{255, 255, 255};
}

}  // namespace coordexp::report_internal
