// pycocotools-exact COCO bbox evaluation; the contract and the list of reproduced behaviours are in
// include/coordexp/eval/coco_eval.hpp. Work is split by category (the K axis), which is how both
// evaluateImg and accumulate are independent, and categories are spread over worker threads.
#include "coordexp/eval/coco_eval.hpp"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <thread>
#include <unordered_map>

#include "coordexp/util/error.hpp"

namespace coordexp {

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

namespace {

struct GtBox {
  uint32_t image;  // index into the sorted image ids
  BoxXYWH bbox;
  double area;  // the annotation's "area" field
  bool crowd;
  bool id_nonzero;  // pycocotools records matches by GT id, and id 0 reads as "no match"
};

struct DtBox {
  uint32_t image;
  BoxXYWH bbox;
  double area;  // w * h, as loadRes sets it
  double score;
};

// One (image, category) pair with any GT or detection: pycocotools' non-None evalImgs entry.
struct Cell {
  uint32_t gt_begin, gt_end, dt_begin, dt_end;
};

// Detection outcome at one IoU threshold, as accumulate reads dtMatches / dtIgnore.
enum DetectionCode : uint8_t {
  kDetectionIgnored = 0,
  kDetectionTruePositive = 1,
  kDetectionFalsePositive = 2
};

struct CategoryWork {
  std::vector<GtBox> gts;  // grouped by image (ascending), _gts order inside an image
  std::vector<DtBox> dts;  // grouped by image (ascending), file order inside an image
  std::vector<Cell> cells;
  // evaluate(): detections kept after the per-image cap, cell by cell, each cell in score order.
  std::vector<double> kept_scores;
  std::vector<uint32_t> kept_rank;          // position in its cell's score order (for max_dets[m])
  std::vector<std::vector<uint8_t>> codes;  // [A][kept * T] DetectionCode
  std::vector<int64_t> num_gt_not_ignored;  // [A] npig contribution
  // accumulate(): this category's slice of the tables as [T][R][A][M] (contiguous over a, m), copied
  // into the [T,R,K,A,M] tables afterwards so that no thread writes with a stride of K*A*M doubles.
  std::vector<double> precision, scores;
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
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
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

}  // namespace

struct CocoEvaluator::State {
  CocoEvalOptions options;
  CocoEvalCounts counts;
  std::vector<int64_t> image_ids, category_ids;
  std::vector<CategoryWork> work;  // [K]
  bool evaluated = false, accumulated = false;
  CocoAccumulation acc;

  void evaluate_category(CategoryWork& cw) const;
  void accumulate_category(size_t k, CategoryWork& cw);
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

  // GT, as _prepare gathers it: images in sorted id order, each image's annotations in file order, each
  // resolved through COCO.anns (a dict keyed by id, so a repeated id yields the last such annotation).
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
    anns_of_image[img->second].push_back(uint32_t(a));
  }
  for (size_t i = 0; i < I; ++i) {
    for (uint32_t a : anns_of_image[i]) {
      const auto& ann = gt.annotations[last_with_id.at(gt.annotations[a].id)];
      auto img = image_index.find(ann.image_id);
      auto cat = category_index.find(ann.category_id);
      if (img == image_index.end() || cat == category_index.end()) continue;  // never looked up
      s.work[cat->second].gts.push_back({img->second, ann.bbox, ann.area, ann.iscrowd, ann.id != 0});
      ++s.counts.gt_used;
    }
  }

