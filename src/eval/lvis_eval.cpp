// LVIS federated bbox evaluation (lvis-api's LVISResults + LVISEval semantics); the contract and the list
// of reproduced rules are in include/coordexp/eval/lvis_eval.hpp. This file loads and filters GT and
// results the LVIS way; category_eval.hpp matches (no crowd regions, no per-cell cap) and accumulates.
#include "coordexp/eval/lvis_eval.hpp"

#include <algorithm>
#include <cmath>

#include "category_eval.hpp"
#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

using namespace eval_internal;

namespace {

// get_ann_ids keeps annotations with area_rng[0] < area < area_rng[1], i.e. 0 < area < inf.
bool area_kept(double area) {
  return area > 0 && area < HUGE_VAL;
}

bool contains(const std::vector<int64_t>& sorted_ids, int64_t id) {
  return std::binary_search(sorted_ids.begin(), sorted_ids.end(), id);
}

// LVISEval has one cap, and it keeps every detection of a cell.
constexpr int64_t kLvisMaxDets[] = {kNoDetectionCap};

// The federated sets of each image (positions on the image axis).
struct FederatedSets {
  std::vector<std::vector<uint32_t>> positive;                 // sorted category indices with kept GT there
  std::vector<std::vector<int64_t>> negative, not_exhaustive;  // sorted category ids from the image entry
};

}  // namespace

void validate_lvis_ground_truth(const CocoDataset& gt) {
  for (size_t i = 0; i < gt.categories.size(); ++i) {
    const std::string& f = gt.categories[i].frequency;
    if (f == "r" || f == "c" || f == "f") continue;
    throw_input_error(
        gt.source + ": categories[" + std::to_string(i) + "].frequency",
        "\"r\", \"c\" or \"f\" (LVIS frequency group)",
        f.empty() ? std::string("no frequency") : "\"" + f + "\"",
        "LVIS evaluation splits AP by frequency; coordexp eval --coco computes plain COCO metrics");
  }
}

bool looks_like_lvis(const CocoDataset& gt) {
  return coco_looks_like_lvis(gt);
}

struct LvisEvaluator::State : EvaluatorState<LvisEvalOptions, LvisEvalCounts> {
  std::vector<LvisFrequency> frequencies;  // [K]

  FederatedSets read_categories_and_images(const CocoDataset& gt, const GtIdIndex& index);
  void gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index, FederatedSets& sets);
  std::vector<uint8_t> cap_results_per_image(const CocoDataset& gt, const DetectionResults& results,
                                             const GtIdIndex& index);
  void gather_detections(const DetectionResults& results, const std::vector<uint8_t>& kept,
                         const GtIdIndex& index, const FederatedSets& sets);
  CategoryEvalParams category_params() const {
    const auto& p = options.params;
    return {p.iou_thresholds, p.recall_thresholds, p.area_ranges, kLvisMaxDets};
  }
};

LvisEvaluator::LvisEvaluator(const CocoDataset& gt, const DetectionResults& results, LvisEvalOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const auto& p = s.options.params;
  COORDEXP_CHECK_ARG(!p.iou_thresholds.empty() && !p.area_ranges.empty() && !p.recall_thresholds.empty(),
                     "params", "IoU thresholds, recall points and area ranges", "an empty list");
  validate_lvis_ground_truth(gt);

  const GtIdIndex index = index_gt_ids(gt);
  s.set_axes(index);
  FederatedSets sets = s.read_categories_and_images(gt, index);
  s.gather_ground_truth(gt, index, sets);
  s.gather_detections(results, s.cap_results_per_image(gt, results, index), index, sets);
  for (auto& cw : s.work) group_into_cells(cw);
}

// Category frequency and image lists from the last entry with each id (lvis-api's cats / imgs dicts).
FederatedSets LvisEvaluator::State::read_categories_and_images(const CocoDataset& gt,
                                                               const GtIdIndex& index) {
  frequencies.assign(category_ids.size(), kLvisRare);
  for (const auto& cat : gt.categories)
    frequencies[index.categories.find(cat.id)] = cat.frequency == "r"   ? kLvisRare
                                                 : cat.frequency == "c" ? kLvisCommon
                                                                        : kLvisFrequent;
  const size_t I = image_ids.size();
  FederatedSets sets{std::vector<std::vector<uint32_t>>(I), std::vector<std::vector<int64_t>>(I),
                     std::vector<std::vector<int64_t>>(I)};
  for (const auto& img : gt.images) {
    const uint32_t i = index.images.find(img.id);
    sets.negative[i] = sorted_unique(img.neg_category_ids);
    sets.not_exhaustive[i] = sorted_unique(img.not_exhaustive_category_ids);
  }
  return sets;
}

