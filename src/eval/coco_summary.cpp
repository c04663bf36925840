// COCOeval.summarize() and its report formats; see include/coordexp/eval/coco_summary.hpp.
#include "coordexp/eval/coco_summary.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "coordexp/eval/numpy_compat.hpp"

namespace coordexp {

namespace {

const char* const kStatNames[12] = {"AP",  "AP50", "AP75",  "AP_small", "AP_medium", "AP_large",
                                    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"};

std::optional<size_t> find_area(const CocoEvalParams& p, const std::string& label) {
  for (size_t a = 0; a < p.area_ranges.size(); ++a)
    if (p.area_ranges[a].label == label) return a;
  return std::nullopt;
}

std::optional<size_t> find_cap(const CocoEvalParams& p, int64_t cap) {
  for (size_t m = 0; m < p.max_dets.size(); ++m)
    if (p.max_dets[m] == cap) return m;
  return std::nullopt;
}

}  // namespace

std::vector<CocoStatSpec> coco_bbox_stat_specs(const CocoEvalParams& params) {
  const auto& md = params.max_dets;
  auto cap = [&](size_t i) { return i < md.size() ? md[i] : int64_t(-1); };
  // The first line asks for maxDets=100 literally (its default argument), the others for params.maxDets[i].
  return {{true, std::nullopt, "all", 100},
          {true, .5, "all", cap(2)},
          {true, .75, "all", cap(2)},
          {true, std::nullopt, "small", cap(2)},
          {true, std::nullopt, "medium", cap(2)},
          {true, std::nullopt, "large", cap(2)},
          {false, std::nullopt, "all", cap(0)},
          {false, std::nullopt, "all", cap(1)},
          {false, std::nullopt, "all", cap(2)},
          {false, std::nullopt, "small", cap(2)},
          {false, std::nullopt, "medium", cap(2)},
          {false, std::nullopt, "large", cap(2)}};
}

double coco_summarize_stat(const CocoAccumulation& acc, const CocoEvalParams& params,
                           const CocoStatSpec& spec, std::optional<size_t> only_category) {
  const auto a = find_area(params, spec.area_label);
  const auto m = find_cap(params, spec.max_dets);
  if (!a || !m) return -1;
  std::vector<double> kept;  // s[s > -1] in numpy's C order (t, r, k)
  const size_t k_begin = only_category.value_or(0);
  const size_t k_end = only_category ? *only_category + 1 : acc.K;
  std::vector<uint32_t> with_gt;  // categories whose precision at (t, a, m) is not -1 throughout
  for (size_t t = 0; t < acc.T; ++t) {
    if (spec.iou_threshold && params.iou_thresholds[t] != *spec.iou_threshold) continue;
    if (spec.average_precision) {
      // recall is -1 exactly where accumulate left every recall point -1 (no non-ignored GT): skipping
      // those categories keeps the order of the kept values and reads only the evaluated rows.
      with_gt.clear();
      for (size_t k = k_begin; k < k_end; ++k)
        if (acc.recall_at(t, k, *a, *m) > -1) with_gt.push_back(uint32_t(k));
      for (size_t r = 0; r < acc.R; ++r)
        for (uint32_t k : with_gt) {
          const double v = acc.precision_at(t, r, k, *a, *m);
          if (v > -1) kept.push_back(v);
        }
    } else {
      for (size_t k = k_begin; k < k_end; ++k) {
        const double v = acc.recall_at(t, k, *a, *m);
        if (v > -1) kept.push_back(v);
      }
    }
  }
  return kept.empty() ? -1.0 : numpy_mean(kept);
}

CocoSummary summarize_coco(const CocoEvaluator& evaluator, const CocoDataset& gt) {
  const auto& acc = evaluator.accumulation();
  const auto& params = evaluator.params();
  CocoSummary out;
  const auto specs = coco_bbox_stat_specs(params);
  for (size_t i = 0; i < 12; ++i) out.stats[i] = coco_summarize_stat(acc, params, specs[i]);
  out.counts = evaluator.counts();
  const auto ids = evaluator.category_ids();
  const int64_t top_cap = params.max_dets.back();
  std::unordered_map<int64_t, const std::string*> names;  // the last listed name wins, as pycocotools' cats
  for (const auto& cat : gt.categories) names[cat.id] = &cat.name;
  for (size_t k = 0; k < ids.size(); ++k) {
    CategoryAp c;
    c.category_id = ids[k];
    if (auto it = names.find(ids[k]); it != names.end()) c.name = *it->second;
    if (!params.use_cats) c.name = "any category (class-agnostic)";
    c.ap = coco_summarize_stat(acc, params, {true, std::nullopt, "all", top_cap}, k);
    c.ap50 = coco_summarize_stat(acc, params, {true, .5, "all", top_cap}, k);
    c.ap75 = coco_summarize_stat(acc, params, {true, .75, "all", top_cap}, k);
    out.per_category.push_back(std::move(c));
  }
  return out;
}

CocoSummary summarize_coco_class_agnostic(const CocoDataset& gt, const DetectionResults& results) {
  CocoEvalOptions pooled;
  pooled.params.use_cats = false;
  CocoEvaluator evaluator(gt, written_labels_only(results), pooled);
  evaluator.accumulate();
  return summarize_coco(evaluator, gt);
}

std::string format_coco_summary_table(const CocoSummary& summary, const CocoEvalParams& params) {
  std::string text;
  const auto specs = coco_bbox_stat_specs(params);
  const auto& thr = params.iou_thresholds;
  for (size_t i = 0; i < 12; ++i) {
    const auto& s = specs[i];
    const std::string iou = s.iou_threshold ? fmt::format("{:.2f}", *s.iou_threshold)
                                            : fmt::format("{:.2f}:{:.2f}", thr.front(), thr.back());
    text +=
        fmt::format(" {:<18} {} @[ IoU={:<9} | area={:>6} | maxDets={:>3} ] = {:.3f}\n",
                    s.average_precision ? "Average Precision" : "Average Recall",
                    s.average_precision ? "(AP)" : "(AR)", iou, s.area_label, s.max_dets, summary.stats[i]);
  }
  return text;
}

std::string format_per_category_table(const CocoSummary& summary) {
  size_t width = 8;
  for (const auto& c : summary.per_category) width = std::max(width, c.name.size());
  std::string text =
      fmt::format("{:>12}  {:<{}}  {:>7} {:>7} {:>7}\n", "category_id", "name", width, "AP", "AP50", "AP75");
  for (const auto& c : summary.per_category)
    text += fmt::format("{:>12}  {:<{}}  {:>7.3f} {:>7.3f} {:>7.3f}\n", c.category_id, c.name, width, c.ap,
                        c.ap50, c.ap75);
  return text;
}

std::string coco_summary_to_json(const CocoSummary& summary, bool include_per_category) {
  nlohmann::ordered_json j;  // "stats" first, as users read it
  j["stats"] = summary.stats;
  j["stat_names"] = std::vector<std::string>(std::begin(kStatNames), std::end(kStatNames));
  const auto& c = summary.counts;
  j["counts"] = {{"images", c.num_images},
                 {"categories", c.num_categories},
                 {"gt_used", c.gt_used},
                 {"gt_dropped", c.gt_dropped},
                 {"gt_duplicate_ids", c.gt_duplicate_ids},
                 {"dt_used", c.dt_used},
                 {"dt_dropped_unknown_category", c.dt_dropped_unknown_category},
                 {"dt_skipped_unknown_image", c.dt_skipped_unknown_image},
                 {"dt_without_category", c.dt_without_category}};
  if (include_per_category) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& cat : summary.per_category)
      list.push_back({{"category_id", cat.category_id},
                      {"name", cat.name},
                      {"AP", cat.ap},
                      {"AP50", cat.ap50},
                      {"AP75", cat.ap75}});
    j["per_category"] = std::move(list);
  }
  return j.dump(2);
}

}  // namespace coordexp
