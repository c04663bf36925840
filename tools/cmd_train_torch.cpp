// `coordexp train --config FILE [--resume] [--out DIR] [--steps N] [--stop-after N]`: trains the tiny V-LLM
// with the set criterion, evaluates and writes the report (see include/coordexp/train/trainer.hpp).
#include <iostream>

#include "command.hpp"
#include "coordexp/train/trainer.hpp"

namespace coordexp::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::string out;
  int64_t steps = -1;
  int64_t stop_after = -1;
  bool resume = false;
  bool no_eval = false;
};

const CommandRegistrar kTrain("train", "Train the tiny V-LLM detector from a JSON config", [](CLI::App& sub) {
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
  return [args]() -> int {
    TrainConfig cfg = load_train_config(args->config);
    if (!args->out.empty()) cfg.run.out_dir = args->out;
    if (args->steps > 0) cfg.optim.steps = args->steps;
    TrainOptions opt;
    opt.resume = args->resume;
    opt.stop_after = args->stop_after;
    opt.final_eval = !args->no_eval;
    const TrainSummary s = train(cfg, opt);
    std::cout << "trained " << s.steps_done << " steps in " << s.seconds << " s; final loss " << s.final_loss
              << "\n";
    return 0;
  };
});

}  // namespace
}  // namespace coordexp::cli
