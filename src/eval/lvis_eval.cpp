// LVIS federated bbox evaluation (lvis-api's LVISResults + LVISEval semantics); the contract and the list
// of reproduced rules are in include/coordexp/eval/lvis_eval.hpp. Boxes are compared with the COCO
// evaluator's coco_bbox_iou (maskApi.c's bbIou, never a crowd region); work is split by category.
#include "coordexp/eval/lvis_eval.hpp"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <exception>
#include <numeric>
#include <thread>
#include <unordered_map>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

struct GtBox {
  uint32_t image;  // index into the sorted image ids
  BoxXYWH bbox;
  double area;      // the annotation's "area"
  bool id_nonzero;  // LVISEval records matches by GT id; id 0 reads as "no match"
};

struct DtBox {
  uint32_t image;
  BoxXYWH bbox;
  double area;  // w * h, as LVISResults sets it
  double score;
  bool not_exhaustive;  // the category is in the image's not_exhaustive_category_ids
};

// One (image, category) pair with any GT or detection: a non-None evaluate_img result.
struct Cell {
  uint32_t gt_begin, gt_end, dt_begin, dt_end;
};

enum DetectionCode : uint8_t { kIgnored = 0, kTruePositive = 1, kFalsePositive = 2 };

struct CategoryWork {
  std::vector<GtBox> gts;  // grouped by image (ascending), gathering order inside an image
  std::vector<DtBox> dts;  // grouped by image (ascending), file order inside an image
  std::vector<Cell> cells;
  std::vector<double> scores;               // cell by cell, each cell in stable score order
  std::vector<std::vector<uint8_t>> codes;  // [A][detection * T] DetectionCode
  std::vector<int64_t> num_gt_not_ignored;  // [A]
};

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

std::vector<int64_t> sorted_unique(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::unordered_map<int64_t, uint32_t> index_of(const std::vector<int64_t>& ids) {
  std::unordered_map<int64_t, uint32_t> map;
  map.reserve(ids.size() * 2);
  for (size_t i = 0; i < ids.size(); ++i) map.emplace(ids[i], uint32_t(i));
  return map;
}

// get_ann_ids keeps annotations with area_rng[0] < area < area_rng[1], i.e. 0 < area < inf.
bool area_kept(double area) {
  return area > 0 && area < HUGE_VAL;
}

bool contains(const std::vector<int64_t>& sorted_ids, int64_t id) {
  return std::binary_search(sorted_ids.begin(), sorted_ids.end(), id);
}

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
  const bool has_frequency = std::any_of(gt.categories.begin(), gt.categories.end(),
                                         [](const CocoCategory& c) { return !c.frequency.empty(); });
  const bool has_federated_lists = std::any_of(gt.images.begin(), gt.images.end(), [](const CocoImage& img) {
    return !img.neg_category_ids.empty() || !img.not_exhaustive_category_ids.empty();
  });
  return has_frequency && has_federated_lists;
}

struct LvisEvaluator::State {
  LvisEvalOptions options;
  LvisEvalCounts counts;
  std::vector<int64_t> image_ids, category_ids;
  std::vector<LvisFrequency> frequencies;  // [K]
  std::vector<CategoryWork> work;          // [K]
  bool evaluated = false, accumulated = false;
  CocoAccumulation acc;

  void evaluate_category(CategoryWork& cw) const;
  void accumulate_category(size_t k, const CategoryWork& cw);
};

