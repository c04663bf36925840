// `coordexp eval --gt GT.json --dt DT.json [--json] [--per-category] [--class-agnostic] [--label-accuracy]
// [--lvis | --coco]`: pycocotools-exact COCO bbox metrics (with every category pooled under --class-agnostic,
// pycocotools' useCats = 0), or lvis-api-exact federated LVIS metrics (lvis_eval.hpp) with --lvis or when the
// GT looks like LVIS (frequency on categories, neg/not-exhaustive lists on images; the output says so).
// Prints the summary table (or a JSON object whose "stats" are the 12 COCO / 13 LVIS numbers in order); an
// empty results list gives zeros where GT exists. Bad files exit 2 with a message naming file, entry, field.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/detection_f1.hpp"
#include "coordexp/eval/label_accuracy.hpp"
#include "coordexp/eval/label_mapping.hpp"
#include "coordexp/eval/lvis_eval.hpp"
#include "coordexp/eval/lvis_summary.hpp"

namespace coordexp::cli {
namespace {

struct EvalArgs {
  std::string gt_path;                  // COCO ground truth
  std::string dt_path;                  // results list
  bool json = false;                    // print JSON instead of the table
  bool per_category = false;            // add per-category AP
  bool skip_unknown_images = false;     // drop detections on images absent from the GT instead of failing
  std::string invalid_boxes = "error";  // error | skip | keep (pycocotools)
  unsigned threads = 0;                 // 0 = all cores
  bool f1 = false;                      // also greedy one-to-one precision / recall / F1 at IoU 0.5 and 0.75
  bool map_labels = false;              // map "description"-only entries to categories (label_mapping.hpp)
  std::string synonyms_path;            // optional {"category name": ["synonym", ...]} file for --map-labels
  double min_cosine = 0.6;              // embedding fallback threshold for --map-labels
  bool lvis = false;                    // force LVIS federated evaluation
  bool coco = false;                    // force COCO evaluation even on LVIS-looking GT
  bool class_agnostic = false;          // pycocotools' useCats = 0: every category pooled
  bool label_accuracy = false;          // recognition of the detections that found a box
};

// Counts the written labels only: label alternatives (label_rank > 0) repeat boxes, false positives by
// design.
void print_f1(const CocoDataset& gt, const DetectionResults& all, bool class_aware = true) {
  const DetectionResults dt = written_labels_only(all);
  std::cout << "\n";
  DetectionF1Options options;
  options.class_aware = class_aware;
  for (const auto& r : evaluate_detection_f1(gt, dt, options))
    std::cout << "IoU=" << r.iou_threshold << "  precision=" << r.precision << "  recall=" << r.recall
              << "  F1=" << r.f1 << "  (TP " << r.true_positives << ", FP " << r.false_positives << ", FN "
              << r.false_negatives << ", ignored " << r.ignored << ")\n";
}

void print_mapping(const LabelMappingCounts& mapping) {
  std::cout << "\nlabel mapping: exact " << mapping.exact << ", synonym " << mapping.synonym << ", embedding "
            << mapping.embedding << ", dropped " << mapping.dropped << ", given category "
            << mapping.kept_category << "\n";
}

int run_lvis_eval(const EvalArgs& args, const CocoDataset& gt, const DetectionResults& dt,
                  const LabelMappingCounts& mapping, bool auto_detected, double load_s) {
  using clock = std::chrono::steady_clock;
  const auto t1 = clock::now();
  LvisEvalOptions options;
  options.unknown_image = args.skip_unknown_images ? UnknownImagePolicy::kUnknownImageSkip
                                                   : UnknownImagePolicy::kUnknownImageError;
  options.num_threads = args.threads;
  LvisEvaluator evaluator(gt, dt, options);
  evaluator.accumulate();
  const LvisSummary summary = summarize_lvis(evaluator, gt);
  const auto t2 = clock::now();
  const char* why = auto_detected
                        ? "auto-detected: categories carry \"frequency\", images carry neg_category_ids / "
                          "not_exhaustive_category_ids; --coco for plain COCO metrics"
                        : "--lvis";
  if (args.json) {
    auto j = nlohmann::ordered_json::parse(lvis_summary_to_json(summary, args.per_category));
    j["lvis_auto_detected"] = auto_detected;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "LVIS federated evaluation (" << why << ")\n";
  std::cout << format_lvis_summary_table(summary, evaluator.params());
  if (args.map_labels) print_mapping(mapping);
  if (args.f1) print_f1(gt, dt);
  if (args.per_category) std::cout << "\n" << format_lvis_per_category_table(summary);
  const auto& c = summary.counts;
  std::cerr << "images " << c.num_images << ", categories " << c.num_categories << ", gt " << c.gt_used
            << ", detections " << c.dt_used << " (dropped: over the per-image cap " << c.dt_over_image_cap
            << ", neither positive nor negative on the image " << c.dt_not_federated << ", unknown category "
            << c.dt_dropped_unknown_category << ", zero area " << c.dt_dropped_zero_area << ", unknown image "
            << c.dt_skipped_unknown_image << ", invalid box " << dt.skipped_invalid_box << "); load "
            << load_s << " s, evaluate " << std::chrono::duration<double>(t2 - t1).count() << " s\n";
  return 0;
}

int run_eval(const EvalArgs& args) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const CocoDataset gt = load_coco_dataset(args.gt_path);
  ResultsLoadOptions load;
  load.invalid_box = args.invalid_boxes == "skip"   ? InvalidBoxPolicy::kInvalidBoxSkip
                     : args.invalid_boxes == "keep" ? InvalidBoxPolicy::kInvalidBoxKeep
                                                    : InvalidBoxPolicy::kInvalidBoxError;
  load.require_category = !args.map_labels;
  DetectionResults dt = load_detection_results(args.dt_path, load);
  LabelMappingCounts mapping;
  if (args.map_labels) {
    LabelMapperConfig config;
    config.min_cosine = args.min_cosine;
    if (!args.synonyms_path.empty()) config.synonyms = load_label_synonyms(args.synonyms_path);
    dt = map_result_labels(dt, LabelMapper(gt.categories, config), mapping);
  }
  const auto t1 = clock::now();
  const bool auto_lvis = !args.lvis && !args.coco && !args.class_agnostic && looks_like_lvis(gt);
  if (args.lvis || auto_lvis)
    return run_lvis_eval(args, gt, dt, mapping, auto_lvis, std::chrono::duration<double>(t1 - t0).count());
  CocoEvalOptions options;
  options.unknown_image = args.skip_unknown_images ? UnknownImagePolicy::kUnknownImageSkip
                                                   : UnknownImagePolicy::kUnknownImageError;
  options.num_threads = args.threads;
  options.params.use_cats = !args.class_agnostic;
  if (args.class_agnostic) dt = written_labels_only(std::move(dt));  // alternatives repeat boxes
  CocoEvaluator evaluator(gt, dt, options);
  evaluator.evaluate();
  evaluator.accumulate();
  const CocoSummary summary = summarize_coco(evaluator, gt);
  const auto t2 = clock::now();
  if (args.json) {
    auto j = nlohmann::ordered_json::parse(coco_summary_to_json(summary, args.per_category));
    if (args.class_agnostic) j["class_agnostic"] = true;
    if (args.label_accuracy)
      j["label_accuracy"] = nlohmann::json::parse(label_accuracy_to_json(evaluate_label_accuracy(gt, dt)));
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (args.class_agnostic) std::cout << "class-agnostic (useCats = 0): every category pooled per image\n";
  std::cout << format_coco_summary_table(summary, evaluator.params());
  if (args.map_labels) print_mapping(mapping);
  if (args.f1) print_f1(gt, dt, !args.class_agnostic);
  if (args.label_accuracy)
    std::cout << "\n" << format_label_accuracy(evaluate_label_accuracy(gt, dt)) << "\n";
  if (args.per_category) std::cout << "\n" << format_per_category_table(summary);
  const auto& c = summary.counts;
  std::cerr << "images " << c.num_images << ", categories " << c.num_categories << ", gt " << c.gt_used
            << ", detections " << c.dt_used << " (dropped: unknown category " << c.dt_dropped_unknown_category
            << ", unknown image " << c.dt_skipped_unknown_image << ", invalid box " << dt.skipped_invalid_box
            << "); load " << std::chrono::duration<double>(t1 - t0).count() << " s, evaluate "
            << std::chrono::duration<double>(t2 - t1).count() << " s\n";
  return 0;
}

const CommandRegistrar kRegisterEval(
    "eval", "COCO bbox metrics identical to pycocotools (AP, AP50, ..., AR large), or LVIS federated metrics",
    [](CLI::App& sub) {
      auto args = std::make_shared<EvalArgs>();
      sub.add_option("--gt", args->gt_path, "COCO-format ground-truth JSON")->required();
      sub.add_option("--dt", args->dt_path, "results JSON: [{image_id, category_id, bbox, score}, ...]")
          ->required();
      sub.add_flag("--json", args->json, "print a JSON object (\"stats\": the 12 numbers in order)");
      sub.add_flag("--per-category", args->per_category, "also report AP, AP50, AP75 per category");
      sub.add_flag("--skip-unknown-images", args->skip_unknown_images,
                   "drop detections whose image_id is not in the GT (default: error, as pycocotools)");
      sub.add_option("--invalid-boxes", args->invalid_boxes,
                     "result boxes with negative width/height: error, skip, or keep (as pycocotools)")
          ->check(CLI::IsMember({"error", "skip", "keep"}));
      sub.add_option("--threads", args->threads, "worker threads (0 = all cores)");
      sub.add_flag(
          "--f1", args->f1,
          "also print greedy one-to-one precision / recall / F1 at IoU 0.5 and 0.75 (written labels: "
          "entries with label_rank > 0 are left out)");
      sub.add_flag("--map-labels", args->map_labels,
                   "map entries that carry only a \"description\" to categories");
      sub.add_option("--synonyms", args->synonyms_path, "synonyms JSON for --map-labels");
      sub.add_option("--min-cosine", args->min_cosine, "embedding fallback threshold for --map-labels");
      auto* lvis =
          sub.add_flag("--lvis", args->lvis,
                       "LVIS federated evaluation as lvis-api (AP, AP50, AP75, APs/m/l, APr/c/f, AR@300, "
                       "ARs/m/l); default when the GT looks like LVIS");
      auto* coco = sub.add_flag("--coco", args->coco, "COCO evaluation even when the GT looks like LVIS");
      lvis->excludes(coco);
      auto* agnostic = sub.add_flag(
          "--class-agnostic", args->class_agnostic,
          "pool every category, as pycocotools with params.useCats = 0: does each "
          "box find an object, whatever its label (COCO metrics only; entries with label_rank > 0, "
          "label alternatives that repeat a box, are left out)");
      agnostic->excludes(lvis);
      sub.add_flag("--label-accuracy", args->label_accuracy,
                   "also print how often the detections that overlap a ground-truth box (IoU >= 0.5, any "
                   "category) carry its category, and word by word how often the category names agree");
      return [args] { return run_eval(*args); };
    });

}  // namespace
}  // namespace coordexp::cli
