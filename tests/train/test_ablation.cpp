// Ablation plans: parsing and its errors, config merging, a two-variant run on the tiny dataset whose
// report holds every variant and whose finished runs are reused, and the same runs side by side in child
// processes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "coordexp/train/ablation.hpp"
#include "coordexp/util/error.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string write_plan(const std::string& name, const json& plan) {
  const fs::path p = testing::test_root() / (name + ".json");
  fs::create_directories(p.parent_path());
  std::ofstream(p) << plan.dump();
  return p.string();
}

std::string error_of(const json& plan) {
  try {
    load_ablation_plan(write_plan("bad_plan", plan));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(AblationPlan, MergesOverridesRecursively) {
  const json base = {{"criterion", {{"matching", "hungarian"}, {"tau", 1.0}}}, {"optim", {{"steps", 10}}}};
  const json merged = merge_config(base, {{"criterion", {{"tau", 0.5}}}, {"data", {{"mc_orderings", 2}}}});
  EXPECT_EQ(merged["criterion"]["matching"], "hungarian");
  EXPECT_EQ(merged["criterion"]["tau"], 0.5);
  EXPECT_EQ(merged["optim"]["steps"], 10);
  EXPECT_EQ(merged["data"]["mc_orderings"], 2);
}

TEST(AblationPlan, MalformedPlansNameTheField) {
  const json base = {{"data", {{"train_json", "x.json"}}}};
  EXPECT_NE(error_of({{"base", base}, {"variants", json::array()}}).find("variants"), std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"varients", json::array()}}).find("varients"), std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"variants", {{{"name", "a/b"}}}}}).find("variants[0].name"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"base", base}, {"variants", {{{"name", "a"}}, {{"name", "a"}}}}}).find("variants[1].name"),
      std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"seeds", {-1}}, {"variants", {{{"name", "a"}}}}}).find("seeds"),
            std::string::npos);
  EXPECT_NE(error_of({{"variants", {{{"name", "a"}}}}}).find("base"), std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"set", 3}, {"variants", {{{"name", "a"}}}}}).find("\"set\""),
            std::string::npos);
  // eval_of names an earlier variant
  EXPECT_NE(error_of({{"base", base}, {"variants", {{{"name", "a"}, {"eval_of", "b"}}, {{"name", "b"}}}}})
                .find("variants[0].eval_of"),
            std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"variants", {{{"name", "a"}, {"evaluate", "b"}}}}})
                .find("variants[0].evaluate"),
            std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"jobs", 0}, {"variants", {{{"name", "a"}}}}}).find("\"jobs\""),
            std::string::npos);
  EXPECT_NE(error_of({{"base", base}, {"jobs", "two"}, {"variants", {{{"name", "a"}}}}}).find("\"jobs\""),
            std::string::npos);
}

TEST(AblationPlan, PlanSetReachesEveryVariant) {
  const json base = {{"data", {{"train_json", "x.json"}}}, {"criterion", {{"tau", 1.0}}}};
  const AblationPlan plan = load_ablation_plan(
      write_plan("plan_set",
                 {{"base", base},
                  {"set", {{"run", {{"init_from", "runs/warmup"}}}, {"criterion", {{"coord_weight", 0.25}}}}},
                  {"variants", {{{"name", "a"}}, {{"name", "b"}, {"eval_of", "a"}}}}}));
  EXPECT_EQ(plan.base["run"]["init_from"], "runs/warmup");
  EXPECT_EQ(plan.base["criterion"]["coord_weight"], 0.25);
  EXPECT_EQ(plan.base["criterion"]["tau"], 1.0);
  EXPECT_EQ(plan.variants[1].eval_of, "a");
}

