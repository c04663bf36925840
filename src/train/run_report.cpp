// Writing a run's report: JSON stats, pictures and a Markdown page (see run_report.hpp).
#include "coordexp/train/run_report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordexp/data/image_decode.hpp"
#include "coordexp/data/resample.hpp"
#include "coordexp/report/box_drawing.hpp"
#include "coordexp/report/line_plot.hpp"
#include "coordexp/report/montage.hpp"
#include "coordexp/report/pr_curve.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

const char* kStatNames[12] = {"AP",  "AP50", "AP75",  "AP_small", "AP_medium", "AP_large",
                              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"};

ImageRGB8 loss_curve(const fs::path& metrics_path) {
  std::map<std::string, PlotSeries> series;
  std::ifstream f(metrics_path);
  std::string line;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("loss")) continue;
    const double step = j["step"].get<double>();
    for (const char* key : {"loss", "text_ce", "coord_ce", "l1", "giou", "unmatched"}) {
      if (!j.contains(key)) continue;
      auto& s = series[key];
      s.name = key;
      s.x.push_back(step);
      s.y.push_back(j[key].get<double>());
    }
  }
  std::vector<PlotSeries> v;
  for (auto& [k, s] : series) v.push_back(s);
  PlotConfig pc;
  pc.title = "training loss terms (unweighted)";
  pc.x_label = "step";
  pc.y_label = "loss";
  pc.log_y = true;
  return render_line_plot(v, pc);
}

// The original image for drawing, shrunk (aspect kept) to at most max_side pixels a side.
ImageRGB8 picture_for_drawing(const std::string& path, int max_side = 512) {
  const DecodedImage probe = load_image(path, {max_side, max_side});  // DCT-scaled for large JPEGs
  const ImageRGB8& pic = probe.pixels;
  const double scale = static_cast<double>(max_side) / std::max(pic.width(), pic.height());
  if (scale >= 1.0) return pic;
  return resize_bicubic_pil(pic, std::max(1, static_cast<int>(std::lround(pic.width() * scale))),
                            std::max(1, static_cast<int>(std::lround(pic.height() * scale))));
}

ImageRGB8 predictions_picture(const SplitResult& r, size_t count) {
  std::vector<ImageRGB8> tiles;
  std::vector<std::string> captions;
  BoxDrawConfig cfg;
  cfg.min_side = 256;
  cfg.min_score = 0.0;
  for (size_t k = 0; k < std::min(count, r.run.images.size()); ++k) {
    const size_t i = r.run.images[k];
    const DatasetImage& img = r.data->images[i];
    const ImageRGB8 pic = picture_for_drawing(img.path);  // the original photo, at most 512 pixels a side
    const double sx = pic.width(), sy = pic.height();
    std::vector<LabelledBox> boxes;
    for (const auto& o : img.objects)
      boxes.push_back({{o.box.x1 * sx, o.box.y1 * sy, o.box.x2 * sx, o.box.y2 * sy},
                       "",
                       std::nullopt,
                       BoxRole::kBoxGroundTruth});
    for (const auto& o : r.run.generated[k])
      boxes.push_back({{o.box.x1 * sx, o.box.y1 * sy, o.box.x2 * sx, o.box.y2 * sy},
                       "",
                       o.score,
                       BoxRole::kBoxPrediction});
    tiles.push_back(draw_labelled_boxes(pic, boxes, cfg));
    captions.push_back("image " + std::to_string(img.image_id) + ": " + std::to_string(img.objects.size()) +
                       " gt, " + std::to_string(r.run.generated[k].size()) + " predicted");
  }
  MontageConfig mc;
  mc.columns = 4;
  mc.title = r.name + ": ground truth (green) and predictions (red) with scores";
  return make_montage(tiles, captions, mc);
}

}  // namespace

std::vector<double> mean_precision_curve(const RunEvaluation& eval, size_t t) {
  const auto& p = eval.params;
  const size_t R = p.recall_thresholds.size(), K = eval.category_ids.size(), A = p.area_ranges.size(),
               M = p.max_dets.size();
  std::vector<double> out(R, -1);
  for (size_t r = 0; r < R; ++r) {
    double sum = 0;
    int n = 0;
    for (size_t k = 0; k < K; ++k) {
      const double v = eval.accumulation.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
      if (v > -1) sum += v, ++n;
    }
    if (n > 0) out[r] = sum / n;
  }
  return out;
}