  // Detections, as loadRes + _prepare see them (file order inside an image).
  for (const auto& det : results.detections) {
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
                        "pycocotools rejects such results too; skip them with the unknown-image skip policy");
    }
    auto cat = category_index.find(det.category_id);
    if (cat == category_index.end()) {
      ++s.counts.dt_dropped_unknown_category;
      continue;
    }
    s.work[cat->second].dts.push_back({img->second, det.bbox, det.bbox.w * det.bbox.h, det.score});
    ++s.counts.dt_used;
  }

  if (!p.use_cats) {
    // one pool, category by category: the stable sort by image below then leaves each image's boxes in
    // (category id, file order) order, evaluateImg's concatenation over p.catIds
    CategoryWork pooled;
    for (auto& cw : s.work) {
      pooled.gts.insert(pooled.gts.end(), cw.gts.begin(), cw.gts.end());
      pooled.dts.insert(pooled.dts.end(), cw.dts.begin(), cw.dts.end());
    }
    s.work.assign(1, std::move(pooled));
    s.category_ids = {-1};
  }
  for (auto& cw : s.work) {
    // Stable: keeps _gts / file order inside an image. GT is already in image order unless ids repeat.
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

CocoEvaluator::~CocoEvaluator() = default;
CocoEvaluator::CocoEvaluator(CocoEvaluator&&) noexcept = default;
CocoEvaluator& CocoEvaluator::operator=(CocoEvaluator&&) noexcept = default;

// evaluateImg for every image of one category and every area range.
void CocoEvaluator::State::evaluate_category(CategoryWork& cw) const {
  const auto& p = options.params;
  const size_t T = p.iou_thresholds.size(), A = p.area_ranges.size();
  const size_t max_det = size_t(p.max_dets.back());
  cw.codes.assign(A, {});
  cw.num_gt_not_ignored.assign(A, 0);
  std::vector<uint32_t> order, gt_perm;
  std::vector<double> ious;
  std::vector<uint8_t> gt_ignored, gt_taken;
  for (const Cell& cell : cw.cells) {
    const size_t G = cell.gt_end - cell.gt_begin;
    const GtBox* gt = cw.gts.data() + cell.gt_begin;
    const DtBox* dt = cw.dts.data() + cell.dt_begin;
    order.resize(cell.dt_end - cell.dt_begin);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return dt[a].score > dt[b].score; });
    const size_t D = std::min(order.size(), max_det);
    const size_t kept_begin = cw.kept_scores.size();
    for (size_t r = 0; r < D; ++r) {
      cw.kept_scores.push_back(dt[order[r]].score);
      cw.kept_rank.push_back(uint32_t(r));
    }
    // computeIoU: D x G in the cell's GT order; empty when either side is empty.
    const bool have_ious = D > 0 && G > 0;
    ious.resize(D * G);
    for (size_t d = 0; d < D && have_ious; ++d)
      for (size_t g = 0; g < G; ++g)
        ious[d * G + g] = coco_bbox_iou(dt[order[d]].bbox, gt[g].bbox, gt[g].crowd);

    for (size_t a = 0; a < A; ++a) {
      const double lo = p.area_ranges[a].min_area, hi = p.area_ranges[a].max_area;
      gt_ignored.resize(G);
      gt_perm.clear();
      for (size_t g = 0; g < G; ++g) {
        gt_ignored[g] = gt[g].crowd || gt[g].area < lo || gt[g].area > hi;
        if (!gt_ignored[g]) gt_perm.push_back(uint32_t(g));
      }
      cw.num_gt_not_ignored[a] += int64_t(gt_perm.size());
      for (size_t g = 0; g < G; ++g)
        if (gt_ignored[g]) gt_perm.push_back(uint32_t(g));  // argsort(_ignore, mergesort): ignored last

      auto& codes = cw.codes[a];
      codes.resize((kept_begin + D) * T);
      for (size_t t = 0; t < T; ++t) {
        gt_taken.assign(G, 0);
        for (size_t d = 0; d < D; ++d) {
          double best_iou = std::min(p.iou_thresholds[t], 1 - 1e-10);
          long match = -1;
          for (size_t j = 0; j < G && have_ious; ++j) {
            const uint32_t g = gt_perm[j];
            if (gt_taken[g] && !gt[g].crowd) continue;
            // Already matched a regular GT and only ignored ones remain: stop.
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
          if (!matched) {
            const double area = dt[order[d]].area;
            if (area < lo || area > hi) ignored = true;
          }
          codes[(kept_begin + d) * T + t] = ignored   ? kDetectionIgnored
                                            : matched ? kDetectionTruePositive
                                                      : kDetectionFalsePositive;
        }
      }
    }
  }
}

void CocoEvaluator::evaluate() {
  State& s = *state_;
  parallel_for(s.work.size(), s.options.num_threads, [&](size_t k) {
    CategoryWork& cw = s.work[k];
    cw.kept_scores.clear();
    cw.kept_rank.clear();
    s.evaluate_category(cw);
  });
  s.evaluated = true;
  s.accumulated = false;
}

