// Private core of CocoEvaluator and LvisEvaluator (LVISEval is COCOeval with other filters): the GT id
// axes, _prepare's gathering order, the evaluator state, and per category evaluateImg (greedy matching per
// image, area ranges, IoU thresholds) and accumulate (precision / recall / score tables). src/eval only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_params.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/util/error.hpp"
#include "parallel_for.hpp"

namespace coordexp::eval_internal {

// `ids` sorted ascending, repeats removed.
std::vector<int64_t> sorted_unique(std::vector<int64_t> ids);

// Sorted unique ids and each id's position among them, looked up once per annotation or detection: a
// direct table when the ids span a range at most 128 times their number (COCO val2017's 5,000 image ids
// span 0.58 M: a 2.3 MB table), a hash map otherwise.
class IdAxis {
 public:
  static constexpr uint32_t kAbsent = std::numeric_limits<uint32_t>::max();
  IdAxis() = default;
  explicit IdAxis(std::vector<int64_t> sorted_unique_ids);
  // The position of `id`, or kAbsent.
  uint32_t find(int64_t id) const {
    if (!table_.empty()) {
      const uint64_t slot = uint64_t(id) - uint64_t(ids_.front());  // wraps for id < min: out of range
      return slot < table_.size() ? table_[slot] : kAbsent;
    }
    auto it = map_.find(id);
    return it == map_.end() ? kAbsent : it->second;
  }
  const std::vector<int64_t>& ids() const { return ids_; }
  size_t size() const { return ids_.size(); }

 private:
  std::vector<int64_t> ids_;
  std::vector<uint32_t> table_;  // [id - ids_.front()] -> position or kAbsent; empty when map_ is used
  std::unordered_map<int64_t, uint32_t> map_;
};

// The image and category axes: sorted unique ids of the GT "images" / "categories" lists (the
// reference tools' getImgIds / getCatIds) and each id's position on its axis.
struct GtIdIndex {
  IdAxis images, categories;
};
GtIdIndex index_gt_ids(const CocoDataset& gt);

// One GT annotation as _prepare reads it, with the positions of its image and category.
struct GatheredGt {
  const CocoAnnotation* ann;
  uint32_t image, category;
};

// GT in _prepare's order: images in sorted id order, each image's entries in file order among those on a
// known image and category that `keep` accepts (empty: all), each resolved by id to the last annotation
// with that id (the references index annotations in a dict) and left out if that one's image or category
// is unknown. Adds the entries whose id repeats an earlier one to `duplicate_ids` and those on an unknown
// image or category to `dropped`.
std::vector<GatheredGt> gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index,
                                            const std::function<bool(const CocoAnnotation&)>& keep,
                                            int64_t& duplicate_ids, int64_t& dropped);

// The InputError for a results entry on an image absent from the GT, with `hint` on how to skip such entries.
[[noreturn]] void throw_unknown_image(const Detection& det, const DetectionResults& results,
                                      const CocoDataset& gt, const char* hint);

struct GtBox {
  uint32_t image;  // index into the sorted image ids
  BoxXYWH bbox;
  double area;  // the annotation's "area" field (area ranges test it)
  bool crowd;   // COCO iscrowd: matched by intersection over detection area, may absorb many detections
  // Ignored in every area range: COCO's iscrowd (_prepare sets gt["ignore"] = iscrowd), LVIS's "ignore".
  bool ignore;
  bool id_nonzero;  // the references record matches by GT id, and id 0 reads as "no match"
};

// 48 bytes: the area (w * h, as loadRes / LVISResults set it) is recomputed where it is needed.
struct DtBox {
  BoxXYWH bbox;
  double score;
  uint32_t image;
  bool not_exhaustive;  // LVIS: left unmatched, the detection is ignored instead of a false positive
  double area() const { return bbox.w * bbox.h; }
};

// One (image, category) pair with any GT or detection: a non-None evaluateImg / evaluate_img result.
struct Cell {
  uint32_t gt_begin, gt_end, dt_begin, dt_end;
  uint32_t kept_begin;  // where its kept detections start in CategoryWork's kept_* and codes arrays
};

