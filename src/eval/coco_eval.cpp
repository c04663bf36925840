// pycocotools-exact COCO bbox evaluation; the contract and the list of reproduced behaviours are in
// include/coordexp/eval/coco_eval.hpp. This file loads and filters GT and detections the COCOeval way
// (crowd regions, unknown categories, per-cell cap max_dets); category_eval.hpp matches and accumulates.
#include "coordexp/eval/coco_eval.hpp"

#include <algorithm>
#include <cmath>

#include "category_eval.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

using namespace eval_internal;

double coco_bbox_iou(const BoxXYWH& dt, const BoxXYWH& gt, bool gt_is_crowd) {
  // Same operations in the same order as maskApi.c's bbIou, so the doubles agree to the bit.
  const double gt_area = gt.w * gt.h;
  const double dt_area = dt.w * dt.h;
  const double w = std::fmin(dt.w + dt.x, gt.w + gt.x) - std::fmax(dt.x, gt.x);
  if (w <= 0) return 0;
  const double h = std::fmin(dt.h + dt.y, gt.h + gt.y) - std::fmax(dt.y, gt.y);
  if (h <= 0) return 0;
  const double inter = w * h;
  const double uni = gt_is_crowd ? dt_area : dt_area + gt_area - inter;
  return inter / uni;
}

struct CocoEvaluator::State : EvaluatorState<CocoEvalOptions, CocoEvalCounts> {
  void gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index);
  void gather_detections(const CocoDataset& gt, const DetectionResults& results, const GtIdIndex& index);
  void pool_categories();
  CategoryEvalParams category_params() const {
    const auto& p = options.params;
    return {p.iou_thresholds, p.recall_thresholds, p.area_ranges, p.max_dets};
  }
};

CocoEvaluator::CocoEvaluator(const CocoDataset& gt, const DetectionResults& results, CocoEvalOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const auto& p = s.options.params;
  COORDEXP_CHECK_ARG(
      !p.max_dets.empty() && std::is_sorted(p.max_dets.begin(), p.max_dets.end()) && p.max_dets.front() >= 0,
      "params.max_dets", "a non-empty ascending list of caps", std::to_string(p.max_dets.size()) + " values");
  COORDEXP_CHECK_ARG(!p.iou_thresholds.empty() && !p.area_ranges.empty(), "params",
                     "IoU thresholds and area ranges", "an empty list");

  const GtIdIndex index = index_gt_ids(gt);
  s.set_axes(index);
  s.gather_ground_truth(gt, index);
  s.gather_detections(gt, results, index);
  if (!p.use_cats) s.pool_categories();
  for (auto& cw : s.work) group_into_cells(cw);
}

// GT, as _prepare gathers it: images in sorted id order, each image's annotations in file order, each
// resolved through COCO.anns (a dict keyed by id, so a repeated id yields the last such annotation).
void CocoEvaluator::State::gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index) {
  for (const GatheredGt& g :
       eval_internal::gather_ground_truth(gt, index, {}, counts.gt_duplicate_ids, counts.gt_dropped)) {
    const CocoAnnotation& ann = *g.ann;
    // pycocotools' _prepare: gt["ignore"] = iscrowd, whatever the file's "ignore" says.
    work[g.category].gts.push_back({g.image, ann.bbox, ann.area, ann.iscrowd, ann.iscrowd, ann.id != 0});
    ++counts.gt_used;
  }
}

// Detections, as loadRes + _prepare see them (file order inside an image); no cap here: evaluateImg keeps
// each cell's max_dets.back() highest-scoring ones.
void CocoEvaluator::State::gather_detections(const CocoDataset& gt, const DetectionResults& results,
                                             const GtIdIndex& index) {
  // Positions looked up once per entry, then a stable counting sort by image: each category's list comes
  // out grouped by image with file order inside (group_into_cells finds it sorted), allocated once.
  const auto& dets = results.detections;
  std::vector<uint32_t> image_of(dets.size()), category_of(dets.size());
  std::vector<uint32_t> start(image_ids.size() + 1, 0), per_category(work.size(), 0);
  for (size_t d = 0; d < dets.size(); ++d) {
    const auto image =
        detection_image(dets[d], index, results, gt,
                        "pycocotools rejects such results too; skip them with the unknown-image skip policy");
    image_of[d] = image ? *image : IdAxis::kAbsent;
    if (!image) continue;
    category_of[d] = index.categories.find(dets[d].category_id);
    if (category_of[d] == IdAxis::kAbsent) {
      ++counts.dt_dropped_unknown_category;
      image_of[d] = IdAxis::kAbsent;
      continue;
    }
    ++start[*image + 1];
    ++per_category[category_of[d]];
  }
  for (size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  std::vector<uint32_t> by_image(start.back());
  for (size_t d = 0; d < dets.size(); ++d)
    if (image_of[d] != IdAxis::kAbsent) by_image[start[image_of[d]]++] = uint32_t(d);
  for (size_t k = 0; k < work.size(); ++k) work[k].dts.reserve(per_category[k]);
  for (uint32_t d : by_image) {
    const Detection& det = dets[d];
    work[category_of[d]].dts.push_back({det.bbox, det.score, image_of[d], false});
  }
  counts.dt_used += int64_t(by_image.size());
}

// Without use_cats: one pool, category by category. The stable sort by image in group_into_cells then
// leaves each image's boxes in (category id, file order) order, evaluateImg's concatenation over p.catIds.
void CocoEvaluator::State::pool_categories() {
  CategoryWork pooled;
  for (auto& cw : work) {
    pooled.gts.insert(pooled.gts.end(), cw.gts.begin(), cw.gts.end());
    pooled.dts.insert(pooled.dts.end(), cw.dts.begin(), cw.dts.end());
  }
  work.assign(1, std::move(pooled));
  category_ids = {-1};
}

CocoEvaluator::~CocoEvaluator() = default;
CocoEvaluator::CocoEvaluator(CocoEvaluator&&) noexcept = default;
CocoEvaluator& CocoEvaluator::operator=(CocoEvaluator&&) noexcept = default;

void CocoEvaluator::evaluate() {
  state_->evaluate(state_->category_params());
}
void CocoEvaluator::accumulate() {
  state_->accumulate(state_->category_params(), /*with_scores=*/true);
}
const CocoAccumulation& CocoEvaluator::accumulation() const {
  return state_->accumulation();
}
const CocoEvalParams& CocoEvaluator::params() const {
  return state_->options.params;
}
const CocoEvalCounts& CocoEvaluator::counts() const {
  return state_->counts;
}
std::span<const int64_t> CocoEvaluator::image_ids() const {
  return state_->image_ids;
}
std::span<const int64_t> CocoEvaluator::category_ids() const {
  return state_->category_ids;
}

}  // namespace coordexp