// accumulate for one category: all area ranges and caps.
//
// pycocotools builds rc = tp / npig and pr = tp / (fp + tp + eps) at every detection, takes the envelope
// (suffix maximum of pr) and reads it at searchsorted(rc, recThrs, 'left'). Only true-positive positions
// matter: rc first reaches a threshold > 0 at a true positive, and between true positives pr never rises,
// so the suffix maximum from a true positive is the maximum of pr over that and later true positives.
// Computing pr only there gives the same doubles (same operands) with a fraction of the divisions.
void CocoEvaluator::State::accumulate_category(size_t k, CategoryWork& cw) {
  const auto& p = options.params;
  const size_t T = acc.T, R = acc.R, K = acc.K, A = acc.A, M = acc.M;
  cw.precision.assign(T * R * A * M, -1.0);
  cw.scores.assign(T * R * A * M, -1.0);
  if (cw.cells.empty()) return;  // E is empty: the category stays -1
  // One stable sort serves every area range and cap: a stable sort of a subset is the subset of it.
  std::vector<uint32_t> order(cw.kept_scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return cw.kept_scores[a] > cw.kept_scores[b]; });
  std::vector<uint32_t> capped;  // `order` restricted to rank < max_dets[m]
  struct TruePositive {
    uint32_t position;  // index in the capped, sorted list
    double recall;      // rc at that position
    double precision;   // pr there, then the suffix maximum (envelope)
  };
  std::vector<TruePositive> hits;
  std::vector<uint32_t> hit_position(cw.kept_scores.size() + 1), hit_fp(cw.kept_scores.size() + 1);
  for (size_t m = 0; m < M; ++m) {
    capped.clear();
    for (uint32_t i : order)
      if (cw.kept_rank[i] < p.max_dets[m]) capped.push_back(i);
    const size_t nd = capped.size();
    for (size_t a = 0; a < A; ++a) {
      const int64_t npig = cw.num_gt_not_ignored[a];
      if (npig == 0) continue;
      const uint8_t* codes = cw.codes[a].data();
      for (size_t t = 0; t < T; ++t) {
        // Branch-free scan: record where true positives occur and how many false positives precede each.
        uint32_t tp = 0, fp = 0;  // exact counts; as doubles they are the cumsums pycocotools divides
        for (size_t j = 0; j < nd; ++j) {
          const uint8_t c = codes[size_t(capped[j]) * T + t];
          hit_position[tp] = uint32_t(j);
          hit_fp[tp] = fp;
          tp += c == kDetectionTruePositive;
          fp += c == kDetectionFalsePositive;
        }
        hits.resize(tp);
        for (uint32_t h = 0; h < tp; ++h) {
          const double tpd = double(h + 1);
          hits[h] = {hit_position[h], tpd / double(npig),
                     tpd / (double(hit_fp[h]) + tpd + DBL_EPSILON)};  // np.spacing(1)
        }
        // pr at position 0: 1/(1+eps) when it is a true positive, else 0.
        const double first_precision = (tp > 0 && hits[0].position == 0) ? hits[0].precision : 0.0;
        acc.recall[((t * K + k) * A + a) * M + m] = nd ? double(tp) / double(npig) : 0;
        for (size_t h = hits.size(); h-- > 1;)
          hits[h - 1].precision = std::max(hits[h - 1].precision, hits[h].precision);
        size_t h = 0;
        bool in_range = true;  // pycocotools stops at the first recall point past the curve's end
        for (size_t r = 0; r < R; ++r) {
          const size_t at = ((t * R + r) * A + a) * M + m;
          const double thr = p.recall_thresholds[r];
          double precision = 0, score = 0;
          if (in_range && nd > 0 && 0.0 >= thr) {  // rc[0] >= thr: position 0, whatever it is
            precision = hits.empty() ? first_precision : std::max(first_precision, hits[0].precision);
            score = cw.kept_scores[capped[0]];
          } else if (in_range) {
            // lower_bound over the non-decreasing recalls of the hits (thresholds need not be sorted).
            h = size_t(std::partition_point(hits.begin(), hits.end(),
                                            [&](const TruePositive& x) { return x.recall < thr; }) -
                       hits.begin());
            in_range = h < hits.size();
            if (in_range) {
              precision = hits[h].precision;
              score = cw.kept_scores[capped[hits[h].position]];
            }
          }
          cw.precision[at] = precision;
          cw.scores[at] = score;
        }
      }
    }
  }
}

void CocoEvaluator::accumulate() {
  State& s = *state_;
  if (!s.evaluated) evaluate();
  const auto& p = s.options.params;
  CocoAccumulation& acc = s.acc;
  acc.T = p.iou_thresholds.size();
  acc.R = p.recall_thresholds.size();
  acc.K = s.category_ids.size();
  acc.A = p.area_ranges.size();
  acc.M = p.max_dets.size();
  acc.precision.assign(acc.T * acc.R * acc.K * acc.A * acc.M, -1.0);
  acc.scores.assign(acc.precision.size(), -1.0);
  acc.recall.assign(acc.T * acc.K * acc.A * acc.M, -1.0);
  parallel_for(s.work.size(), s.options.num_threads, [&](size_t k) { s.accumulate_category(k, s.work[k]); });
  const size_t AM = acc.A * acc.M;
  for (size_t tr = 0; tr < acc.T * acc.R; ++tr)
    for (size_t k = 0; k < acc.K; ++k) {
      const size_t to = (tr * acc.K + k) * AM;
      std::copy_n(s.work[k].precision.data() + tr * AM, AM, acc.precision.data() + to);
      std::copy_n(s.work[k].scores.data() + tr * AM, AM, acc.scores.data() + to);
    }
  for (auto& cw : s.work) {
    cw.precision = {};
    cw.scores = {};
  }
  s.accumulated = true;
}

const CocoAccumulation& CocoEvaluator::accumulation() const {
  COORDEXP_CHECK_ARG(state_->accumulated, "evaluator", "accumulate() to have run", "it has not");
  return state_->acc;
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
