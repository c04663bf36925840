// Recognition of the detections that found an object. Each detection is paired with the regular (non-crowd)
// ground-truth box of its image that it overlaps most, whatever the category; at IoU >= the threshold it is
// "localised", and for the localised ones this counts how often the detection's category is that box's,
// and word by word how often the two category names agree (word k of both, where both names have one). On
// OpenShapes word 0 is the colour and word 1 the shape, so a run's errors split into localisation, colour
// and shape. Detections on images absent from the GT, without a category, or with label_rank > 0 (a label
// alternative, not the written label) are not counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/detection_results.hpp"

namespace coordexp {

struct LabelAccuracy {
  double iou_threshold = 0.5;
  int64_t detections = 0;              // detections with a category on images of the GT
  int64_t localised = 0;               // of those, IoU >= iou_threshold with some ground-truth box
  int64_t label_right = 0;             // localised with that box's category
  std::vector<int64_t> word_right;     // [k]: localised whose category names agree at word k
  std::vector<int64_t> word_compared;  // [k]: localised where both names have a word k
  double label_accuracy() const { return localised > 0 ? double(label_right) / double(localised) : 0.0; }
  double word_accuracy(size_t k) const;  // 0 where nothing was compared
};

LabelAccuracy evaluate_label_accuracy(const CocoDataset& gt, const DetectionResults& results,
                                      double iou_threshold = 0.5);

// One line: "localised 825 of 3053 detections (IoU >= 0.5 ...): label right 11.3%; word 1 right 94.8%, ...".
std::string format_label_accuracy(const LabelAccuracy& accuracy);
// A JSON object: iou_threshold, detections, localised, label_accuracy, word_accuracy [k].
std::string label_accuracy_to_json(const LabelAccuracy& accuracy);

}  // namespace coordexp