// GT as _prepare gathers it: images in sorted id order, each image's entries in file order, filtered on
// the entry's category and area, then resolved by id (the last annotation with that id). Every GT box is a
// normal one (iscrowd is not read); the categories with kept GT on an image are its positive set.
void LvisEvaluator::State::gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index,
                                               FederatedSets& sets) {
  const auto keep = [&](const CocoAnnotation& ann) {
    if (area_kept(ann.area)) return true;
    ++counts.gt_dropped_zero_area;
    return false;
  };
  for (const GatheredGt& g :
       eval_internal::gather_ground_truth(gt, index, keep, counts.gt_duplicate_ids, counts.gt_dropped)) {
    const CocoAnnotation& ann = *g.ann;
    work[g.category].gts.push_back({g.image, ann.bbox, ann.area, false, ann.ignore, ann.id != 0});
    sets.positive[g.image].push_back(g.category);
    ++counts.gt_used;
  }
  for (auto& cats : sets.positive) {
    std::sort(cats.begin(), cats.end());
    cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
  }
}

// LVISResults.limit_dets_per_image, before anything else: per image, over every category, the
// max_dets_per_image highest-scoring entries (stable). Returns a kept flag per results entry.
std::vector<uint8_t> LvisEvaluator::State::cap_results_per_image(const CocoDataset& gt,
                                                                 const DetectionResults& results,
                                                                 const GtIdIndex& index) {
  std::vector<std::vector<uint32_t>> dets_of_image(image_ids.size());
  for (size_t d = 0; d < results.detections.size(); ++d) {
    const auto image =
        detection_image(results.detections[d], index, results, gt,
                        "lvis-api rejects such results too; skip them with --skip-unknown-images");
    if (!image) continue;
    dets_of_image[*image].push_back(uint32_t(d));
  }
  std::vector<uint8_t> kept(results.detections.size(), 0);
  const int64_t cap = options.params.max_dets_per_image;
  for (auto& list : dets_of_image) {
    if (cap >= 0 && list.size() > size_t(cap)) {
      std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
        return results.detections[a].score > results.detections[b].score;
      });
      counts.dt_over_image_cap += int64_t(list.size() - size_t(cap));
      list.resize(size_t(cap));
    }
    for (uint32_t d : list) kept[d] = 1;
  }
  return kept;
}

// The category / area / federated filters of _prepare on the entries the cap kept, in file order.
void LvisEvaluator::State::gather_detections(const DetectionResults& results,
                                             const std::vector<uint8_t>& kept, const GtIdIndex& index,
                                             const FederatedSets& sets) {
  for (size_t d = 0; d < results.detections.size(); ++d) {
    if (!kept[d]) continue;
    const auto& det = results.detections[d];
    const uint32_t i = index.images.find(det.image_id);  // known: the cap kept it
    const uint32_t cat = index.categories.find(det.category_id);
    if (cat == IdAxis::kAbsent) {
      ++counts.dt_dropped_unknown_category;
      continue;
    }
    const double area = det.bbox.w * det.bbox.h;
    if (!area_kept(area)) {
      ++counts.dt_dropped_zero_area;
      continue;
    }
    const auto& pos = sets.positive[i];
    if (!contains(sets.negative[i], det.category_id) && !std::binary_search(pos.begin(), pos.end(), cat)) {
      ++counts.dt_not_federated;
      continue;
    }
    work[cat].dts.push_back({det.bbox, det.score, i, contains(sets.not_exhaustive[i], det.category_id)});
    ++counts.dt_used;
  }
}

LvisEvaluator::~LvisEvaluator() = default;
LvisEvaluator::LvisEvaluator(LvisEvaluator&&) noexcept = default;
LvisEvaluator& LvisEvaluator::operator=(LvisEvaluator&&) noexcept = default;

void LvisEvaluator::evaluate() {
  state_->evaluate(state_->category_params());
}
// LVISEval.accumulate: COCOeval's with a single cap (M = 1) that keeps everything; no score table.
void LvisEvaluator::accumulate() {
  state_->accumulate(state_->category_params(), /*with_scores=*/false);
}
const CocoAccumulation& LvisEvaluator::accumulation() const {
  return state_->accumulation();
}
const LvisEvalParams& LvisEvaluator::params() const {
  return state_->options.params;
}
const LvisEvalCounts& LvisEvaluator::counts() const {
  return state_->counts;
}
std::span<const int64_t> LvisEvaluator::image_ids() const {
  return state_->image_ids;
}
std::span<const int64_t> LvisEvaluator::category_ids() const {
  return state_->category_ids;
}
std::span<const LvisFrequency> LvisEvaluator::frequencies() const {
  return state_->frequencies;
}

}  // namespace coordexp