TEST(AblationReport, FiguresARunDoesNotHaveAreDashes) {
  AblationPlan plan;
  plan.out_dir = (testing::test_root() / "ablate_dash").string();
  plan.variants = {{"a", json::object(), ""}};
  AblationRun r;
  r.variant = "a", r.ap = 0.25, r.ap_small = 0.125, r.novel_ap = -1;  // no extra split
  write_ablation_report(plan, {r});
  std::ifstream md(fs::path(plan.out_dir) / "ablation.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("| a | 0.250 | 0.000 | 0.000 | 0.125 | - |"), std::string::npos) << text;
  EXPECT_EQ(text.find("-1.000"), std::string::npos);
}

TEST(AblationReport, PairedDifferenceHasTheStudentTInterval) {
  // differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, t(0.975, 2) = 4.302653, half-width 4.302653 * 0.01 /
  // sqrt(3)
  const PairedDifference d = paired_difference({0.11, 0.22, 0.33}, {0.10, 0.20, 0.30});
  EXPECT_EQ(d.n, 3u);
  EXPECT_NEAR(d.mean, 0.02, 1e-15);
  EXPECT_NEAR(d.sd, 0.01, 1e-15);
  EXPECT_NEAR(d.hi - d.mean, 4.302652729911275 * 0.01 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(d.mean - d.lo, d.hi - d.mean, 1e-15);
  // five seeds: t(0.975, 4) = 2.776445
  const PairedDifference e = paired_difference({1, 2, 3, 4, 5}, {0, 0, 0, 0, 0});
  EXPECT_NEAR(e.hi - e.mean, 2.7764451051977987 * std::sqrt(2.5) / std::sqrt(5.0), 1e-12);
  const PairedDifference one = paired_difference({0.3}, {0.1});
  EXPECT_NEAR(one.mean, 0.2, 1e-15);
  EXPECT_TRUE(std::isnan(one.lo) && std::isnan(one.hi));
  EXPECT_THROW(paired_difference({1, 2}, {1}), std::invalid_argument);
}

TEST(AblationReport, PairsSeedsAgainstTheFirstVariantAndRescoringsAgainstTheirRun) {
  AblationPlan plan;
  plan.out_dir = (testing::test_root() / "ablate_paired").string();
  const json rescore = {{"generation", {{"score", "label_quality"}}}};
  plan.variants = {{"base", json::object(), ""},
                   {"base_q", rescore, "base"},
                   {"better", json::object(), ""},
                   {"better_q", rescore, "better"},
                   {"better_argmax", {{"generation", {{"coord_decode", "argmax"}}}}, "better"}};
  std::vector<AblationRun> runs;
  auto add = [&](const std::string& v, uint64_t seed, double ap) {
    AblationRun r;
    r.variant = v, r.seed = seed, r.ap = ap, r.novel_ap = -1;
    runs.push_back(r);
  };
  add("base", 0, 0.10), add("base", 1, 0.20), add("base", 2, 0.30);
  add("better", 0, 0.11), add("better", 1, 0.22), add("better", 2, 0.33),
      add("better", 3, 0.9);  // seed 3 unpaired
  add("better_q", 0, 0.12), add("better_q", 1, 0.23);
  add("base_q", 0, 0.15), add("base_q", 1, 0.15), add("base_q", 2, 0.15);
  add("better_argmax", 0, 0.05);
  write_ablation_report(plan, runs);
  std::ifstream md(fs::path(plan.out_dir) / "ablation.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  const double half = 4.302652729911275 * 0.01 / std::sqrt(3.0);
  char expected[128];
  std::snprintf(expected, sizeof expected, "| better - base | 3 | +0.020 [%.3f, %.3f] |", 0.02 - half,
                0.02 + half);
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  // the rescoring against the run it rescores: +0.010 on both seeds, sd 0, so the interval is a point
  EXPECT_NE(text.find("| better_q - better | 2 | +0.010 [0.010, 0.010] |"), std::string::npos) << text;
  EXPECT_EQ(text.find("| base - base"), std::string::npos);
  // the rescored variant against the baseline rescored the same way: -0.03 and +0.08, t(0.975, 1) = 12.7062
  const double sd = std::sqrt(2 * 0.055 * 0.055), half2 = 12.706204736174705 * sd / std::sqrt(2.0);
  std::snprintf(expected, sizeof expected, "| better_q - base_q | 2 | +0.025 [%.3f, %.3f] |", 0.025 - half2,
                0.025 + half2);
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  // no rescoring of the baseline with argmax decoding, so nothing to pair it with there
  EXPECT_NE(text.find("| better_argmax - better | 1 |"), std::string::npos) << text;
  EXPECT_EQ(text.find("| better_argmax - base"), std::string::npos) << text;
  EXPECT_EQ(text.find("| base_q - base_q"), std::string::npos) << text;
}

TEST(AblationPlan, SelectingVariantsKeepsTheirRescorings) {
  AblationPlan plan;
  const json q = {{"generation", {{"score", "label_quality"}}}};
  plan.variants = {{"a", json::object(), ""}, {"a_q", q, "a"},           {"b", json::object(), ""},
                   {"b_q", q, "b"},           {"c", json::object(), ""}, {"c_q", q, "c"}};
  AblationPlan cut = plan;
  select_ablation_variants(cut, {"c", "a"});
  std::vector<std::string> names;
  for (const auto& v : cut.variants) names.push_back(v.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "a_q", "c", "c_q"}));
  AblationPlan typo = plan;
  try {
    select_ablation_variants(typo, {"a", "d"});
    ADD_FAILURE() << "an unknown variant was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'d'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a, a_q, b"), std::string::npos) << e.what();
  }
  AblationPlan orphan = plan;
  EXPECT_THROW(select_ablation_variants(orphan, {"a", "b_q"}), InputError);
}

