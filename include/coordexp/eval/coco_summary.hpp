// COCOeval.summarize(): the 12 standard bbox stats from accumulated tables, per-category AP, the
// familiar text table (pycocotools' exact line layout) and a JSON report. Means are numpy's (pairwise
// summation) over entries > -1; a stat with no such entry is -1, as in pycocotools.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordexp/eval/coco_eval.hpp"

namespace coordexp {

// One line of the summary: AP or AR at an IoU threshold (all when absent), an area label and a cap.
struct CocoStatSpec {
  bool average_precision;               // true: mean precision (AP); false: mean recall (AR)
  std::optional<double> iou_threshold;  // exact threshold value, or every threshold when absent
  std::string area_label;               // AreaRange::label
  int64_t max_dets;                     // cap value looked up in params.max_dets
};

// The 12 lines of _summarizeDets in order: AP, AP50, AP75, AP S/M/L, AR1, AR10, AR100, AR S/M/L.
std::vector<CocoStatSpec> coco_bbox_stat_specs(const CocoEvalParams& params);

struct CategoryAp {
  int64_t category_id = 0;
  std::string name;
  double ap = -1;    // AP@[.50:.95], area all, largest cap; -1 without GT
  double ap50 = -1;  // AP at IoU 0.50
  double ap75 = -1;  // AP at IoU 0.75
};

struct CocoSummary {
  std::array<double, 12> stats{};        // pycocotools' COCOeval.stats
  std::vector<CategoryAp> per_category;  // in category-id order (the K axis)
  CocoEvalCounts counts;                 // what was evaluated and what was dropped
};

// Mean of the accumulated table selected by `spec`, over entries > -1 (pycocotools' _summarize).
double coco_summarize_stat(const CocoAccumulation& acc, const CocoEvalParams& params,
                           const CocoStatSpec& spec, std::optional<size_t> only_category = std::nullopt);

// Runs the standard summary after accumulate(); category names come from the GT dataset.
CocoSummary summarize_coco(const CocoEvaluator& evaluator, const CocoDataset& gt);

// Evaluates `results` with every category pooled (CocoEvalParams::use_cats = false, default otherwise) and
// summarises it: do the boxes find objects, whatever their labels. Label alternatives (label_rank > 0)
// repeat a box under another label and are left out.
CocoSummary summarize_coco_class_agnostic(const CocoDataset& gt, const DetectionResults& results);

// pycocotools' printed table, one line per stat, e.g.
// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.378".
std::string format_coco_summary_table(const CocoSummary& summary, const CocoEvalParams& params);
// A small table of per-category AP, AP50, AP75.
std::string format_per_category_table(const CocoSummary& summary);
// {"stats": [12 numbers], "stat_names": [...], "counts": {...}, "per_category": [...] (optional)}.
std::string coco_summary_to_json(const CocoSummary& summary, bool include_per_category);

}  // namespace coordexp
