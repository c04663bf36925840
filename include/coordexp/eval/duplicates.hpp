// Duplicate predictions: the share of a model's detections that repeat another detection of the same image
// and the same label (its description when it has one, else its category) with IoU above a threshold. A
// set-prediction failure mode that AP hides (a duplicate is just a low-ranked false positive).
#pragma once

#include <span>
#include <vector>

#include "coordexp/eval/detection_results.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

// Fraction of `detections` having IoU > iou_threshold with at least one other detection of the same image
// and label (both members of a pair count); 0 for no detections. Label alternatives (label_rank > 0) are
// left out.
double duplicate_rate(std::span<const Detection> detections, double iou_threshold = 0.8);

// The same test on plain boxes: box i is a duplicate when a box of the same group (same image and label)
// overlaps it with IoU > iou_threshold.
std::vector<bool> mark_duplicates(std::span<const BoxXYXY> boxes, std::span<const int64_t> groups,
                                  double iou_threshold);

}  // namespace coordexp
