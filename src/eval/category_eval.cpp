// The per-category evaluation core shared by the COCO and LVIS evaluators (see category_eval.hpp). Work is
// split by category (the K axis), which is how both evaluateImg and accumulate are independent: evaluate
// hands out categories, or runs of a category's cells when categories are few; accumulate hands out
// (category, area range) pairs. Every result goes to its own slots, and every operation keeps
// pycocotools' operands and order, so the tables are the same bytes at any number of threads. Categories
// without GT or detections cost nothing beyond their -1 rows.
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

}  // namespace

IdAxis::IdAxis(std::vector<int64_t> sorted_unique_ids) : ids_(std::move(sorted_unique_ids)) {
  if (ids_.empty()) return;
  const uint64_t span = uint64_t(ids_.back()) - uint64_t(ids_.front());  // ids are sorted: no wrap
  if (span < 128 * uint64_t(ids_.size()) + 4096) {
    table_.assign(span + 1, kAbsent);
    for (size_t i = 0; i < ids_.size(); ++i) table_[uint64_t(ids_[i]) - uint64_t(ids_.front())] = uint32_t(i);
    return;
  }
  map_.reserve(ids_.size() * 2);
  for (size_t i = 0; i < ids_.size(); ++i) map_.emplace(ids_[i], uint32_t(i));
}

