// Line plots with cairo on the shared frame (see line_plot.hpp).
#include "coordexp/report/line_plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "coordexp/util/error.hpp"
#include "plot_frame.hpp"

namespace coordexp {

using namespace report_internal;

ImageRGB8 render_line_plot(std::span<const PlotSeries> series, const PlotConfig& config) {
  for (std::size_t i = 0; i < series.size(); ++i)
    if (series[i].x.size() != series[i].y.size())
      throw_input_error("series[" + std::to_string(i) + "] \"" + series[i].name + "\"",
                        "x and y of equal length",
                        std::to_string(series[i].x.size()) + " x values and " +
                            std::to_string(series[i].y.size()) + " y values");
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!config.log_y || y > 0);
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_lo = kInf, x_hi = -kInf, y_lo = kInf, y_hi = -kInf;
  for (const PlotSeries& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      }
  const bool empty = !(x_lo <= x_hi);
  if (empty) x_lo = 0, x_hi = 1, y_lo = config.log_y ? 0.1 : 0, y_hi = 1;
  // Margins: 5% of the range in y (a factor in log space), none in x (curves start at the first step).
  if (config.log_y) {
    const double span = std::max(std::log10(y_hi / y_lo), 0.3);
    y_lo = y_lo / std::pow(10.0, 0.05 * span), y_hi = y_hi * std::pow(10.0, 0.05 * span);
  } else {
    const double span = y_hi > y_lo ? y_hi - y_lo : std::max(std::fabs(y_hi), 1.0);
    y_lo -= 0.05 * span, y_hi += 0.05 * span;
  }
  x_lo = config.x_min.value_or(x_lo), x_hi = config.x_max.value_or(x_hi);
  y_lo = config.y_min.value_or(y_lo), y_hi = config.y_max.value_or(y_hi);

  std::vector<std::string> legend_names;
  for (const PlotSeries& s : series)
    if (!s.name.empty()) legend_names.push_back(s.name);
  CairoCanvas canvas(config.width, config.height);
  PlotFrame frame(canvas, config, x_lo, x_hi, y_lo, y_hi, {}, legend_names);
  cairo_t* cr = canvas.cr();
  frame.begin_marks();
  std::vector<LegendEntry> legend;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const PlotSeries& s = series[k];
    const RgbColor colour = plot_palette()[k % plot_palette().size()];
    set_source(cr, colour);
    cairo_set_line_width(cr, 2.0);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    const double dash[] = {7.0, 4.0};
    cairo_set_dash(cr, dash, s.dashed ? 2 : 0, 0);
    bool pen_down = false;
    int run = 0;
    std::vector<std::pair<double, double>> singles;  // points with no neighbour: drawn as dots
    std::pair<double, double> last{};
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        if (run == 1) singles.push_back(last);
        pen_down = false, run = 0;
        continue;
      }
      const double x = frame.px(s.x[i]), y = frame.py(s.y[i]);
      if (pen_down)
        cairo_line_to(cr, x, y);
      else
        cairo_move_to(cr, x, y), pen_down = true;
      last = {x, y}, ++run;
    }
    if (run == 1) singles.push_back(last);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    if (s.markers)
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (usable(s.x[i], s.y[i])) singles.push_back({frame.px(s.x[i]), frame.py(s.y[i])});
    for (auto [x, y] : singles) {
      cairo_arc(cr, x, y, 3.0, 0, 2 * std::numbers::pi);
      cairo_fill(cr);
    }
    if (!s.name.empty()) legend.push_back({s.name, colour, false});
  }
  frame.end_marks();
  if (empty) frame.draw_empty_notice();
  frame.draw_legend(legend);
  return canvas.to_image();
}

}  // namespace coordexp