// One category's boxes (or, for COCO without use_cats, every category's) and what evaluate makes of them.
// A category without GT or detections has no cells and allocates nothing.
struct CategoryWork {
  std::vector<GtBox> gts;  // grouped by image (ascending) by group_into_cells, gathering order inside
  std::vector<DtBox> dts;  // grouped by image (ascending) by group_into_cells, file order inside
  std::vector<Cell> cells;
  // evaluate: detections kept after the per-cell cap, cell by cell, each cell in stable score order.
  std::vector<double> kept_scores;
  std::vector<uint32_t> kept_rank;          // position in its cell's score order (for max_dets[m])
  std::vector<std::vector<uint8_t>> codes;  // [A][kept * T] detection outcome at each IoU threshold
  std::vector<int64_t> num_gt_not_ignored;  // [A] npig contribution
};

// A cap that keeps every detection of a cell (LVIS has no per-category cap).
inline constexpr int64_t kNoDetectionCap = std::numeric_limits<int64_t>::max();

struct CategoryEvalParams {
  std::span<const double> iou_thresholds;     // T, a detection matches at IoU >= t
  std::span<const double> recall_thresholds;  // R points of the PR curve
  std::span<const AreaRange> area_ranges;     // A, inclusive bounds
  // M ascending caps on the detections of a cell that accumulate reads; evaluate keeps the highest
  // max_dets.back() of each cell (kNoDetectionCap: all of them).
  std::span<const int64_t> max_dets;
};

// Sorts the boxes by image, stably (the gathering / file order stays inside an image), and lists the cells.
void group_into_cells(CategoryWork& cw);

// evaluateImg for every cell of every category and every area range, on `threads` workers (0: all cores):
// each category with cells is one task, or several runs of its cells when there are few categories. Every
// cell writes its own slots, so the results do not depend on the number of threads.
void evaluate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p, unsigned threads);

// accumulate: precision and scores [T,R,K,A,M], recall [T,K,A,M] with K = work.size(); -1 for a category
// without cells or without non-ignored GT in an area range. The tables are allocated once, -1 filled, and
// only categories with cells are written, one task per (category, area range) on `threads` workers; a
// task takes the caps in order and copies the rows of a cap that keeps the same detections as the one
// below (COCO's 10 and 100 when no image has more than 10 detections of the category). Needs
// evaluate_categories first.
// Without `with_scores` the scores table is left empty (LVISEval keeps none).
CocoAccumulation accumulate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p,
                                       unsigned threads, bool with_scores);

// What both evaluators hold and the steps they take alike; each derives its State from it and adds its own
// loading and filtering. Options carries unknown_image and num_threads; Counts the num_images,
// num_categories, dt_without_category and dt_skipped_unknown_image fields.
template <typename Options, typename Counts>
struct EvaluatorState {
  Options options;
  Counts counts;
  std::vector<int64_t> image_ids, category_ids;  // sorted unique GT ids; category_ids is the K axis
  std::vector<CategoryWork> work;                // [K]
  bool evaluated = false, accumulated = false;
  CocoAccumulation acc;

  // Takes the image and category axes from `index`, with one (empty) CategoryWork per category.
  void set_axes(const GtIdIndex& index) {
    image_ids = index.images.ids();
    category_ids = index.categories.ids();
    counts.num_images = int64_t(image_ids.size());
    counts.num_categories = int64_t(category_ids.size());
    work.assign(category_ids.size(), {});
  }

  // The image position of a results entry, or nullopt (counted) for one the reference never evaluates:
  // an entry without a category, or one on an image absent from the GT under kUnknownImageSkip; under
  // kUnknownImageError the latter is an InputError naming the entry, with `hint` on how to skip it.
  std::optional<uint32_t> detection_image(const Detection& det, const GtIdIndex& index,
                                          const DetectionResults& results, const CocoDataset& gt,
                                          const char* hint) {
    if (!det.has_category) {
      ++counts.dt_without_category;
      return std::nullopt;
    }
    const uint32_t img = index.images.find(det.image_id);
    if (img != IdAxis::kAbsent) return img;
    if (options.unknown_image != UnknownImagePolicy::kUnknownImageSkip)
      throw_unknown_image(det, results, gt, hint);
    ++counts.dt_skipped_unknown_image;
    return std::nullopt;
  }

  void evaluate(const CategoryEvalParams& p) {
    evaluate_categories(work, p, options.num_threads);
    evaluated = true;
    accumulated = false;
  }

  void accumulate(const CategoryEvalParams& p, bool with_scores) {
    if (!evaluated) evaluate(p);
    acc = accumulate_categories(work, p, options.num_threads, with_scores);
    accumulated = true;
  }

  const CocoAccumulation& accumulation() const {
    COORDEXP_CHECK_ARG(accumulated, "evaluator", "accumulate() to have run", "it has not");
    return acc;
  }
};

}  // namespace coordexp::eval_internal