// Three steps on the tiny dataset, one thread (so that runs in child processes are bit-identical too).
json tiny_base() {
  const fs::path data = testing::test_data_dir();
  return {{"data",
           {{"train_json", (data / "train.json").string()},
            {"val_json", (data / "val.json").string()},
            {"extra_eval_json", (data / "novel.json").string()},
            {"num_bins", 32}}},
          {"model",
           {{"image_size", 32},
            {"patch_size", 16},
            {"vision_width", 16},
            {"vision_heads", 2},
            {"vision_layers", 1},
            {"width", 32},
            {"heads", 4},
            {"layers", 1},
            {"ffn_width", 48}}},
          {"optim", {{"steps", 3}, {"batch_size", 4}, {"warmup_steps", 1}}},
          {"generation", {{"max_new_tokens", 16}}},
          {"run", {{"threads", 1}, {"checkpoint_every", 100}}}};
}

json tiny_plan(const fs::path& out) {
  return {{"base", tiny_base()},
          {"out_dir", out.string()},
          {"seeds", {0}},
          {"variants",
           {{{"name", "ce_only"}, {"set", {{"criterion", {{"coord_weight", 0}}}}}},
            {{"name", "coordexp"}},
            {{"name", "coordexp_again"}, {"eval_of", "coordexp"}}}}};
}

