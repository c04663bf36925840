// Private: the frame every chart shares: margins sized to the tick labels, title, axis labels, nice ticks
// (1-2-2.5-5 steps, or decades on a log axis), grid, data-to-pixel mapping and the legend box. Chart files
// draw their marks between begin_marks() and end_marks() (clipped to the plot area).
#pragma once

#include <string>
#include <vector>

#include "cairo_canvas.hpp"
#include "coordexp/report/plot_config.hpp"

namespace coordexp::report_internal {

// Ticks at multiples of a 1/2/2.5/5 x 10^k step inside [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Decades inside [lo, hi] (both > 0), with 2x and 5x when the range spans under two decades.
std::vector<double> log_ticks(double lo, double hi);
// A tick label with as many decimals as the step needs ("0.25", "1e+05").
std::string format_tick(double value, double step);

struct LegendEntry {
  std::string name;
  RgbColor colour;
  bool filled_box = false;  // bar charts: a filled square; lines: a short line
};

class PlotFrame {
 public:
  // x axis numeric over [x_lo, x_hi], or categorical when x_categories is non-empty (category i is centred
  // at x = i + 0.5 on [0, n]).
  // legend_names: the legend's entries, known up front so an outside legend can take its room.
  PlotFrame(CairoCanvas& canvas, const PlotConfig& config, double x_lo, double x_hi, double y_lo, double y_hi,
            std::vector<std::string> x_categories = {}, const std::vector<std::string>& legend_names = {});

  double px(double x) const;  // data x -> canvas pixels
  double py(double y) const;  // data y -> canvas pixels (log if config.log_y)
  double left() const { return left_; }
  double right() const { return right_; }
  double top() const { return top_; }
  double bottom() const { return bottom_; }

  void begin_marks();  // clip to the plot area
  void end_marks();    // unclip and draw the axes frame on top
  void draw_legend(const std::vector<LegendEntry>& entries);
  // "no data" in the middle of the plot area.
  void draw_empty_notice();

 private:
  void layout(const std::vector<std::string>& legend_names);
  double legend_width(const std::vector<std::string>& names) const;
  void draw_axes_and_grid();
  std::string y_tick_label(double t) const;

  CairoCanvas& canvas_;
  PlotConfig config_;
  double x_lo_, x_hi_, y_lo_, y_hi_;
  std::vector<std::string> x_categories_;
  std::vector<double> x_ticks_, y_ticks_;
  double x_step_ = 1, y_step_ = 1;
  bool rotate_x_labels_ = false;
  double left_ = 0, right_ = 0, top_ = 0, bottom_ = 0;
};

}  // namespace coordexp::report_internal
