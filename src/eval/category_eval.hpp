// Private core of CocoEvaluator and LvisEvaluator (LVISEval is COCOeval with other filters): the GT id
// axes, _prepare's gathering order, the evaluator state, and per category evaluateImg (greedy matching per
// image, area ranges, IoU thresholds) and accumulate (precision / recall / score tables). src/eval only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_params.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::eval_internal {

// Runs fn(0) ... fn(n - 1) on `threads` workers (0: hardware_concurrency); the first exception thrown
// stops the handing out of indices and is rethrown once every worker has finished.
template <typename Fn>
void parallel_for(size_t n, unsigned threads, Fn fn) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::min<size_t>(threads, n));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < threads; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n && !failed;) {
        try {
          fn(i);
        } catch (...) {
          if (!failed.exchange(true)) error = std::current_exception();
        }
      }
    });
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// `ids` sorted ascending, repeats removed.
std::vector<int64_t> sorted_unique(std::vector<int64_t> ids);

// The image and category axes: sorted unique ids of the GT "images" / "categories" lists (the
// reference tools' getImgIds / getCatIds) and each id's position on its axis.
struct GtIdIndex {
  std::vector<int64_t> image_ids, category_ids;
  std::unordered_map<int64_t, uint32_t> image_index, category_index;
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
  double area;      // the annotation's "area" field (area ranges test it)
  bool crowd;       // COCO iscrowd: matched by intersection over detection area, always ignored
  bool id_nonzero;  // the references record matches by GT id, and id 0 reads as "no match"
};

struct DtBox {
  uint32_t image;
  BoxXYWH bbox;
  double area;  // w * h, as loadRes / LVISResults set it
  double score;
  bool not_exhaustive;  // LVIS: left unmatched, the detection is ignored instead of a false positive
};

// One (image, category) pair with any GT or detection: a non-None evaluateImg / evaluate_img result.
struct Cell {
  uint32_t gt_begin, gt_end, dt_begin, dt_end;
};

// One category's boxes (or, for COCO without use_cats, every category's) and what the steps make of them.
struct CategoryWork {
  std::vector<GtBox> gts;  // grouped by image (ascending) by group_into_cells, gathering order inside
  std::vector<DtBox> dts;  // grouped by image (ascending) by group_into_cells, file order inside
  std::vector<Cell> cells;
  // evaluate: detections kept after the per-cell cap, cell by cell, each cell in stable score order.
  std::vector<double> kept_scores;
  std::vector<uint32_t> kept_rank;          // position in its cell's score order (for max_dets[m])
  std::vector<std::vector<uint8_t>> codes;  // [A][kept * T] detection outcome at each IoU threshold
  std::vector<int64_t> num_gt_not_ignored;  // [A] npig contribution
  // accumulate: this category's slice of the tables as [T][R][A][M] (contiguous over a, m), copied
  // into the [T,R,K,A,M] tables afterwards so that no thread writes with a stride of K*A*M doubles.
  std::vector<double> precision, scores;
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

// evaluateImg for every cell of every category and every area range, categories spread over `threads`.
void evaluate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p, unsigned threads);

// accumulate: precision and scores [T,R,K,A,M], recall [T,K,A,M] with K = work.size(); -1 for a category
// without cells or without non-ignored GT in an area range. Needs evaluate_categories first.
CocoAccumulation accumulate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p,
                                       unsigned threads);

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
    image_ids = index.image_ids;
    category_ids = index.category_ids;
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
    auto img = index.image_index.find(det.image_id);
    if (img != index.image_index.end()) return img->second;
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

  void accumulate(const CategoryEvalParams& p) {
    if (!evaluated) evaluate(p);
    acc = accumulate_categories(work, p, options.num_threads);
    accumulated = true;
  }

  const CocoAccumulation& accumulation() const {
    COORDEXP_CHECK_ARG(accumulated, "evaluator", "accumulate() to have run", "it has not");
    return acc;
  }
};

}  // namespace coordexp::eval_internal