std::string file_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(Ablation, RunsEveryVariantWritesTheReportAndReusesFinishedRuns) {
  const fs::path out = testing::test_root() / "ablate";
  fs::remove_all(out);
  const AblationPlan plan = load_ablation_plan(write_plan("plan", tiny_plan(out)));
  const auto runs = run_ablation(plan);
  ASSERT_EQ(runs.size(), 3u);
  // an eval_of variant evaluates the other run's weights: same config, same detections
  EXPECT_EQ(file_text(out / "coordexp" / "seed0" / "detections_val.json"),
            file_text(out / "coordexp_again" / "seed0" / "detections_val.json"));
  EXPECT_DOUBLE_EQ(runs[2].ap, runs[1].ap);
  std::ifstream again_cfg(out / "coordexp_again" / "seed0" / "config.json");
  const json again_doc = json::parse(again_cfg);
  EXPECT_EQ(again_doc["optim"]["steps"], 0);
  EXPECT_EQ(again_doc["run"]["init_from"], (out / "coordexp" / "seed0").string());
  for (const auto& r : runs) {
    EXPECT_GE(r.ap, 0.0);
    EXPECT_GE(r.novel_ap, 0.0);  // the extra split was evaluated
    EXPECT_GE(r.duplicate_rate, 0.0);
    EXPECT_LE(r.duplicate_rate, 1.0);
  }
  write_ablation_report(plan, runs);
  std::ifstream md(out / "ablation.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("| ce_only |"), std::string::npos);
  EXPECT_NE(text.find("| coordexp |"), std::string::npos);
  EXPECT_NE(text.find("AP50 any label"), std::string::npos);
  for (const auto& r : runs)
    EXPECT_GE(r.agnostic_ap50, 0.0);  // -1 would mean the pooled evaluation saw no GT
  EXPECT_TRUE(fs::exists(out / "ablation.png"));
  // the variant's override reached its run
  std::ifstream cfg(out / "ce_only" / "seed0" / "config.json");
  EXPECT_EQ(json::parse(cfg)["criterion"]["coord_weight"], 0.0);
  // finished runs are read back, not retrained
  const auto stamp = fs::last_write_time(out / "coordexp" / "seed0" / "checkpoint.pt");
  const auto again = run_ablation(plan);
  EXPECT_EQ(fs::last_write_time(out / "coordexp" / "seed0" / "checkpoint.pt"), stamp);
  EXPECT_DOUBLE_EQ(again[1].ap, runs[1].ap);
}

// Runs side by side in child processes (`coordexp train`) write the very files the in-process runs write,
// an eval_of run waits for the run it evaluates, and every run's output is in its train.log.
TEST(Ablation, JobsInChildProcessesMatchTheInProcessRuns) {
  const fs::path serial = testing::test_root() / "ablate_serial", side = testing::test_root() / "ablate_jobs";
  fs::remove_all(serial), fs::remove_all(side);
  const auto a = run_ablation(load_ablation_plan(write_plan("plan_serial", tiny_plan(serial))));
  json doc = tiny_plan(side);
  doc["jobs"] = 2;
  const AblationPlan plan = load_ablation_plan(write_plan("plan_jobs", doc));
  ASSERT_EQ(plan.jobs, 2);
  const auto b = run_ablation(plan, {COORDEXP_CLI, "train"});
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].variant, a[i].variant);
    const fs::path rel = fs::path(a[i].variant) / "seed0";
    EXPECT_EQ(file_text(side / rel / "detections_val.json"), file_text(serial / rel / "detections_val.json"))
        << a[i].variant;
    EXPECT_DOUBLE_EQ(b[i].ap, a[i].ap);
    EXPECT_NE(file_text(side / rel / "train.log").find("val: AP"), std::string::npos)
        << file_text(side / rel / "train.log");
  }
}

// A run that fails stops the ablation with an error naming its config and log; what depends on it never
// starts.
TEST(Ablation, AFailedRunInAChildProcessIsReportedWithItsLog) {
  const fs::path out = testing::test_root() / "ablate_fail";
  fs::remove_all(out);
  json doc = tiny_plan(out);
  doc["jobs"] = 2;
  doc["base"]["run"].erase("threads");  // the runs side by side share the cores out
  const AblationPlan plan = load_ablation_plan(write_plan("plan_fail", doc));
  try {
    run_ablation(plan, {"/bin/false"});
    ADD_FAILURE() << "a failing run was not reported";
  } catch (const InputError& e) {  // the command line reports it as an error (exit 2), not an internal one
    const std::string what = e.what();
    EXPECT_NE(what.find("variant_"), std::string::npos) << what;
    EXPECT_NE(what.find("exited with status 1"), std::string::npos) << what;
    EXPECT_NE(what.find("train.log"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(out / "coordexp_again" / "seed0" / "train.log"));
  std::ifstream variant(out / "ce_only" / "seed0" / "variant_ce_only.json");
  EXPECT_EQ(json::parse(variant)["run"]["threads"], std::max(1u, std::thread::hardware_concurrency() / 2));
  // jobs > 1 without a command to start is a programming error, not a silent serial run
  EXPECT_THROW(run_ablation(plan), std::invalid_argument);
}

}  // namespace
}  // namespace coordexp
