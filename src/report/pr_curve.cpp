// Precision-recall curves: a line plot with fixed unit axes and AP in the legend (see pr_curve.hpp).
#include "coordexp/report/pr_curve.hpp"

#include <cstdio>
#include <limits>

#include "coordexp/report/line_plot.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

ImageRGB8 render_pr_curves(std::span<const PrCurve> curves, const PlotConfig& config) {
  PlotConfig cfg = config;
  if (cfg.title.empty()) cfg.title = "Precision-recall";
  if (cfg.x_label.empty()) cfg.x_label = "recall";
  if (cfg.y_label.empty()) cfg.y_label = "precision";
  if (cfg.legend == LegendPosition::kLegendTopRight) cfg.legend = LegendPosition::kLegendBottomLeft;
  cfg.log_y = false;
  cfg.x_min = config.x_min.value_or(0.0), cfg.x_max = config.x_max.value_or(1.0);
  cfg.y_min = config.y_min.value_or(0.0), cfg.y_max = config.y_max.value_or(1.02);
  std::vector<PlotSeries> series;
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const PrCurve& c = curves[i];
    if (c.recall.size() != c.precision.size())
      throw_input_error("curves[" + std::to_string(i) + "] \"" + c.name + "\"",
                        "recall and precision of equal length",
                        std::to_string(c.recall.size()) + " and " + std::to_string(c.precision.size()));
    PlotSeries s;
    s.name = c.name;
    if (c.ap) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " (AP %.3f)", *c.ap);
      s.name += buf;
    }
    s.x = c.recall;
    s.y = c.precision;
    for (double& y : s.y)
      if (y < 0) y = std::numeric_limits<double>::quiet_NaN();  // COCO writes -1 where it has no data
    series.push_back(std::move(s));
  }
  return render_line_plot(series, cfg);
}

}  // namespace coordexp
