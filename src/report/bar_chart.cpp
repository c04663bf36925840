// Grouped bar charts with error bars on the shared frame (see bar_chart.hpp).
#include "coordexp/report/bar_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "coordexp/util/error.hpp"
#include "plot_frame.hpp"

namespace coordexp {

using namespace report_internal;

ImageRGB8 render_bar_chart(std::span<const std::string> groups, std::span<const BarSeries> series,
                           const BarChartConfig& config) {
  const std::size_t n = groups.size();
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string where = "series[" + std::to_string(k) + "] \"" + series[k].name + "\"";
    if (series[k].values.size() != n)
      throw_input_error(where, "one value per group (" + std::to_string(n) + ")",
                        std::to_string(series[k].values.size()));
    if (!series[k].errors.empty() && series[k].errors.size() != n)
      throw_input_error(where + " errors", "none or one per group (" + std::to_string(n) + ")",
                        std::to_string(series[k].errors.size()));
  }
  auto err = [](const BarSeries& s, std::size_t g) {
    return s.errors.empty() || !std::isfinite(s.errors[g]) ? 0.0 : std::fabs(s.errors[g]);
  };
  double lo = 0, hi = 0;
  bool any = false;
  for (const BarSeries& s : series)
    for (std::size_t g = 0; g < n; ++g)
      if (std::isfinite(s.values[g])) {
        lo = std::min(lo, s.values[g] - err(s, g)), hi = std::max(hi, s.values[g] + err(s, g));
        any = true;
      }
  if (!any) hi = 1;
  const double span = hi - lo > 0 ? hi - lo : 1.0;
  // Headroom for the printed values above the tallest bar.
  hi += span * (config.show_values ? 0.12 : 0.05);
  if (lo < 0) lo -= span * 0.05;

  PlotConfig pc = config.plot;
  pc.log_y = false;
  // Bars fill the plot area, so the default legend goes outside it.
  if (pc.legend == LegendPosition::kLegendTopRight) pc.legend = LegendPosition::kLegendOutsideRight;
  std::vector<std::string> legend_names;
  if (series.size() >= 2)
    for (const BarSeries& s : series) legend_names.push_back(s.name);
  CairoCanvas canvas(pc.width, pc.height);
  PlotFrame frame(canvas, pc, 0.0, std::max<double>(1, n), pc.y_min.value_or(lo), pc.y_max.value_or(hi),
                  std::vector<std::string>(groups.begin(), groups.end()), legend_names);
  cairo_t* cr = canvas.cr();
  const std::size_t m = std::max<std::size_t>(1, series.size());
  const double group_w = 0.8, bar_w = group_w / m;  // in group units; 20% gap between groups
  frame.begin_marks();
  for (std::size_t k = 0; k < series.size(); ++k) {
    const RgbColor colour = plot_palette()[k % plot_palette().size()];
    for (std::size_t g = 0; g < n; ++g) {
      const double v = series[k].values[g];
      if (!std::isfinite(v)) continue;
      const double gx = g + 0.5 - group_w / 2 + k * bar_w;
      const double x0 = frame.px(gx + bar_w * 0.06), x1 = frame.px(gx + bar_w * 0.94);
      const double y0 = frame.py(0.0), y1 = frame.py(v);
      set_source(cr, colour);
      cairo_rectangle(cr, x0, std::min(y0, y1), x1 - x0, std::fabs(y1 - y0));
      cairo_fill(cr);
      const double e = err(series[k], g);
      if (e > 0) {
        const double xc = (x0 + x1) / 2, cap = std::min(6.0, (x1 - x0) / 3);
        set_source(cr, {30, 30, 30});
        cairo_set_line_width(cr, 1.4);
        cairo_move_to(cr, xc, frame.py(v - e));
        cairo_line_to(cr, xc, frame.py(v + e));
        for (double yy : {frame.py(v - e), frame.py(v + e)}) {
          cairo_move_to(cr, xc - cap, yy);
          cairo_line_to(cr, xc + cap, yy);
        }
        cairo_stroke(cr);
      }
      if (config.show_values) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*f", std::clamp(config.value_decimals, 0, 6), v);
        select_font(cr, pc.font_size * 0.85);
        set_source(cr, {40, 40, 40});
        const double top = frame.py(v >= 0 ? v + e : v - e);
        draw_text(cr, buf, (x0 + x1) / 2, v >= 0 ? top - 3 : top + 3, 0.5, v >= 0 ? 1.0 : 0.0);
      }
    }
  }
  if (lo < 0) {  // a zero line when bars go both ways
    set_source(cr, {40, 40, 40});
    cairo_set_line_width(cr, 1.0);
    cairo_move_to(cr, frame.left(), std::round(frame.py(0)) + 0.5);
    cairo_line_to(cr, frame.right(), std::round(frame.py(0)) + 0.5);
    cairo_stroke(cr);
  }
  frame.end_marks();
  if (!any) frame.draw_empty_notice();
  std::vector<LegendEntry> legend;
  for (std::size_t k = 0; k < legend_names.size(); ++k)
    legend.push_back({legend_names[k], plot_palette()[k % plot_palette().size()], true});
  frame.draw_legend(legend);
  return canvas.to_image();
}

}  // namespace coordexp