LvisEvaluator::LvisEvaluator(const CocoDataset& gt, const DetectionResults& results, LvisEvalOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const auto& p = s.options.params;
  COORDEXP_CHECK_ARG(!p.iou_thresholds.empty() && !p.area_ranges.empty() && !p.recall_thresholds.empty(),
                     "params", "IoU thresholds, recall points and area ranges", "an empty list");
  validate_lvis_ground_truth(gt);

  std::vector<int64_t> ids;
  for (const auto& img : gt.images) ids.push_back(img.id);
  s.image_ids = sorted_unique(std::move(ids));
  ids.clear();
  for (const auto& cat : gt.categories) ids.push_back(cat.id);
  s.category_ids = sorted_unique(std::move(ids));
  const auto image_index = index_of(s.image_ids);
  const auto category_index = index_of(s.category_ids);
  const size_t I = s.image_ids.size(), K = s.category_ids.size();
  s.counts.num_images = int64_t(I);
  s.counts.num_categories = int64_t(K);
  s.work.resize(K);

  // Category frequency and image lists from the last entry with each id (lvis-api's cats / imgs dicts).
  s.frequencies.assign(K, kLvisRare);
  for (const auto& cat : gt.categories)
    s.frequencies[category_index.at(cat.id)] = cat.frequency == "r"   ? kLvisRare
                                               : cat.frequency == "c" ? kLvisCommon
                                                                      : kLvisFrequent;
  std::vector<std::vector<int64_t>> negative(I), not_exhaustive(I);
  for (const auto& img : gt.images) {
    const uint32_t i = image_index.at(img.id);
    negative[i] = sorted_unique(img.neg_category_ids);
    not_exhaustive[i] = sorted_unique(img.not_exhaustive_category_ids);
  }

  // GT as _prepare gathers it: images in sorted id order, each image's entries in file order, filtered on
  // the entry's category and area, then resolved by id (the last annotation with that id).
  std::unordered_map<int64_t, uint32_t> last_with_id;
  last_with_id.reserve(gt.annotations.size() * 2);
  std::vector<std::vector<uint32_t>> anns_of_image(I);
  for (size_t a = 0; a < gt.annotations.size(); ++a) {
    const auto& ann = gt.annotations[a];
    auto [it, inserted] = last_with_id.emplace(ann.id, uint32_t(a));
    if (!inserted) {
      it->second = uint32_t(a);
      ++s.counts.gt_duplicate_ids;
    }
    auto img = image_index.find(ann.image_id);
    if (img == image_index.end() || !category_index.count(ann.category_id)) {
      ++s.counts.gt_dropped;
      continue;
    }
    if (!area_kept(ann.area)) {
      ++s.counts.gt_dropped_zero_area;
      continue;
    }
    anns_of_image[img->second].push_back(uint32_t(a));
  }
  std::vector<std::vector<uint32_t>> positive(I);  // category indices with GT on each image
  for (size_t i = 0; i < I; ++i) {
    for (uint32_t a : anns_of_image[i]) {
      const auto& ann = gt.annotations[last_with_id.at(gt.annotations[a].id)];
      auto img = image_index.find(ann.image_id);
      auto cat = category_index.find(ann.category_id);
      if (img == image_index.end() || cat == category_index.end()) continue;  // never evaluated
      s.work[cat->second].gts.push_back({img->second, ann.bbox, ann.area, ann.id != 0});
      positive[img->second].push_back(cat->second);
      ++s.counts.gt_used;
    }
  }
  for (auto& cats : positive) {
    std::sort(cats.begin(), cats.end());
    cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
  }

  // Results: the per-image cap first (LVISResults.limit_dets_per_image, over every category), then the
  // category / area / federated filters of _prepare.
  std::vector<std::vector<uint32_t>> dets_of_image(I);
  for (size_t d = 0; d < results.detections.size(); ++d) {
    const auto& det = results.detections[d];
    if (!det.has_category) {
      ++s.counts.dt_without_category;
      continue;
    }
    auto img = image_index.find(det.image_id);
    if (img == image_index.end()) {
      if (s.options.unknown_image == UnknownImagePolicy::kUnknownImageSkip) {
        ++s.counts.dt_skipped_unknown_image;
        continue;
      }
      throw_input_error(results.source + ": [" + std::to_string(det.index) + "].image_id",
                        "an image id listed in the ground truth " + gt.source, std::to_string(det.image_id),
                        "lvis-api rejects such results too; skip them with --skip-unknown-images");
    }
    dets_of_image[img->second].push_back(uint32_t(d));
  }
  std::vector<uint8_t> kept(results.detections.size(), 0);
  const int64_t cap = p.max_dets_per_image;
  for (auto& list : dets_of_image) {
    if (cap >= 0 && list.size() > size_t(cap)) {
      std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
        return results.detections[a].score > results.detections[b].score;
      });
      s.counts.dt_over_image_cap += int64_t(list.size() - size_t(cap));
      list.resize(size_t(cap));
    }
    for (uint32_t d : list) kept[d] = 1;
  }
  for (size_t d = 0; d < results.detections.size(); ++d) {
    if (!kept[d]) continue;
    const auto& det = results.detections[d];
    const uint32_t i = image_index.at(det.image_id);
    auto cat = category_index.find(det.category_id);
    if (cat == category_index.end()) {
      ++s.counts.dt_dropped_unknown_category;
      continue;
    }
    const double area = det.bbox.w * det.bbox.h;
    if (!area_kept(area)) {
      ++s.counts.dt_dropped_zero_area;
      continue;
    }
    const auto& pos = positive[i];
    if (!contains(negative[i], det.category_id) && !std::binary_search(pos.begin(), pos.end(), cat->second)) {
      ++s.counts.dt_not_federated;
      continue;
    }
    s.work[cat->second].dts.push_back(
        {i, det.bbox, area, det.score, contains(not_exhaustive[i], det.category_id)});
    ++s.counts.dt_used;
  }

  for (auto& cw : s.work) {
    std::stable_sort(cw.gts.begin(), cw.gts.end(),
                     [](const GtBox& a, const GtBox& b) { return a.image < b.image; });
    std::stable_sort(cw.dts.begin(), cw.dts.end(),
                     [](const DtBox& a, const DtBox& b) { return a.image < b.image; });
    size_t g = 0, d = 0;
    while (g < cw.gts.size() || d < cw.dts.size()) {
      const uint32_t image = std::min(g < cw.gts.size() ? cw.gts[g].image : UINT32_MAX,
                                      d < cw.dts.size() ? cw.dts[d].image : UINT32_MAX);
      Cell cell{uint32_t(g), 0, uint32_t(d), 0};
      while (g < cw.gts.size() && cw.gts[g].image == image) ++g;
      while (d < cw.dts.size() && cw.dts[d].image == image) ++d;
      cell.gt_end = uint32_t(g);
      cell.dt_end = uint32_t(d);
      cw.cells.push_back(cell);
    }
  }
}

