// Settings shared by the report's charts (line plots, PR curves, bar charts): size, title, axis labels,
// axis ranges, log scale, legend placement, and the colour cycle series take in order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"

namespace coordexp {

enum class LegendPosition {
  kLegendTopRight,
  kLegendTopLeft,
  kLegendBottomRight,
  kLegendBottomLeft,
  kLegendOutsideRight,  // right of the plot area, which narrows to make room
  kLegendNone,
};

struct PlotConfig {
  int width = 800;              // pixels of the whole picture
  int height = 500;             //
  std::string title;            // above the plot; empty = none
  std::string x_label;          // under the x axis
  std::string y_label;          // left of the y axis, rotated
  bool log_y = false;           // log10 y axis; values <= 0 are skipped
  std::optional<double> x_min;  // axis limits; unset = from the data (with a small margin)
  std::optional<double> x_max;  //
  std::optional<double> y_min;  //
  std::optional<double> y_max;  //
  LegendPosition legend = LegendPosition::kLegendTopRight;  // where the legend box goes
  bool grid = true;                                         // light grid lines at the ticks
  double font_size = 13.0;  // tick and legend text; title and axis labels are scaled from it
};

// Ten distinguishable colours (matplotlib's "tab10"); series i takes colour i mod 10.
const std::vector<RgbColor>& plot_palette();

}  // namespace coordexp
