// The training run: data, tokenizer, model (tiny V-LLM or a Qwen2-VL checkpoint, see model_factory.hpp), set
// criterion, AdamW with warmup + cosine, gradient clipping, progress, periodic evaluation, atomic checkpoints
// and bit-for-bit resume, then the final evaluation and report. Outputs in run.out_dir: config.json
// (resolved), tokenizer.json, metrics.jsonl, checkpoint.pt, eval_<split>.json, detections_<split>.json,
// report.md and its pictures.
#pragma once

#include <string>

#include "coordexp/train/train_config.hpp"

namespace coordexp {

struct TrainOptions {
  bool resume = false;  // continue from out_dir/checkpoint.pt when it exists
  int64_t stop_after =
      -1;  // stop (with a checkpoint) after this many steps of this invocation; -1 = run to the end
  bool final_eval = true;  // evaluate and write the report at the end
  // > 0: profile this many steps after kProfileWarmup warm-up steps, then stop; the phase table goes to
  // stderr and <out_dir>/profile.json (step_profile.hpp).
  int64_t profile_steps = 0;
  // With profile_steps: one more step after the timed ones runs under LibTorch's profiler, and its
  // operators (self and total time, calls) go to the table and profile.json (op_profile.hpp).
  bool profile_ops = false;
};
constexpr int64_t kProfileWarmup = 2;

struct TrainSummary {
  int64_t steps_done = 0;
  double final_loss = 0;
  double tokens_per_second = 0;
  double seconds = 0;
  double communication_share = 0;  // data parallel: share of the loop's wall time spent in collectives
  double rollout_time_ratio = 0;   // mean rollout step time / mean teacher-forced step time (0: none)
};

TrainSummary train(const TrainConfig& config, const TrainOptions& options);

}  // namespace coordexp