LvisEvaluator::~LvisEvaluator() = default;
LvisEvaluator::LvisEvaluator(LvisEvaluator&&) noexcept = default;
LvisEvaluator& LvisEvaluator::operator=(LvisEvaluator&&) noexcept = default;

// evaluate_img for every image of one category and every area range.
void LvisEvaluator::State::evaluate_category(CategoryWork& cw) const {
  const auto& p = options.params;
  const size_t T = p.iou_thresholds.size(), A = p.area_ranges.size();
  cw.scores.clear();
  cw.codes.assign(A, std::vector<uint8_t>(cw.dts.size() * T));
  cw.num_gt_not_ignored.assign(A, 0);
  std::vector<uint32_t> order, gt_perm;
  std::vector<double> ious;
  std::vector<uint8_t> gt_ignored, gt_taken;
  for (const Cell& cell : cw.cells) {
    const size_t G = cell.gt_end - cell.gt_begin, D = cell.dt_end - cell.dt_begin;
    const GtBox* gt = cw.gts.data() + cell.gt_begin;
    const DtBox* dt = cw.dts.data() + cell.dt_begin;
    order.resize(D);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return dt[a].score > dt[b].score; });
    const size_t first = cw.scores.size();  // this cell's first slot in the category's detection list
    for (uint32_t d : order) cw.scores.push_back(dt[d].score);
    ious.resize(D * G);
    for (size_t d = 0; d < D; ++d)
      for (size_t g = 0; g < G; ++g) ious[d * G + g] = coco_bbox_iou(dt[order[d]].bbox, gt[g].bbox, false);

    for (size_t a = 0; a < A; ++a) {
      const double lo = p.area_ranges[a].min_area, hi = p.area_ranges[a].max_area;
      gt_ignored.resize(G);
      gt_perm.clear();
      for (size_t g = 0; g < G; ++g) {
        gt_ignored[g] = gt[g].area < lo || gt[g].area > hi;
        if (!gt_ignored[g]) gt_perm.push_back(uint32_t(g));
      }
      cw.num_gt_not_ignored[a] += int64_t(gt_perm.size());
      for (size_t g = 0; g < G; ++g)
        if (gt_ignored[g]) gt_perm.push_back(uint32_t(g));  // ignored GT last (stable)
      uint8_t* codes = cw.codes[a].data();
      for (size_t t = 0; t < T; ++t) {
        gt_taken.assign(G, 0);
        for (size_t d = 0; d < D; ++d) {
          double best_iou = std::min(p.iou_thresholds[t], 1 - 1e-10);
          long match = -1;
          for (size_t j = 0; j < G; ++j) {
            const uint32_t g = gt_perm[j];
            if (gt_taken[g]) continue;
            if (match > -1 && !gt_ignored[size_t(match)] && gt_ignored[g]) break;
            const double iou = ious[d * G + g];
            if (iou < best_iou) continue;
            best_iou = iou;
            match = long(g);
          }
          bool ignored = false, matched = false;
          if (match >= 0) {
            gt_taken[size_t(match)] = 1;
            ignored = gt_ignored[size_t(match)];
            matched = gt[match].id_nonzero;
          }
          if (!matched) {  // dt_m == 0: outside the area range or not exhaustively annotated -> ignored
            const DtBox& box = dt[order[d]];
            if (box.area < lo || box.area > hi || box.not_exhaustive) ignored = true;
          }
          codes[(first + d) * T + t] = ignored ? kIgnored : matched ? kTruePositive : kFalsePositive;
        }
      }
    }
  }
}

