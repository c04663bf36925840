// Parameters of COCO bbox evaluation, defaulting to pycocotools' Params(iouType='bbox') exactly:
// IoU thresholds and recall points as numpy's linspace computes them, maxDets {1, 10, 100}, and the four
// area ranges (inclusive at both ends) keyed by label.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coordexp {

struct AreaRange {
  std::string label;  // "all", "small", "medium", "large" (summarize looks ranges up by label)
  double min_area;    // inclusive lower bound on the annotation's "area"
  double max_area;    // inclusive upper bound
};

// np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1): 0.5, 0.55, ..., 0.95.
std::vector<double> coco_iou_thresholds();
// np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1): 101 recall points.
std::vector<double> coco_recall_thresholds();
// [[0, 1e10], [0, 32^2], [32^2, 96^2], [96^2, 1e10]] labelled all/small/medium/large.
std::vector<AreaRange> coco_area_ranges();

struct CocoEvalParams {
  std::vector<double> iou_thresholds = coco_iou_thresholds();        // T thresholds, IoU >= t matches
  std::vector<double> recall_thresholds = coco_recall_thresholds();  // R recall points of the PR curve
  std::vector<int64_t> max_dets = {1, 10, 100};  // M caps on detections per image and category (sorted)
  std::vector<AreaRange> area_ranges = coco_area_ranges();  // A area ranges
  // pycocotools' useCats: false pools every category (class-agnostic evaluation: a detection may match
  // any GT box of its image, the caps apply per image). Each image's GT and detections are then listed
  // category by category in ascending id order (file order inside a category), as evaluateImg
  // concatenates them, so ties resolve as there; entries of categories absent from the GT are dropped.
  // The K axis has one entry, category id -1.
  bool use_cats = true;
};

}  // namespace coordexp
