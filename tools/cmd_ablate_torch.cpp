// `coordexp ablate --config PLAN [--steps N] [--seeds N] [--variants A,B] [--out DIR] [--jobs N] [--report]`:
// trains every variant of an ablation plan (or the chosen ones, with their rescorings) for every seed,
// reusing finished runs, and writes ablation.md + ablation.png (see train/ablation.hpp); with --report, only
// the report of the runs finished so far.
#include <iostream>
#include <numeric>
#include <thread>

#include "command.hpp"
#include "coordexp/train/ablation.hpp"
#include "torch_commands.hpp"

namespace coordexp::cli {
namespace {

const CommandRegistrar kAblate("ablate", torch_command_description("ablate"), [](CLI::App& sub) {
  auto plan_path = std::make_shared<std::string>();
  auto steps = std::make_shared<int64_t>(-1);
  auto seeds = std::make_shared<int>(0);
  auto out = std::make_shared<std::string>();
  auto jobs = std::make_shared<int>(0);
  auto report = std::make_shared<bool>(false);
  auto variants = std::make_shared<std::vector<std::string>>();
  sub.add_option("--config", *plan_path, "Ablation plan (JSON)")->required()->check(CLI::ExistingFile);
  sub.add_option("--steps", *steps, "Override the plan's step budget")->check(CLI::PositiveNumber);
  sub.add_option("--seeds", *seeds, "Use seeds 0..N-1 instead of the plan's")->check(CLI::Range(1, 100));
  sub.add_option("--variants", *variants,
                 "Only these variants (comma-separated), with their evaluation-only variants (eval_of)")
      ->delimiter(',');
  sub.add_option("--out", *out, "Override the plan's out_dir");
  sub.add_option("--jobs", *jobs, "Runs trained at once, each in its own process (overrides the plan's jobs)")
      ->check(CLI::Range(1, 64));
  sub.add_flag("--report", *report,
               "Train nothing: write the report from the runs that have finished (a study in progress)");
  return [=]() -> int {
    AblationPlan plan = load_ablation_plan(*plan_path);
    if (*steps > 0) plan.steps = *steps;
    if (*seeds > 0) {
      plan.seeds.resize(*seeds);
      std::iota(plan.seeds.begin(), plan.seeds.end(), 0);
    }
    if (!variants->empty()) select_ablation_variants(plan, *variants);
    if (!out->empty()) plan.out_dir = *out;
    if (*jobs > 0) plan.jobs = *jobs;
    const auto runs =
        *report ? finished_ablation_runs(plan) : run_ablation(plan, {"/proc/self/exe", "train"});
    write_ablation_report(plan, runs);
    std::cerr << "ablate: " << runs.size() << " runs; report " << plan.out_dir << "/ablation.md\n";
    return 0;
  };
});

}  // namespace
}  // namespace coordexp::cli