void LvisEvaluator::evaluate() {
  State& s = *state_;
  parallel_for(s.work.size(), s.options.num_threads, [&](size_t k) { s.evaluate_category(s.work[k]); });
  s.evaluated = true;
  s.accumulated = false;
}

// LVISEval.accumulate for one category: every area range and IoU threshold.
void LvisEvaluator::State::accumulate_category(size_t k, const CategoryWork& cw) {
  const auto& p = options.params;
  const size_t T = acc.T, R = acc.R, K = acc.K, A = acc.A;
  if (cw.cells.empty()) return;  // every evaluate_img was None: stays -1
  // Stable sort by descending score over the concatenation (images in sorted id order).
  std::vector<uint32_t> order(cw.scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return cw.scores[a] > cw.scores[b]; });
  const size_t nd = order.size();
  std::vector<double> rc(nd), pr(nd);
  for (size_t a = 0; a < A; ++a) {
    const int64_t npig = cw.num_gt_not_ignored[a];
    if (npig == 0) continue;
    const uint8_t* codes = cw.codes[a].data();
    for (size_t t = 0; t < T; ++t) {
      double tp = 0, fp = 0;
      for (size_t j = 0; j < nd; ++j) {
        const uint8_t c = codes[size_t(order[j]) * T + t];
        tp += c == kTruePositive;
        fp += c == kFalsePositive;
        rc[j] = tp / double(npig);
        pr[j] = tp / (fp + tp + DBL_EPSILON);  // np.spacing(1)
      }
      acc.recall[(t * K + k) * A + a] = nd ? rc[nd - 1] : 0;
      for (size_t j = nd; j-- > 1;)
        if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
      for (size_t r = 0; r < R; ++r) {
        const size_t at = size_t(std::lower_bound(rc.begin(), rc.end(), p.recall_thresholds[r]) - rc.begin());
        if (at >= nd) break;  // the IndexError that ends the copy: later points stay 0
        acc.precision[((t * R + r) * K + k) * A + a] = pr[at];
      }
    }
  }
}

void LvisEvaluator::accumulate() {
  State& s = *state_;
  if (!s.evaluated) evaluate();
  const auto& p = s.options.params;
  CocoAccumulation& acc = s.acc;
  acc.T = p.iou_thresholds.size();
  acc.R = p.recall_thresholds.size();
  acc.K = s.category_ids.size();
  acc.A = p.area_ranges.size();
  acc.M = 1;
  acc.precision.assign(acc.T * acc.R * acc.K * acc.A, -1.0);
  acc.recall.assign(acc.T * acc.K * acc.A, -1.0);
  acc.scores.clear();
  // A category with GT gets a full precision curve: zeros first, overwritten up to the curve's end.
  for (size_t k = 0; k < acc.K; ++k)
    for (size_t a = 0; a < acc.A; ++a) {
      const auto& cw = s.work[k];
      if (cw.cells.empty() || cw.num_gt_not_ignored[a] == 0) continue;
      for (size_t tr = 0; tr < acc.T * acc.R; ++tr) acc.precision[(tr * acc.K + k) * acc.A + a] = 0.0;
    }
  parallel_for(s.work.size(), s.options.num_threads, [&](size_t k) { s.accumulate_category(k, s.work[k]); });
  s.accumulated = true;
}

const CocoAccumulation& LvisEvaluator::accumulation() const {
  COORDEXP_CHECK_ARG(state_->accumulated, "evaluator", "accumulate() to have run", "it has not");
  return state_->acc;
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
