// LVISEval.summarize(): the 13 LVIS stats (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300,
// ARm@300, ARl@300) from an LvisEvaluator's tables, LVISEval.print_results' text layout and a JSON report.
// Means are numpy's over entries > -1; a stat with no such entry is -1. APr/APc/APf average precision
// over the categories of one frequency group (area all); AR has no frequency split, as in lvis-api.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/lvis_eval.hpp"

namespace coordexp {

// lvis-api's result keys in order; the AR keys carry the cap ("AR@300", "ARs@300", ...).
std::array<std::string, 13> lvis_stat_names(const LvisEvalParams& params);

struct LvisCategoryAp {
  CategoryAp ap;         // id, name, AP, AP50, AP75 (area all)
  char frequency = 'r';  // 'r', 'c' or 'f'
};

struct LvisSummary {
  std::array<double, 13> stats{};            // in lvis_stat_names order
  std::array<std::string, 13> names;         // lvis_stat_names(params)
  std::vector<LvisCategoryAp> per_category;  // in category-id order (the K axis)
  LvisEvalCounts counts;
};

// Runs LVISEval.summarize after accumulate(); category names come from the GT dataset.
LvisSummary summarize_lvis(const LvisEvaluator& evaluator, const CocoDataset& gt);

// LVISEval.print_results' lines, e.g.
// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=  r] = 0.123".
std::string format_lvis_summary_table(const LvisSummary& summary, const LvisEvalParams& params);
// Per-category AP, AP50, AP75 with the frequency group.
std::string format_lvis_per_category_table(const LvisSummary& summary);
// {"evaluation": "lvis", "stats": [13], "stats_named": {"AP": ..., ...}, "counts": {...},
//  "per_category": [...] (optional)}.
std::string lvis_summary_to_json(const LvisSummary& summary, bool include_per_category);

}  // namespace coordexp
