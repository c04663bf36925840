// Greedy one-to-one F1 evaluation; see include/coordexp/eval/detection_f1.hpp.
#include "coordexp/eval/detection_f1.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include "coordexp/eval/coco_eval.hpp"

namespace coordexp {

std::vector<F1AtThreshold> evaluate_detection_f1(const CocoDataset& gt, const DetectionResults& results,
                                                 const DetectionF1Options& options) {
  // Group by (image, category or 0 when class-agnostic), keeping file order inside a group.
  using Key = std::pair<int64_t, int64_t>;
  std::map<Key, std::pair<std::vector<const CocoAnnotation*>, std::vector<const Detection*>>> groups;
  for (const auto& ann : gt.annotations)
    groups[{ann.image_id, options.class_aware ? ann.category_id : 0}].first.push_back(&ann);
  for (const auto& det : results.detections)
    if (det.has_category || !options.class_aware)
      groups[{det.image_id, options.class_aware ? det.category_id : 0}].second.push_back(&det);

  std::vector<F1AtThreshold> out;
  for (double thr : options.iou_thresholds) {
    F1AtThreshold r;
    r.iou_threshold = thr;
    for (auto& [key, group] : groups) {
      auto& [anns, dets] = group;
      std::stable_sort(dets.begin(), dets.end(),
                       [](const Detection* a, const Detection* b) { return a->score > b->score; });
      std::vector<uint8_t> taken(anns.size(), 0);
      for (const Detection* d : dets) {
        long best = -1;
        double best_iou = thr;
        bool in_crowd = false;
        for (size_t g = 0; g < anns.size(); ++g) {
          const double iou = coco_bbox_iou(d->bbox, anns[g]->bbox, anns[g]->iscrowd);
          if (anns[g]->iscrowd) {
            in_crowd = in_crowd || iou >= thr;
          } else if (!taken[g] && iou >= best_iou) {
            best_iou = iou;
            best = long(g);
          }
        }
        if (best >= 0) {
          taken[size_t(best)] = 1;
          ++r.true_positives;
        } else if (in_crowd) {
          ++r.ignored;
        } else {
          ++r.false_positives;
        }
      }
      for (size_t g = 0; g < anns.size(); ++g) r.false_negatives += !anns[g]->iscrowd && !taken[g];
    }
    const double tp = double(r.true_positives);
    r.precision =
        r.true_positives + r.false_positives ? tp / double(r.true_positives + r.false_positives) : 0;
    r.recall = r.true_positives + r.false_negatives ? tp / double(r.true_positives + r.false_negatives) : 0;
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
    out.push_back(r);
  }
  return out;
}

}  // namespace coordexp
