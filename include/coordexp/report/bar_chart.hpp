// Grouped bar charts with optional error bars, for ablation tables: one group per variant (x axis), one bar
// per series within a group (e.g. AP, AP50, AP75), values printed over the bars.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/report/plot_config.hpp"

namespace coordexp {

struct BarSeries {
  std::string name;            // legend entry (the legend is shown when there are 2+ series)
  std::vector<double> values;  // one per group; NaN = no bar
  std::vector<double> errors;  // empty, or one half-width per group (e.g. a standard deviation)
};

struct BarChartConfig {
  PlotConfig plot;          // size, title, labels (x limits and log_y are ignored)
  bool show_values = true;  // print each value above its bar
  int value_decimals = 3;   // digits after the point in printed values
};

// Throws InputError naming the series when its values / errors do not have one entry per group.
ImageRGB8 render_bar_chart(std::span<const std::string> groups, std::span<const BarSeries> series,
                           const BarChartConfig& config = {});

}  // namespace coordexp