std::vector<int64_t> sorted_unique(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

GtIdIndex index_gt_ids(const CocoDataset& gt) {
  std::vector<int64_t> ids;
  ids.reserve(gt.images.size());
  for (const auto& img : gt.images) ids.push_back(img.id);
  GtIdIndex index;
  index.images = IdAxis(sorted_unique(std::move(ids)));
  ids.clear();
  for (const auto& cat : gt.categories) ids.push_back(cat.id);
  index.categories = IdAxis(sorted_unique(std::move(ids)));
  return index;
}

std::vector<GatheredGt> gather_ground_truth(const CocoDataset& gt, const GtIdIndex& index,
                                            const std::function<bool(const CocoAnnotation&)>& keep,
                                            int64_t& duplicate_ids, int64_t& dropped) {
  std::unordered_map<int64_t, uint32_t> last_with_id;
  last_with_id.reserve(gt.annotations.size() * 2);
  std::vector<GatheredGt> listed;  // the kept entries in file order, then stably in image order
  listed.reserve(gt.annotations.size());
  const int64_t duplicates_before = duplicate_ids;
  for (size_t a = 0; a < gt.annotations.size(); ++a) {
    const auto& ann = gt.annotations[a];
    auto [it, inserted] = last_with_id.emplace(ann.id, uint32_t(a));
    if (!inserted) {
      it->second = uint32_t(a);
      ++duplicate_ids;
    }
    const uint32_t img = index.images.find(ann.image_id), cat = index.categories.find(ann.category_id);
    if (img == IdAxis::kAbsent || cat == IdAxis::kAbsent) {
      ++dropped;
      continue;
    }
    if (keep && !keep(ann)) continue;
    listed.push_back({&ann, img, cat});
  }
  std::stable_sort(listed.begin(), listed.end(),
                   [](const GatheredGt& x, const GatheredGt& y) { return x.image < y.image; });
  if (duplicate_ids == duplicates_before) return listed;  // every id names its own annotation
  std::vector<GatheredGt> gathered;
  gathered.reserve(listed.size());
  for (const GatheredGt& g : listed) {
    const auto& ann = gt.annotations[last_with_id.at(g.ann->id)];
    const uint32_t img = index.images.find(ann.image_id), cat = index.categories.find(ann.category_id);
    if (img == IdAxis::kAbsent || cat == IdAxis::kAbsent) continue;  // never looked up
    gathered.push_back({&ann, img, cat});
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
  // Stable: keeps the gathering / file order inside an image. GT is already in image order, and so are
  // COCO's detections (gathered image by image), unless ids repeat.
  const auto by_image = [](const auto& a, const auto& b) { return a.image < b.image; };
  if (!std::is_sorted(cw.gts.begin(), cw.gts.end(), by_image))
    std::stable_sort(cw.gts.begin(), cw.gts.end(), by_image);
  if (!std::is_sorted(cw.dts.begin(), cw.dts.end(), by_image))
    std::stable_sort(cw.dts.begin(), cw.dts.end(), by_image);
  cw.cells.clear();
  size_t g = 0, d = 0;
  while (g < cw.gts.size() || d < cw.dts.size()) {
    const uint32_t image = std::min(g < cw.gts.size() ? cw.gts[g].image : UINT32_MAX,
                                    d < cw.dts.size() ? cw.dts[d].image : UINT32_MAX);
    Cell cell{uint32_t(g), 0, uint32_t(d), 0, 0};
    while (g < cw.gts.size() && cw.gts[g].image == image) ++g;
    while (d < cw.dts.size() && cw.dts[d].image == image) ++d;
    cell.gt_end = uint32_t(g);
    cell.dt_end = uint32_t(d);
    cw.cells.push_back(cell);
  }
}

namespace {

// Where each cell's kept detections (at most the last cap) go, and the evaluate outputs sized to hold them.
void place_kept_detections(CategoryWork& cw, const CategoryEvalParams& p) {
  const size_t T = p.iou_thresholds.size(), A = p.area_ranges.size();
  const size_t max_det = size_t(p.max_dets.back());
  size_t kept = 0;
  for (Cell& cell : cw.cells) {
    cell.kept_begin = uint32_t(kept);
    kept += std::min<size_t>(cell.dt_end - cell.dt_begin, max_det);
  }
  cw.kept_scores.assign(kept, 0);
  cw.kept_rank.assign(kept, 0);
  cw.codes.assign(A, std::vector<uint8_t>(kept * T));
  cw.num_gt_not_ignored.assign(A, 0);
}

// Reusable buffers of one evaluate task.
struct CellScratch {
  std::vector<uint32_t> order, gt_perm;
  std::vector<double> ious;
  std::vector<uint8_t> gt_ignored, gt_taken;
};

// evaluateImg's matching for one cell and area range [lo, hi]: writes the D kept detections' codes at
// every IoU threshold (`codes`: D x T) and returns the number of non-ignored GT boxes.
int64_t match_cell(const GtBox* gt, size_t G, const DtBox* dt, size_t D, double lo, double hi,
                   const CategoryEvalParams& p, CellScratch& s, uint8_t* codes) {
  const size_t T = p.iou_thresholds.size();
  const bool have_ious = D > 0 && G > 0;
  s.gt_ignored.resize(G);
  s.gt_perm.clear();
  for (size_t g = 0; g < G; ++g) {
    s.gt_ignored[g] = gt[g].ignore || gt[g].area < lo || gt[g].area > hi;
    if (!s.gt_ignored[g]) s.gt_perm.push_back(uint32_t(g));
  }
  const int64_t not_ignored = int64_t(s.gt_perm.size());
  for (size_t g = 0; g < G; ++g)
    if (s.gt_ignored[g]) s.gt_perm.push_back(uint32_t(g));  // argsort(_ignore, mergesort): ignored last
  for (size_t t = 0; t < T; ++t) {
    s.gt_taken.assign(G, 0);
    for (size_t d = 0; d < D; ++d) {
      double best_iou = std::min(p.iou_thresholds[t], 1 - 1e-10);
      long match = -1;
      for (size_t j = 0; j < G && have_ious; ++j) {
        const uint32_t g = s.gt_perm[j];
        if (s.gt_taken[g] && !gt[g].crowd) continue;
        // Already matched a regular GT and only ignored ones remain: stop.
        if (match > -1 && !s.gt_ignored[size_t(match)] && s.gt_ignored[g]) break;
        const double iou = s.ious[d * G + g];
        if (iou < best_iou) continue;
        best_iou = iou;
        match = long(g);
      }
      bool ignored = false, matched = false;
      if (match >= 0) {
        s.gt_taken[size_t(match)] = 1;
        ignored = s.gt_ignored[size_t(match)];
        matched = gt[match].id_nonzero;
      }
      if (!matched) {  // outside the area range, or (LVIS) not exhaustively annotated: ignored
        const DtBox& box = dt[s.order[d]];
        if (box.area() < lo || box.area() > hi || box.not_exhaustive) ignored = true;
      }
      codes[d * T + t] = ignored   ? kDetectionIgnored
                         : matched ? kDetectionTruePositive
                                   : kDetectionFalsePositive;
    }
  }
  return not_ignored;
}

// evaluateImg for cells [begin, end) of one category and every area range; adds each range's count of
// non-ignored GT to npig[a]. Each cell writes only its own kept slots.
void evaluate_cells(CategoryWork& cw, size_t begin, size_t end, const CategoryEvalParams& p, int64_t* npig) {
  const size_t T = p.iou_thresholds.size(), A = p.area_ranges.size();
  const size_t max_det = size_t(p.max_dets.back());
  CellScratch s;
  for (size_t c = begin; c < end; ++c) {
    const Cell& cell = cw.cells[c];
    const size_t G = cell.gt_end - cell.gt_begin;
    const GtBox* gt = cw.gts.data() + cell.gt_begin;
    const DtBox* dt = cw.dts.data() + cell.dt_begin;
    s.order.resize(cell.dt_end - cell.dt_begin);
    std::iota(s.order.begin(), s.order.end(), 0u);
    std::stable_sort(s.order.begin(), s.order.end(),
                     [&](uint32_t a, uint32_t b) { return dt[a].score > dt[b].score; });
    const size_t D = std::min(s.order.size(), max_det);
    for (size_t r = 0; r < D; ++r) {
      cw.kept_scores[cell.kept_begin + r] = dt[s.order[r]].score;
      cw.kept_rank[cell.kept_begin + r] = uint32_t(r);
    }
    // computeIoU: D x G in the cell's GT order; empty when either side is empty.
    s.ious.resize(D * G);
    for (size_t d = 0; d < D && G > 0; ++d)
      for (size_t g = 0; g < G; ++g)
        s.ious[d * G + g] = coco_bbox_iou(dt[s.order[d]].bbox, gt[g].bbox, gt[g].crowd);
    for (size_t a = 0; a < A; ++a)
      npig[a] += match_cell(gt, G, dt, D, p.area_ranges[a].min_area, p.area_ranges[a].max_area, p, s,
                            cw.codes[a].data() + size_t(cell.kept_begin) * T);
  }
}

// A run of consecutive cells of one category: the unit of evaluate's work.
struct CellRun {
  uint32_t category;
  size_t begin, end;
};

// One run per category with cells; with several workers, categories with many cells are cut into runs of
// about total / (8 * workers) cells, so that one large category (or class-agnostic pooling) is shared out.
std::vector<CellRun> plan_cell_runs(const std::vector<CategoryWork>& work, unsigned threads) {
  size_t total = 0;
  for (const auto& cw : work) total += cw.cells.size();
  const size_t run = threads <= 1 ? total + 1 : std::max<size_t>(1, total / (size_t(threads) * 8));
  std::vector<CellRun> runs;
  for (size_t k = 0; k < work.size(); ++k)
    for (size_t b = 0; b < work[k].cells.size(); b += run)
      runs.push_back({uint32_t(k), b, std::min(b + run, work[k].cells.size())});
  return runs;
}

// One category's kept detections in accumulate's order: a stable sort by descending score over every cell
// (cells in image order), restricted to rank < max_dets[m] for each cap. A stable sort of a subset is the
// subset of the stable sort, so one sort serves every area range and cap.
std::vector<std::vector<uint32_t>> capped_score_orders(const CategoryWork& cw, const CategoryEvalParams& p) {
  // std::sort on (score, index) pairs with the index breaking ties is the stable sort, on contiguous keys.
  struct Ranked {
    double score;
    uint32_t index;
  };
  std::vector<Ranked> ranked(cw.kept_scores.size());
  for (size_t i = 0; i < ranked.size(); ++i) ranked[i] = {cw.kept_scores[i], uint32_t(i)};
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return a.score > b.score || (!(b.score > a.score) && a.index < b.index);
  });
  std::vector<std::vector<uint32_t>> capped(p.max_dets.size());
  for (size_t m = 0; m < capped.size(); ++m) {
    capped[m].reserve(ranked.size());
    for (const Ranked& x : ranked)
      if (cw.kept_rank[x.index] < p.max_dets[m]) capped[m].push_back(x.index);
  }
  return capped;
}

struct TruePositive {
  uint32_t position;  // index in the capped, sorted list
  double recall;      // rc at that position
  double precision;   // pr there, then the suffix maximum (envelope)
};

// Where the true positives of the capped list fall at each IoU threshold: for threshold t,
// positions[t * (nd + 1) + h] is the list position of the h-th true positive and false_before[...] the
// number of false positives ahead of it; counts[t] is the number of true positives. The list's codes are
// gathered first (one scattered read of T bytes per detection), then scanned in order per threshold.
struct HitScan {
  std::vector<uint8_t> gathered;
  std::vector<uint32_t> positions, false_before, counts;
  void scan(const uint8_t* codes, const std::vector<uint32_t>& capped, size_t T) {
    const size_t nd = capped.size(), stride = nd + 1;
    gathered.resize(nd * T);
    for (size_t j = 0; j < nd; ++j) std::copy_n(codes + size_t(capped[j]) * T, T, gathered.data() + j * T);
    positions.resize(T * stride);
    false_before.resize(T * stride);
    counts.assign(T, 0);
    for (size_t t = 0; t < T; ++t) {
      uint32_t* pos = positions.data() + t * stride;
      uint32_t* before = false_before.data() + t * stride;
      uint32_t tp = 0, fp = 0;
      for (size_t j = 0; j < nd; ++j) {  // branch-free: the slot is overwritten until a true positive
        const uint8_t c = gathered[j * T + t];
        pos[tp] = uint32_t(j);
        before[tp] = fp;
        tp += c == kDetectionTruePositive;
        fp += c == kDetectionFalsePositive;
      }
      counts[t] = tp;
    }
  }
};

// accumulate for one category, area range and the caps [m, m_end) (which keep the same list), written
// straight into the [T,R,K,A,M] tables.
//
// pycocotools builds rc = tp / npig and pr = tp / (fp + tp + eps) at every detection, takes the envelope
// (suffix maximum of pr) and reads it at searchsorted(rc, recThrs, 'left'). Only true-positive positions
// matter: rc first reaches a threshold > 0 at a true positive, and between true positives pr never rises,
// so the suffix maximum from a true positive is the maximum of pr over that and later true positives.
// Computing pr only there gives the same doubles (same operands) with a fraction of the divisions.
// LVISEval's accumulate is the same computation with a single cap.
void accumulate_one(size_t k, size_t a, size_t m, size_t m_end, const CategoryWork& cw,
                    const std::vector<uint32_t>& capped, const CategoryEvalParams& p, bool with_scores,
                    CocoAccumulation& acc) {
  const size_t T = acc.T, R = acc.R, K = acc.K, A = acc.A, M = acc.M;
  const int64_t npig = cw.num_gt_not_ignored[a];
  if (npig == 0) return;  // no GT to recall in this range: stays -1
  thread_local HitScan scan;
  thread_local std::vector<TruePositive> hits;
  const size_t nd = capped.size(), stride = nd + 1;
  scan.scan(cw.codes[a].data(), capped, T);
  for (size_t t = 0; t < T; ++t) {
    const uint32_t tp = scan.counts[t];  // exact counts; as doubles they are the cumsums pycocotools divides
    hits.resize(tp);
    for (uint32_t h = 0; h < tp; ++h) {
      const double tpd = double(h + 1);
      hits[h] = {scan.positions[t * stride + h], tpd / double(npig),
                 tpd / (double(scan.false_before[t * stride + h]) + tpd + DBL_EPSILON)};  // np.spacing(1)
    }
    // pr at position 0: 1/(1+eps) when it is a true positive, else 0.
    const double first_precision = (tp > 0 && hits[0].position == 0) ? hits[0].precision : 0.0;
    std::fill(acc.recall.begin() + ptrdiff_t(((t * K + k) * A + a) * M + m),
              acc.recall.begin() + ptrdiff_t(((t * K + k) * A + a) * M + m_end),
              nd ? double(tp) / double(npig) : 0);
    for (size_t h = hits.size(); h-- > 1;)
      hits[h - 1].precision = std::max(hits[h - 1].precision, hits[h].precision);
    size_t h = 0;
    bool in_range = true;  // pycocotools stops at the first recall point past the curve's end
    for (size_t r = 0; r < R; ++r) {
      const size_t at = (((t * R + r) * K + k) * A + a) * M + m;
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
      for (size_t c = 0; c < m_end - m; ++c) {
        acc.precision[at + c] = precision;
        if (with_scores) acc.scores[at + c] = score;
      }
    }
  }
}

}  // namespace

