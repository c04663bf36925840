// pycocotools' default bbox parameters (cocoeval.py, Params.setDetParams), computed the way numpy does.
#include "coordexp/eval/coco_params.hpp"

#include <cmath>

#include "coordexp/eval/numpy_compat.hpp"

namespace coordexp {

std::vector<double> coco_iou_thresholds() {
  // int(np.round(8.999999999999998)) + 1 == 10; the count is computed, not typed, as pycocotools does.
  return numpy_linspace(.5, 0.95, int(std::nearbyint((0.95 - .5) / .05)) + 1);
}

std::vector<double> coco_recall_thresholds() {
  return numpy_linspace(.0, 1.00, int(std::nearbyint((1.00 - .0) / .01)) + 1);
}

std::vector<AreaRange> coco_area_ranges() {
  const double huge = 1e5 * 1e5;
  return {{"all", 0, huge},
          {"small", 0, 32.0 * 32.0},
          {"medium", 32.0 * 32.0, 96.0 * 96.0},
          {"large", 96.0 * 96.0, huge}};
}

}  // namespace coordexp
