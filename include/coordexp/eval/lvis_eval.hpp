// LVIS federated bbox evaluation, number for number as lvis-api's LVISResults + LVISEval(iou_type='bbox')
// compute it. The tables come out in the COCO evaluator's layout (CocoAccumulation with a single cap,
// M = 1) so the COCO summary means can be reused; the 13 LVIS stats are in lvis_summary.hpp.
//
// Rules reproduced (each has a test in tests/eval/test_lvis_eval.cpp):
//  - images and categories are the sorted unique ids of the GT lists; an image's or category's fields
//    come from the last entry with that id (lvis-api indexes them in dicts);
//  - results cap: per image, across all categories, only the max_dets_per_image (300) highest-scoring
//    entries are kept (stable: ties keep file order); entries on unknown categories still count toward
//    the cap, as LVISResults applies it before anything else; there is no per-category cap;
//  - GT annotations and detections need 0 < area < inf (get_ann_ids' strict area filter): a zero-area
//    GT box or detection is dropped; detection area is w*h; iscrowd is not used (every GT is a normal box);
//  - federated filter: on each image only categories in its positive set (categories with a kept GT
//    annotation there) or its neg_category_ids are evaluated; detections of any other category on that
//    image are dropped, so they are neither true nor false positives;
//  - not-exhaustive categories: on an image whose not_exhaustive_category_ids lists the category, a
//    detection left unmatched is ignored instead of counted as a false positive (matched ones still count);
//  - matching, area ranges (inclusive, from the GT "area"), the stable score order across images in
//    sorted id order, the 101-point interpolated precision and the recall are COCOeval's; a detection
//    matched to a GT whose id is 0 reads as unmatched (LVISEval stores GT ids, 0 meaning "none");
//  - GT annotations sharing an id resolve to the last one in the file, as in the COCO evaluator;
//  - categories without (non-ignored) GT stay -1 and are left out of every mean;
//  - every category needs "frequency" r, c or f (the APr / APc / APf groups); otherwise InputError
//    naming the file, the category's index and the field.
//  - a GT annotation with "ignore" set (any non-zero number or true) is an ignore region in every area
//    range, as evaluate_img's g["ignore"]: a detection matched to it is ignored, it does not count in the
//    recall denominator, and it still puts its category in the image's positive set (_prepare's img_pl).
// Not read: segm / boundary IoU types.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_params.hpp"
#include "coordexp/eval/detection_results.hpp"

namespace coordexp {

// lvis-api's Params(iou_type='bbox') defaults.
struct LvisEvalParams {
  std::vector<double> iou_thresholds = coco_iou_thresholds();        // 0.50:0.05:0.95
  std::vector<double> recall_thresholds = coco_recall_thresholds();  // 101 points
  std::vector<AreaRange> area_ranges = coco_area_ranges();           // all / small / medium / large
  int64_t max_dets_per_image = 300;  // results kept per image across categories; < 0: no cap
};

struct LvisEvalOptions {
  LvisEvalParams params;
  UnknownImagePolicy unknown_image = UnknownImagePolicy::kUnknownImageError;  // lvis-api asserts
  // Worker threads for evaluate and accumulate, as CocoEvalOptions::num_threads (0: all cores); results
  // are identical bit for bit at any count.
  unsigned num_threads = 0;
};

// Frequency groups in LVIS order: index 0 rare, 1 common, 2 frequent.
enum LvisFrequency : uint8_t { kLvisRare = 0, kLvisCommon = 1, kLvisFrequent = 2 };

struct LvisEvalCounts {
  int64_t num_images = 0;                   // unique GT image ids
  int64_t num_categories = 0;               // unique GT category ids
  int64_t gt_used = 0;                      // GT annotations evaluated
  int64_t gt_dropped = 0;                   // on an unknown image or category
  int64_t gt_dropped_zero_area = 0;         // "area" not in (0, inf)
  int64_t gt_duplicate_ids = 0;             // ids repeating an earlier annotation's
  int64_t dt_used = 0;                      // detections evaluated
  int64_t dt_over_image_cap = 0;            // beyond max_dets_per_image on their image
  int64_t dt_dropped_unknown_category = 0;  // category not in the GT
  int64_t dt_dropped_zero_area = 0;         // w*h not in (0, inf)
  int64_t dt_not_federated = 0;             // category neither positive nor negative on its image
  int64_t dt_skipped_unknown_image = 0;     // image absent from the GT (skip policy)
  int64_t dt_without_category = 0;          // description-only entries (never evaluated)
};

// Checks what LVIS evaluation needs beyond the COCO loader: "frequency" r/c/f on every category. Throws
// InputError "<file>: categories[i].frequency: expected ..." otherwise.
void validate_lvis_ground_truth(const CocoDataset& gt);

// Whether `gt` looks like LVIS ground truth: some category carries "frequency" and some image carries
// neg_category_ids or not_exhaustive_category_ids.
bool looks_like_lvis(const CocoDataset& gt);

class LvisEvaluator {
 public:
  // Validates the GT (validate_lvis_ground_truth), applies the results cap and the federated filter.
  // Throws InputError for detections on unknown images under kUnknownImageError.
  LvisEvaluator(const CocoDataset& gt, const DetectionResults& results, LvisEvalOptions options = {});
  ~LvisEvaluator();
  LvisEvaluator(LvisEvaluator&&) noexcept;
  LvisEvaluator& operator=(LvisEvaluator&&) noexcept;

  void evaluate();    // evaluate_img for every (category, area range, image)
  void accumulate();  // precision [T,R,K,A,1] and recall [T,K,A,1]; calls evaluate() first if needed

  const CocoAccumulation& accumulation() const;  // valid after accumulate(); scores are not filled
  const LvisEvalParams& params() const;
  const LvisEvalCounts& counts() const;
  std::span<const int64_t> image_ids() const;          // sorted unique GT image ids
  std::span<const int64_t> category_ids() const;       // sorted unique GT category ids (the K axis)
  std::span<const LvisFrequency> frequencies() const;  // frequency group of each category on the K axis

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace coordexp
