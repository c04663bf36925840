// LVISEval.summarize() and its report formats; see include/coordexp/eval/lvis_summary.hpp.
#include "coordexp/eval/lvis_summary.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "coordexp/eval/numpy_compat.hpp"

namespace coordexp {

namespace {

// The COCO summary's view of the LVIS tables: one cap (the per-image one) on the M axis.
CocoEvalParams as_coco_params(const LvisEvalParams& p) {
  CocoEvalParams c;
  c.iou_thresholds = p.iou_thresholds;
  c.recall_thresholds = p.recall_thresholds;
  c.max_dets = {p.max_dets_per_image};
  c.area_ranges = p.area_ranges;
  return c;
}

// _summarize('ap', freq_group_idx=g): precision[:, :, group, area all] > -1, in (t, r, k) order.
double group_average_precision(const CocoAccumulation& acc, const CocoEvalParams& params,
                               std::span<const LvisFrequency> freq, LvisFrequency group) {
  size_t a = params.area_ranges.size();
  for (size_t i = 0; i < params.area_ranges.size(); ++i)
    if (params.area_ranges[i].label == "all") a = i;
  if (a == params.area_ranges.size()) return -1;
  std::vector<double> kept;
  std::vector<uint32_t> with_gt;  // the group's categories with a row (recall -1: every point is -1)
  for (size_t t = 0; t < acc.T; ++t) {
    with_gt.clear();
    for (size_t k = 0; k < acc.K; ++k)
      if (freq[k] == group && acc.recall_at(t, k, a, 0) > -1) with_gt.push_back(uint32_t(k));
    for (size_t r = 0; r < acc.R; ++r)
      for (uint32_t k : with_gt) {
        const double v = acc.precision_at(t, r, k, a, 0);
        if (v > -1) kept.push_back(v);
      }
  }
  return kept.empty() ? -1.0 : numpy_mean(kept);
}

}  // namespace

std::array<std::string, 13> lvis_stat_names(const LvisEvalParams& params) {
  const std::string cap = std::to_string(params.max_dets_per_image);
  return {"AP",  "AP50", "AP75",      "APs",        "APm",        "APl",       "APr",
          "APc", "APf",  "AR@" + cap, "ARs@" + cap, "ARm@" + cap, "ARl@" + cap};
}

LvisSummary summarize_lvis(const LvisEvaluator& evaluator, const CocoDataset& gt) {
  const auto& acc = evaluator.accumulation();
  const CocoEvalParams params = as_coco_params(evaluator.params());
  const int64_t cap = evaluator.params().max_dets_per_image;
  const auto freq = evaluator.frequencies();
  LvisSummary out;
  out.names = lvis_stat_names(evaluator.params());
  const auto stat = [&](bool ap, std::optional<double> iou, const char* area) {
    return coco_summarize_stat(acc, params, {ap, iou, area, cap});
  };
  out.stats = {stat(true, std::nullopt, "all"),
               stat(true, .5, "all"),
               stat(true, .75, "all"),
               stat(true, std::nullopt, "small"),
               stat(true, std::nullopt, "medium"),
               stat(true, std::nullopt, "large"),
               group_average_precision(acc, params, freq, kLvisRare),
               group_average_precision(acc, params, freq, kLvisCommon),
               group_average_precision(acc, params, freq, kLvisFrequent),
               stat(false, std::nullopt, "all"),
               stat(false, std::nullopt, "small"),
               stat(false, std::nullopt, "medium"),
               stat(false, std::nullopt, "large")};
  out.counts = evaluator.counts();
  const auto ids = evaluator.category_ids();
  std::unordered_map<int64_t, const std::string*> names;  // the last listed entry wins, as lvis-api's cats
  for (const auto& cat : gt.categories) names[cat.id] = &cat.name;
  for (size_t k = 0; k < ids.size(); ++k) {
    LvisCategoryAp c;
    c.ap.category_id = ids[k];
    if (auto it = names.find(ids[k]); it != names.end()) c.ap.name = *it->second;
    c.ap.ap = coco_summarize_stat(acc, params, {true, std::nullopt, "all", cap}, k);
    c.ap.ap50 = coco_summarize_stat(acc, params, {true, .5, "all", cap}, k);
    c.ap.ap75 = coco_summarize_stat(acc, params, {true, .75, "all", cap}, k);
    c.frequency = "rcf"[freq[k]];
    out.per_category.push_back(std::move(c));
  }
  return out;
}

std::string format_lvis_summary_table(const LvisSummary& summary, const LvisEvalParams& params) {
  // print_results derives IoU, area and category group from the key's third character.
  const auto& thr = params.iou_thresholds;
  std::string text;
  for (size_t i = 0; i < 13; ++i) {
    const std::string& key = summary.names[i];
    const bool ap = key.rfind("AP", 0) == 0;
    const char c = key.size() > 2 ? key[2] : '\0';
    std::string iou = fmt::format("{:.2f}:{:.2f}", thr.front(), thr.back());
    if (c >= '0' && c <= '9') iou = fmt::format("{:.2f}", std::stod(key.substr(2)) / 100);
    const std::string group = (c == 'r' || c == 'c' || c == 'f') ? std::string(1, c) : "all";
    const std::string area = (c == 's' || c == 'm' || c == 'l') ? std::string(1, c) : "all";
    text += fmt::format(" {:<18} {} @[ IoU={:<9} | area={:>6} | maxDets={:>3} catIds={:>3}] = {:.3f}\n",
                        ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", iou, area,
                        params.max_dets_per_image, group, summary.stats[i]);
  }
  return text;
}

std::string format_lvis_per_category_table(const LvisSummary& summary) {
  size_t width = 8;
  for (const auto& c : summary.per_category) width = std::max(width, c.ap.name.size());
  std::string text = fmt::format("{:>12}  {:<{}}  {:>4} {:>7} {:>7} {:>7}\n", "category_id", "name", width,
                                 "freq", "AP", "AP50", "AP75");
  for (const auto& c : summary.per_category)
    text += fmt::format("{:>12}  {:<{}}  {:>4} {:>7.3f} {:>7.3f} {:>7.3f}\n", c.ap.category_id, c.ap.name,
                        width, c.frequency, c.ap.ap, c.ap.ap50, c.ap.ap75);
  return text;
}

std::string lvis_summary_to_json(const LvisSummary& summary, bool include_per_category) {
  nlohmann::ordered_json j;
  j["evaluation"] = "lvis";
  j["stats"] = summary.stats;
  nlohmann::ordered_json named = nlohmann::ordered_json::object();
  for (size_t i = 0; i < 13; ++i) named[summary.names[i]] = summary.stats[i];
  j["stats_named"] = std::move(named);
  const auto& c = summary.counts;
  j["counts"] = {{"images", c.num_images},
                 {"categories", c.num_categories},
                 {"gt_used", c.gt_used},
                 {"gt_dropped", c.gt_dropped},
                 {"gt_dropped_zero_area", c.gt_dropped_zero_area},
                 {"gt_duplicate_ids", c.gt_duplicate_ids},
                 {"dt_used", c.dt_used},
                 {"dt_over_image_cap", c.dt_over_image_cap},
                 {"dt_dropped_unknown_category", c.dt_dropped_unknown_category},
                 {"dt_dropped_zero_area", c.dt_dropped_zero_area},
                 {"dt_not_federated", c.dt_not_federated},
                 {"dt_skipped_unknown_image", c.dt_skipped_unknown_image},
                 {"dt_without_category", c.dt_without_category}};
  if (include_per_category) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& cat : summary.per_category)
      list.push_back({{"category_id", cat.ap.category_id},
                      {"name", cat.ap.name},
                      {"frequency", std::string(1, cat.frequency)},
                      {"AP", cat.ap.ap},
                      {"AP50", cat.ap.ap50},
                      {"AP75", cat.ap.ap75}});
    j["per_category"] = std::move(list);
  }
  return j.dump(2);
}

}  // namespace coordexp
