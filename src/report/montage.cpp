// Montage of pictures on a grid with captions (see montage.hpp).
#include "coordexp/report/montage.hpp"

#include <algorithm>
#include <cmath>

#include "cairo_canvas.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

using namespace report_internal;

ImageRGB8 make_montage(std::span<const ImageRGB8> tiles, std::span<const std::string> captions,
                       const MontageConfig& config) {
  COORDEXP_CHECK_ARG(!tiles.empty(), "tiles", "at least one image", "none");
  COORDEXP_CHECK_ARG(captions.empty() || captions.size() == tiles.size(), "captions",
                     "none or one per tile (" + std::to_string(tiles.size()) + ")",
                     std::to_string(captions.size()));
  const int n = static_cast<int>(tiles.size());
  const int cols =
      config.columns > 0 ? std::min(config.columns, n) : static_cast<int>(std::ceil(std::sqrt(n)));
  const int rows = (n + cols - 1) / cols;
  int cell_w = 0, cell_h = 0;
  for (const ImageRGB8& t : tiles) {
    COORDEXP_CHECK_ARG(!t.empty(), "tiles", "non-empty images", "an empty image");
    cell_w = std::max(cell_w, t.width()), cell_h = std::max(cell_h, t.height());
  }
  const bool has_captions =
      std::any_of(captions.begin(), captions.end(), [](const std::string& c) { return !c.empty(); });
  const int pad = std::max(0, config.padding);
  const int caption_h = has_captions ? static_cast<int>(std::ceil(config.caption_font_size * 1.6)) : 0;
  const int title_h = config.title.empty() ? 0 : static_cast<int>(std::ceil(config.title_font_size * 2.0));
  const int width = cols * cell_w + (cols + 1) * pad;
  const int height = title_h + rows * (cell_h + caption_h) + (rows + 1) * pad;

  CairoCanvas canvas(width, height, config.background);
  cairo_t* cr = canvas.cr();
  const RgbColor ink = text_colour_on(config.background);
  if (!config.title.empty()) {
    select_font(cr, config.title_font_size, true);
    set_source(cr, ink);
    draw_text(cr, config.title, width / 2.0, pad + title_h / 2.0, 0.5, 0.5);
  }
  for (int i = 0; i < n; ++i) {
    const int r = i / cols, c = i % cols;
    const double cx = pad + c * (cell_w + pad), cy = title_h + pad + r * (cell_h + caption_h + pad);
    if (has_captions && !captions[i].empty()) {
      select_font(cr, config.caption_font_size, false);
      set_source(cr, ink);
      cairo_save(cr);
      cairo_rectangle(cr, cx, cy, cell_w, caption_h);
      cairo_clip(cr);
      draw_text(cr, captions[i], cx + cell_w / 2.0, cy + caption_h / 2.0, 0.5, 0.5);
      cairo_restore(cr);
    }
    const ImageRGB8& t = tiles[i];
    CairoCanvas tile(t, 1.0);
    cairo_surface_t* src = cairo_get_target(tile.cr());
    const double tx = cx + (cell_w - t.width()) / 2, ty = cy + caption_h + (cell_h - t.height()) / 2;
    cairo_set_source_surface(cr, src, std::floor(tx), std::floor(ty));
    cairo_paint(cr);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.25);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, std::floor(tx) - 0.5, std::floor(ty) - 0.5, t.width() + 1, t.height() + 1);
    cairo_stroke(cr);
  }
  return canvas.to_image();
}

}  // namespace coordexp
