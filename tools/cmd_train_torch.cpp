// `coordexp train --config FILE [--resume] [--out DIR] [--steps N] [--stop-after N] [--nproc N]`: trains the
// tiny V-LLM with the set criterion, evaluates and writes the report (see
// include/coordexp/train/trainer.hpp). Data parallel under a launcher's RANK / WORLD_SIZE / MASTER_ADDR /
// MASTER_PORT, or with --nproc N workers started here.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "command.hpp"
#include "coordexp/train/trainer.hpp"
#include "local_workers.hpp"
#include "torch_commands.hpp"

namespace coordexp::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::string out;
  int64_t steps = -1;
  int64_t stop_after = -1;
  int64_t profile = 0;
  bool profile_ops = false;
  bool resume = false;
  bool no_eval = false;
  int nproc = 1;
};

const CommandRegistrar kTrain("train", torch_command_description("train"), [](CLI::App& sub) {
  auto args = std::make_shared<TrainArgs>();
  sub.add_option("--config", args->config, "Training config (JSON); unknown keys are errors")
      ->required()
      ->check(CLI::ExistingFile);
  sub.add_option("--out", args->out, "Override run.out_dir");
  sub.add_option("--steps", args->steps, "Override optim.steps");
  sub.add_option("--stop-after", args->stop_after,
                 "Stop after N steps of this invocation (checkpoint kept; --resume continues)");
  sub.add_flag("--resume", args->resume, "Continue from <out>/checkpoint.pt when it exists");
  sub.add_flag("--no-eval", args->no_eval, "Skip the final evaluation and report");
  sub.add_option("--profile", args->profile,
                 "Profile N steps after 2 warm-up steps, print where each step's time goes (wall and CPU per "
                 "phase) and write <out>/profile.json, then stop without the final evaluation")
      ->check(CLI::Range(1, 100000));
  sub.add_flag("--profile-ops", args->profile_ops,
               "With --profile: run one more step under LibTorch's profiler and list its operators by self "
               "time (also in profile.json)")
      ->needs("--profile");
  sub.add_option("--nproc", args->nproc,
                 "Data-parallel workers to start on this machine (each with optim.batch_size images)")
      ->check(CLI::Range(1, 256));
  return [args]() -> int {
    if (args->nproc > 1) {
      if (std::getenv("WORLD_SIZE") != nullptr)
        throw std::runtime_error(
            "--nproc starts its own workers; do not combine it with WORLD_SIZE set by a launcher");
      // a bad config fails here once, not in every worker
      const TrainConfig cfg = load_train_config(args->config);
      return run_local_workers(args->nproc,
                               static_cast<int>(std::min<int64_t>(30, cfg.run.dist_timeout_s + 5)));
    }
    TrainConfig cfg = load_train_config(args->config);
    if (!args->out.empty()) cfg.run.out_dir = args->out;
    if (args->steps > 0) cfg.optim.steps = args->steps;
    TrainOptions opt;
    opt.resume = args->resume;
    opt.stop_after = args->stop_after;
    opt.final_eval = !args->no_eval && args->profile == 0;
    opt.profile_steps = args->profile;
    opt.profile_ops = args->profile_ops;
    const TrainSummary s = train(cfg, opt);
    if (std::getenv("RANK") != nullptr && std::string(std::getenv("RANK")) != "0") return 0;
    std::cout << "trained " << s.steps_done << " steps in " << s.seconds << " s; final loss " << s.final_loss
              << "\n";
    return 0;
  };
});

}  // namespace
}  // namespace coordexp::cli
