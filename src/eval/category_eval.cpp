// The per-category evaluation core shared by the COCO and LVIS evaluators (see category_eval.hpp). Work is
// split by category (the K axis), which is how both evaluateImg and accumulate are independent, and
// categories are spread over worker threads. Every operation keeps pycocotools' operands and order.
#include "category_eval.hpp"

#include <cfloat>
#include <numeric>
#include <string>

#include "coordexp/util/error.hpp"

namespace coordexp::eval_internal {

namespace {

// Detection outcome at one IoU threshold, as accumulate reads dtMatches / dtIgnore.
enum DetectionCode : uint8_t {
  kDetectionIgnored = 0,
  kDetectionTruePositive = 1,
  kDetectionFalsePositive = 2
};

std::unordered_map<int64_t, uint32_t> index_of(const std::vector<int64_t>& ids) {
  std::unordered_map<int64_t, uint32_t> map;
  map.reserve(ids.size() * 2);
  for (size_t i = 0; i < ids.size(); ++i) map.emplace(ids[i], uint32_t(i));
  return map;
}

}  // namespace

std::vector<int64_t> sorted_unique(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

GtIdIndex index_gt_ids(const CocoDataset& gt) {
  GtIdIndex index;
  std::vector<int64_t> ids;
  for (const auto& img : gt.images) ids.push_back(img.id);
  index.image_ids = sorted_unique(std::move(ids));
  ids.clear();
  for (const auto& cat : gt.categories) ids.push_back(cat.id);
  index.category_ids = sorted_unique(std::move(ids));
  index.image_index = index_of(index.image_ids);
  index.category_index = index_of(index.category_ids);
  return index;
}

std::vector<GatheredGt> gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index,
                                            const std::function<bool(const CocoAnnotation&)>& keep,
                                            int64_t& duplicate_ids, int64_t& dropped) {
  std::unordered_map<int64_t, uint32_t> last_with_id;
  last_with_id.reserve(gt.annotations.size() * 2);
  std::vector<std::vector<uint32_t>> anns_of_image(index.image_ids.size());
  for (size_t a = 0; a < gt.annotations.size(); ++a) {
    const auto& ann = gt.annotations[a];
    auto [it, inserted] = last_with_id.emplace(ann.id, uint32_t(a));
    if (!inserted) {
      it->second = uint32_t(a);
      ++duplicate_ids;
    }
    auto img = index.image_index.find(ann.image_id);
    if (img == index.image_index.end() || !index.category_index.count(ann.category_id)) {
      ++dropped;
      continue;
    }
    if (keep && !keep(ann)) continue;
    anns_of_image[img->second].push_back(uint32_t(a));
  }
  std::vector<GatheredGt> gathered;
  for (const auto& anns : anns_of_image) {
    for (uint32_t a : anns) {
      const auto& ann = gt.annotations[last_with_id.at(gt.annotations[a].id)];
      auto img = index.image_index.find(ann.image_id);
      auto cat = index.category_index.find(ann.category_id);
      if (img == index.image_index.end() || cat == index.category_index.end()) continue;  // never looked up
      gathered.push_back({&ann, img->second, cat->second});
    }
  }
  return gathered;
}

void throw_unknown_image(const Detection& det, const DetectionResults& results, const CocoDataset& gt,
                         const char* hint) {
  throw_input_error(results.source + ": [" + std::to_string(det.index) + "].image_id",
                    "an image id listed in the ground truth " + gt.source, std::to_string(det.image_id),
                    hint);
}

void group_into_cells(CategoryWork& cw) {
  // Stable: keeps the gathering / file order inside an image. GT is already in image order unless ids
  // repeat.
  std::stable_sort(cw.gts.begin(), cw.gts.end(),
                   [](const GtBox& a, const GtBox& b) { return a.image < b.image; });
  std::stable_sort(cw.dts.begin(), cw.dts.end(),
                   [](const DtBox& a, const DtBox& b) { return a.image < b.image; });
  cw.cells.clear();
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

namespace {

// evaluateImg for every image of one category and every area range.
void evaluate_category(CategoryWork& cw, const CategoryEvalParams& p) {
  const size_t T = p.iou_thresholds.size(), A = p.area_ranges.size();
  const size_t max_det = size_t(p.max_dets.back());
  cw.kept_scores.clear();
  cw.kept_rank.clear();
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
          if (!matched) {  // outside the area range, or (LVIS) not exhaustively annotated: ignored
            const DtBox& box = dt[order[d]];
            if (box.area < lo || box.area > hi || box.not_exhaustive) ignored = true;
          }
          codes[(kept_begin + d) * T + t] = ignored   ? kDetectionIgnored
                                            : matched ? kDetectionTruePositive
                                                      : kDetectionFalsePositive;
        }
      }
    }
  }
}

// accumulate for one category: all area ranges and caps.
//
// pycocotools builds rc = tp / npig and pr = tp / (fp + tp + eps) at every detection, takes the envelope
// (suffix maximum of pr) and reads it at searchsorted(rc, recThrs, 'left'). Only true-positive positions
// matter: rc first reaches a threshold > 0 at a true positive, and between true positives pr never rises,
// so the suffix maximum from a true positive is the maximum of pr over that and later true positives.
// Computing pr only there gives the same doubles (same operands) with a fraction of the divisions.
// LVISEval's accumulate is the same computation with a single cap.
void accumulate_category(size_t k, CategoryWork& cw, const CategoryEvalParams& p, CocoAccumulation& acc) {
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

}  // namespace

void evaluate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p, unsigned threads) {
  parallel_for(work.size(), threads, [&](size_t k) { evaluate_category(work[k], p); });
}

CocoAccumulation accumulate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p,
                                       unsigned threads) {
  CocoAccumulation acc;
  acc.T = p.iou_thresholds.size();
  acc.R = p.recall_thresholds.size();
  acc.K = work.size();
  acc.A = p.area_ranges.size();
  acc.M = p.max_dets.size();
  acc.precision.assign(acc.T * acc.R * acc.K * acc.A * acc.M, -1.0);
  acc.scores.assign(acc.precision.size(), -1.0);
  acc.recall.assign(acc.T * acc.K * acc.A * acc.M, -1.0);
  parallel_for(work.size(), threads, [&](size_t k) { accumulate_category(k, work[k], p, acc); });
  const size_t AM = acc.A * acc.M;
  for (size_t tr = 0; tr < acc.T * acc.R; ++tr)
    for (size_t k = 0; k < acc.K; ++k) {
      const size_t to = (tr * acc.K + k) * AM;
      std::copy_n(work[k].precision.data() + tr * AM, AM, acc.precision.data() + to);
      std::copy_n(work[k].scores.data() + tr * AM, AM, acc.scores.data() + to);
    }
  for (auto& cw : work) {
    cw.precision = {};
    cw.scores = {};
  }
  return acc;
}

}  // namespace coordexp::eval_internal
