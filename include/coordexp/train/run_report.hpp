// The report of a training run, written into its folder: eval_<split>.json (the 12 COCO stats and per-
// category AP), loss_curve.png (from metrics.jsonl), pr_curves.png, predictions_<split>.png (predicted boxes
// against ground truth) and report.md tying them together with the run's figures.
#pragma once

#include <string>
#include <vector>

#include "coordexp/infer/detector.hpp"
#include "coordexp/train/train_config.hpp"

namespace coordexp {

struct SplitResult {
  std::string name;  // "val", "novel", ...
  const DetectionDataset* data = nullptr;
  DetectionRun run;
  RunEvaluation eval;
};

struct RunFacts {
  double tokens_per_second = 0;  // supervised answer tokens per second of training
  double peak_rss_mib = 0;       // peak resident memory of the process
  double train_seconds = 0;      // wall time of the training loop
  int64_t steps = 0;
};

// Mean interpolated precision over categories with ground truth at IoU threshold index t, area "all" and
// the largest detection cap: 101 values (-1 where no category has data).
std::vector<double> mean_precision_curve(const RunEvaluation& eval, size_t t);

void write_run_report(const std::string& out_dir, const TrainConfig& config,
                      const DetectionTokenizer& tokenizer, const std::vector<SplitResult>& results,
                      const RunFacts& facts);

}  // namespace coordexp