void write_run_report(const std::string& out_dir, const TrainConfig& config,
                      const DetectionTokenizer& tokenizer, const std::vector<SplitResult>& results,
                      const RunFacts& facts) {
  const fs::path out(out_dir);
  std::vector<PrCurve> curves;
  for (const auto& r : results) {
    nlohmann::json j;
    for (int s = 0; s < 12; ++s) j["stats_named"][kStatNames[s]] = r.eval.summary.stats[s];
    j["stats"] = r.eval.summary.stats;
    for (int s = 0; s < 12; ++s) j["class_agnostic"][kStatNames[s]] = r.eval.agnostic_stats[s];
    j["label_accuracy"] = nlohmann::json::parse(label_accuracy_to_json(r.eval.label_accuracy));
    j["images"] = r.run.images.size();
    j["detections"] = r.run.detections.size();
    j["unterminated"] = r.run.unterminated;
    j["labels"] = {{"exact", r.run.label_counts.exact},
                   {"synonym", r.run.label_counts.synonym},
                   {"embedding", r.run.label_counts.embedding},
                   {"dropped", r.run.label_counts.dropped}};
    for (const auto& c : r.eval.summary.per_category)
      if (c.ap >= 0)
        j["per_category"][std::to_string(c.category_id)] = {{"name", c.name}, {"AP", c.ap}, {"AP50", c.ap50}};
    std::ofstream(out / ("eval_" + r.name + ".json")) << j.dump(2) << "\n";
    const auto& rec = r.eval.params.recall_thresholds;
    curves.push_back({r.name + " IoU=0.50", rec, mean_precision_curve(r.eval, 0), r.eval.summary.stats[1]});
    curves.push_back({r.name + " IoU=0.75", rec, mean_precision_curve(r.eval, 5), r.eval.summary.stats[2]});
    save_png(predictions_picture(r, 12), (out / ("predictions_" + r.name + ".png")).string());
  }
  save_png(loss_curve(out / "metrics.jsonl"), (out / "loss_curve.png").string());
  PlotConfig pc;
  pc.title = "precision-recall (mean over categories, area all, 100 detections)";
  pc.x_label = "recall";
  pc.y_label = "precision";
  pc.x_min = 0, pc.x_max = 1, pc.y_min = 0, pc.y_max = 1;
  if (!curves.empty()) save_png(render_pr_curves(curves, pc), (out / "pr_curves.png").string());

  std::ostringstream md;
  md << std::fixed << std::setprecision(3);
  md << "# coordexp run report\n\n";
  md << (config.hf.path.empty() ? std::string("Tiny V-LLM trained from scratch")
                                : "Hugging Face model " + config.hf.path + " fine-tuned")
     << " for " << facts.steps << " steps (" << std::setprecision(0) << facts.train_seconds << " s, "
     << facts.tokens_per_second << " answer tokens/s, peak memory " << facts.peak_rss_mib
     << " MiB); vocabulary " << tokenizer.vocab_size() << " tokens with K = " << config.data.num_bins
     << " coordinate bins. Matching: "
     << (config.criterion.matching == MatchingMode::kHungarian ? "Hungarian" : "index") << ", lambda_coord "
     << std::setprecision(2) << config.criterion.coord_weight << ", coordinate CE "
     << (config.criterion.coord_ce ? "on" : "off") << ". Resolved configuration: `config.json`.\n\n";
  md << std::setprecision(3);
  md << "| split | images | AP | AP50 | AP75 | AP small | AR100 | class-agnostic AP50 | detections | "
        "unmapped labels |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    const auto& s = r.eval.summary.stats;
    md << "| " << r.name << " | " << r.run.images.size() << " | " << s[0] << " | " << s[1] << " | " << s[2]
       << " | " << s[3] << " | " << s[8] << " | " << r.eval.agnostic_stats[1] << " | "
       << r.run.detections.size() << " | " << r.run.label_counts.dropped << " |\n";
  }
  md << "\nClass-agnostic AP50 pools every category (pycocotools' useCats = 0): it measures whether the "
        "boxes find objects, whatever their descriptions. Recognition of the boxes that found an object:\n\n";
  for (const auto& r : results)
    md << "- " << r.name << ": " << format_label_accuracy(r.eval.label_accuracy) << "\n";
  const ScoreMode score = config.generation.score;
  md << "\nScores are "
     << (score == ScoreMode::kTokens
             ? "the geometric mean of the probabilities of the tokens that wrote each object"
         : score == ScoreMode::kLabel
             ? "P(<obj_start>) x P(description), the probability that an object with "
               "that description comes next"
             : "P(<obj_start>) x P(description) x the geometric mean of the coordinate "
               "tokens' probabilities")
     << " (`generation.score` = `" << score_mode_name(score) << "`); coordinates are decoded as the "
     << (config.generation.coord_decode == CoordDecode::kArgmax ? "argmax bin" : "CoordExp expectation")
     << ".\n\n## Loss\n\n![loss curve](loss_curve.png)\n\n## Precision-recall\n\n![PR "
        "curves](pr_curves.png)\n\n";
  for (const auto& r : results)
    md << "## Predictions on " << r.name << "\n\n![" << r.name << "](predictions_" << r.name << ".png)\n\n";
  std::ofstream(out / "report.md") << md.str();
}

}  // namespace coordexp
