// Line plots (loss curves, learning-rate schedules, metrics over steps): several named series on shared
// axes with ticks, labels, legend and title, optionally log-y. Non-finite points (and, on a log axis,
// values <= 0) are skipped and break the line there; a series with one point is drawn as a marker.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/report/plot_config.hpp"

namespace coordexp {

struct PlotSeries {
  std::string name;       // legend entry; empty = not in the legend
  std::vector<double> x;  // same length as y
  std::vector<double> y;  //
  bool markers = false;   // draw a dot at every point
  bool dashed = false;    // dashed line (e.g. a smoothed or reference curve)
};

// Throws InputError naming the series when x and y differ in length. No series or no finite points draws
// the axes with "no data".
ImageRGB8 render_line_plot(std::span<const PlotSeries> series, const PlotConfig& config = {});

}  // namespace coordexp