void evaluate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p, unsigned threads) {
  threads = resolve_threads(threads);
  for (auto& cw : work)
    if (!cw.cells.empty()) place_kept_detections(cw, p);
  const std::vector<CellRun> runs = plan_cell_runs(work, threads);
  const size_t A = p.area_ranges.size();
  std::vector<int64_t> npig(runs.size() * A, 0);  // per run: integer sums, exact in any order
  parallel_for(runs.size(), threads, [&](size_t i) {
    evaluate_cells(work[runs[i].category], runs[i].begin, runs[i].end, p, npig.data() + i * A);
  });
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t a = 0; a < A; ++a) work[runs[i].category].num_gt_not_ignored[a] += npig[i * A + a];
}

CocoAccumulation accumulate_categories(std::vector<CategoryWork>& work, const CategoryEvalParams& p,
                                       unsigned threads, bool with_scores) {
  CocoAccumulation acc;
  acc.T = p.iou_thresholds.size();
  acc.R = p.recall_thresholds.size();
  acc.K = work.size();
  acc.A = p.area_ranges.size();
  acc.M = p.max_dets.size();
  // Categories without cells (E empty) keep these -1s untouched. The first touch of the pages costs most
  // (the tables reach 119 MB each for LVIS's 1,230 categories under COCO's three caps): with two workers
  // or more the scores table is filled beside the precision table.
  const size_t cells = acc.T * acc.R * acc.K * acc.A * acc.M;
  parallel_for(with_scores ? 2 : 1, threads, [&](size_t i) {
    if (i == 0) {
      acc.precision.assign(cells, -1.0);
      acc.recall.assign(acc.T * acc.K * acc.A * acc.M, -1.0);
    } else {
      acc.scores.assign(cells, -1.0);
    }
  });
  std::vector<uint32_t> active;  // categories with cells
  for (size_t k = 0; k < work.size(); ++k)
    if (!work[k].cells.empty()) active.push_back(uint32_t(k));
  std::vector<std::vector<std::vector<uint32_t>>> capped(active.size());
  parallel_for(active.size(), threads,
               [&](size_t i) { capped[i] = capped_score_orders(work[active[i]], p); });
  parallel_for(active.size() * acc.A, threads, [&](size_t task) {
    const size_t i = task / acc.A, a = task % acc.A, k = active[i];
    // Caps that keep as many detections as the one before keep the same list (the lists are nested):
    // one computation writes the entries of the whole run of such caps.
    for (size_t m = 0, m_end; m < acc.M; m = m_end) {
      for (m_end = m + 1; m_end < acc.M && capped[i][m_end].size() == capped[i][m].size();) ++m_end;
      accumulate_one(k, a, m, m_end, work[k], capped[i][m], p, with_scores, acc);
    }
  });
  return acc;
}

}  // namespace coordexp::eval_internal
