// Ablations: variants of one base training config run with the same data, step budget and evaluation, for
// several seeds, compared in one table and one chart. A plan file:
//   {"base": "configs/train/openshapes.json",            // a training config (path, or the object inline)
//    "out_dir": "runs/ablate", "seeds": [0, 1], "steps": 600,   // steps optional (overrides optim.steps)
//    "jobs": 2,                                      // optional: runs at once, each in its own process
//    "set": {"run": {"init_from": "runs/warmup"}},   // optional, merged into the base for every variant
//    "variants": [{"name": "ce_only", "set": {"criterion": {"coord_weight": 0}}},
//                 {"name": "ce_only_argmax", "eval_of": "ce_only",
//                  "set": {"generation": {"coord_decode": "argmax"}}}, ...]}
// Each variant's "set" is merged key by key into the base (objects recursively, other values replaced) after
// the plan's steps, so a variant may set its own optim.steps; the result is checked like any training config
// (unknown keys are errors naming the variant). A variant with "eval_of" trains nothing: it evaluates the
// named earlier variant's final weights (same seed) under its own config, for inference-only differences
// such as the coordinate decoder (run.init_from = that run, optim.steps = 0, no vision warm-up). Runs go to
// out_dir/<name>/seed<k>/; a run whose eval_val.json exists is reused, so an interrupted ablation resumes.
// With jobs > 1 the runs train side by side, each in a process of its own with the cores shared out
// (run.threads = cores / jobs unless the config sets it) and its output in <run>/train.log: on a small
// machine, where one run's kernels do not keep every core busy, that trains more steps per hour.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace coordexp {

struct AblationVariant {
  std::string name;
  nlohmann::json set;   // the overrides
  std::string eval_of;  // non-empty: evaluate this earlier variant's weights instead of training
};

struct AblationPlan {
  nlohmann::json base;  // a training config document (the plan's own "set" already merged in)
  std::string out_dir = "runs/ablate";
  std::vector<uint64_t> seeds = {0};
  int64_t steps = -1;  // > 0: overrides optim.steps of every variant
  int jobs = 1;        // runs trained at once (> 1: child processes)
  std::vector<AblationVariant> variants;
};

// `path` is the plan; a relative "base" path is relative to the current directory. Malformed plans are
// InputErrors naming the file and field.
AblationPlan load_ablation_plan(const std::string& path);

// Keeps the named variants (plan order) and every eval_of variant of a kept one: a study cut to fit a budget
// keeps whole variants and their rescorings. An unknown name, or a named eval_of variant whose run is not
// kept, is an InputError naming it.
void select_ablation_variants(AblationPlan& plan, const std::vector<std::string>& names);

// One variant x seed, read back from its run folder.
struct AblationRun {
  std::string variant;
  uint64_t seed = 0;
  double ap = 0, ap50 = 0, ap75 = 0, ap_small = 0;  // val (COCO; AP small is -1 without small objects)
  double novel_ap = -1;                             // the extra split's AP (-1 when there is none)
  double f1_50 = 0;                                 // F1 at IoU 0.5, greedy matching, class-aware
  double recall_50 = 0;                             // its recall
  double agnostic_recall_50 = 0;                    // recall at IoU 0.5 ignoring the label
  double agnostic_ap = 0, agnostic_ap50 = 0;        // COCO AP with every category pooled (useCats = 0)
  double label_right = 0;     // label right among localised detections (label_accuracy.hpp)
  double duplicate_rate = 0;  // detections repeating another (IoU > 0.8, same label)
  double invalid_rate = 0;  // images whose generation hit the length limit, plus dropped labels per detection
  double train_seconds = 0;
};

// The base document with `set` merged in (objects recursively).
nlohmann::json merge_config(nlohmann::json base, const nlohmann::json& set);

// Trains (or reuses) every variant x seed, printing progress, and returns their results in plan order. Every
// run's config is checked before the first one trains. With plan.jobs > 1, `train_command` is the argument
// list that trains one config (for the command line: this program and "train"; "--config FILE --resume" is
// appended); a run that fails stops new starts and, once the running ones end, is thrown as an error naming
// its config and log.
std::vector<AblationRun> run_ablation(const AblationPlan& plan,
                                      const std::vector<std::string>& train_command = {});

// The runs of the plan that have finished (eval_val.json written), in plan order, without training anything:
// what `coordexp ablate --report` tabulates for a study still in progress.
std::vector<AblationRun> finished_ablation_runs(const AblationPlan& plan);

// The paired difference a - b over seeds (a[i] and b[i] from the same seed): its mean, sample sd and the
// two-sided 95% Student t interval of the mean (lo = hi = NaN with fewer than 2 pairs).
struct PairedDifference {
  size_t n = 0;
  double mean = 0, sd = 0, lo = 0, hi = 0;
};
PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b);

// Writes out_dir/ablation.md (a table of mean +- spread over seeds, one row per variant; the paired
// difference of every trained variant to the plan's first one, of every eval_of variant to the variant it
// rescores and to the first variant's rescoring with the same overrides, per seed with its 95% interval;
// and every run) and out_dir/ablation.png (AP, AP50, AP75 per
// variant with the spread as error bars).
void write_ablation_report(const AblationPlan& plan, const std::vector<AblationRun>& runs);

}  // namespace coordexp
