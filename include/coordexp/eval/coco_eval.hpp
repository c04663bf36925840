// COCO bbox evaluation that reproduces pycocotools' COCOeval(iouType='bbox') number for number:
// evaluate() is evaluateImg over every (category, area range, image), accumulate() builds the
// precision[T,R,K,A,M] / recall[T,K,A,M] / scores tables. Summaries live in coco_summary.hpp.
//
// pycocotools behaviours reproduced on purpose (each has a test in tests/eval):
//  - images and categories are the sorted unique ids of the GT "images" / "categories" lists; GT
//    annotations or detections on other categories are dropped; detections on images absent from the GT
//    are an error (pycocotools asserts) unless UnknownImagePolicy says skip;
//  - detections are ordered by score with a stable sort (ties keep file order), at most max_dets.back()
//    per image and category, and accumulated across images in sorted image-id order, again stably;
//  - a GT box is ignored when iscrowd is set (the file's "ignore" field is overwritten, as in _prepare)
//    or its "area" lies outside the area range (bounds inclusive); crowd regions match by intersection
//    over detection area and can absorb many detections, which are then ignored;
//  - detection area is w*h; an unmatched detection outside the area range is ignored;
//  - a detection matched to a GT annotation whose id is 0 counts as unmatched in the tables (dtMatches
//    stores the GT id and 0 means "no match"), while that GT is still consumed;
//  - annotations sharing an id resolve to the last one in the file (COCO.anns is a dict keyed by id);
//  - categories without GT (or with only ignored GT) stay -1 and are left out of means.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_params.hpp"
#include "coordexp/eval/detection_results.hpp"

namespace coordexp {

// What to do with a detection whose image_id is not in the GT "images" list.
enum class UnknownImagePolicy {
  kUnknownImageError,  // throw InputError naming the results entry (pycocotools asserts)
  kUnknownImageSkip,   // drop it and count it in CocoEvalCounts::dt_skipped_unknown_image
};

struct CocoEvalOptions {
  CocoEvalParams params;  // thresholds, caps and area ranges (pycocotools defaults)
  UnknownImagePolicy unknown_image = UnknownImagePolicy::kUnknownImageError;  // detections on unknown images
  // Worker threads for evaluate (categories, or runs of images when categories are few) and accumulate
  // (category x area range); 0 = std::thread::hardware_concurrency(). Results are identical bit for bit at
  // any count.
  unsigned num_threads = 0;
};

// What went in and what was left out, for reports.
struct CocoEvalCounts {
  int64_t num_images = 0;                   // I: unique GT image ids
  int64_t num_categories = 0;               // K: unique GT category ids
  int64_t gt_used = 0;                      // GT annotations on a known image and category
  int64_t gt_dropped = 0;                   // GT annotations on an unknown image or category
  int64_t gt_duplicate_ids = 0;             // GT annotations whose id repeats an earlier one
  int64_t dt_used = 0;                      // detections evaluated (before the max_dets cap)
  int64_t dt_dropped_unknown_category = 0;  // detections whose category is not in the GT categories
  int64_t dt_skipped_unknown_image = 0;     // detections on images absent from the GT (skip policy)
  int64_t dt_without_category = 0;          // detections with only a description (never evaluated)
};

// accumulate()'s tables, in numpy's C order, with -1 where pycocotools leaves -1: recall[t, k, a, m] is -1
// exactly where precision[t, :, k, a, m] (and scores) are -1 throughout (no non-ignored GT), which the
// summaries use to skip such rows.
struct CocoAccumulation {
  size_t T = 0, R = 0, K = 0, A = 0, M = 0;
  std::vector<double> precision;  // [T, R, K, A, M] interpolated precision at each recall point
  std::vector<double> recall;     // [T, K, A, M] final recall
  std::vector<double> scores;     // [T, R, K, A, M] score of the detection reached at each recall point
  double precision_at(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  }
  double recall_at(size_t t, size_t k, size_t a, size_t m) const {
    return recall[((t * K + k) * A + a) * M + m];
  }
  double score_at(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return scores[(((t * R + r) * K + k) * A + a) * M + m];
  }
};

class CocoEvaluator {
 public:
  // Indexes GT and detections (pycocotools' loadRes + _prepare). Throws InputError for detections on
  // unknown images under kUnknownImageError, naming the results file and entry.
  CocoEvaluator(const CocoDataset& gt, const DetectionResults& results, CocoEvalOptions options = {});
  ~CocoEvaluator();
  CocoEvaluator(CocoEvaluator&&) noexcept;
  CocoEvaluator& operator=(CocoEvaluator&&) noexcept;

  // evaluateImg for every (category, area range, image) with max_dets.back() detections.
  void evaluate();
  // Precision / recall / score tables; calls evaluate() first if it has not run.
  void accumulate();

  const CocoAccumulation& accumulation() const;  // valid after accumulate()
  const CocoEvalParams& params() const;
  const CocoEvalCounts& counts() const;
  std::span<const int64_t> image_ids() const;  // sorted unique GT image ids
  std::span<const int64_t> category_ids()
      const;  // sorted unique GT category ids (the K axis); {-1} without use_cats

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One IoU as maskApi.c's bbIou computes it, on [x, y, w, h] boxes: intersection over union, or over the
// detection's area when the GT box is a crowd region; 0 when the boxes do not overlap with positive extent.
double coco_bbox_iou(const BoxXYWH& dt, const BoxXYWH& gt, bool gt_is_crowd);

}  // namespace coordexp
