// Precision-recall curves (e.g. COCO's 101-point interpolated precision per IoU threshold or per split):
// several curves on fixed [0, 1] axes, AP in the legend when given.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/report/plot_config.hpp"

namespace coordexp {

struct PrCurve {
  std::string name;               // legend entry, e.g. "val IoU=0.50"
  std::vector<double> recall;     // same length as precision, 0..1
  std::vector<double> precision;  // 0..1; negative values (COCO's -1 for "no data") are skipped
  std::optional<double> ap;       // shown as "name (AP 0.532)"
};

// Defaults: x "recall", y "precision", title "Precision-recall", legend bottom-left, axes [0, 1].
// Fields of `config` that are set (non-empty labels/title, limits) override the defaults.
ImageRGB8 render_pr_curves(std::span<const PrCurve> curves, const PlotConfig& config = {});

}  // namespace coordexp
