// Precision / recall / F1 at fixed IoU thresholds with greedy one-to-one matching, for model outputs whose
// scores carry no ranking information. Per image and category, detections are taken in score order (ties
// and score-less outputs keep file order) and each takes the unmatched regular GT box of highest IoU >= t.
// A detection that instead covers a crowd region (intersection over detection area >= t) is ignored.
#pragma once

#include <cstdint>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/detection_results.hpp"

namespace coordexp {

struct DetectionF1Options {
  std::vector<double> iou_thresholds = {0.5, 0.75};  // one result per threshold
  bool class_aware = true;  // true: a detection matches only GT of its category; false: any category
};

struct F1AtThreshold {
  double iou_threshold = 0;
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  int64_t false_negatives = 0;  // regular (non-crowd) GT boxes left unmatched
  int64_t ignored = 0;          // detections absorbed by crowd regions
  double precision = 0;         // TP / (TP + FP), 0 without detections
  double recall = 0;            // TP / (TP + FN), 0 without GT
  double f1 = 0;                // 2 P R / (P + R), 0 when both are 0
};

// Detections on images or categories absent from the GT count as false positives.
std::vector<F1AtThreshold> evaluate_detection_f1(const CocoDataset& gt, const DetectionResults& results,
                                                 const DetectionF1Options& options = {});

}  // namespace coordexp
