// Ablation plans, runs and their report (see ablation.hpp).
#include "coordexp/train/ablation.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/detection_f1.hpp"
#include "coordexp/eval/duplicates.hpp"
#include "coordexp/eval/label_accuracy.hpp"
#include "coordexp/report/bar_chart.hpp"
#include "coordexp/train/trainer.hpp"
#include "coordexp/util/child_process.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"
#include "coordexp/util/progress.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path run_dir(const AblationPlan& plan, const std::string& variant, uint64_t seed) {
  return fs::path(plan.out_dir) / variant / ("seed" + std::to_string(seed));
}

// The last numeric value of `key` in a run's metrics.jsonl (null when no line has one yet).
json last_logged(const fs::path& dir, const std::string& key) {
  std::ifstream metrics(dir / "metrics.jsonl");
  json last;
  for (std::string line; std::getline(metrics, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains(key) && j[key].is_number()) last = j[key];
  }
  return last;
}

// The run's figures from the files the trainer wrote.
AblationRun read_run(const fs::path& dir, const TrainConfig& cfg, const std::string& variant, uint64_t seed) {
  AblationRun r;
  r.variant = variant;
  r.seed = seed;
  if (const json t = last_logged(dir, "elapsed_s"); t.is_number()) r.train_seconds = t.get<double>();
  const json val = read_json_file((dir / "eval_val.json").string(), "the run's evaluation");
  const auto& s = val.at("stats");
  r.ap = s.at(0), r.ap50 = s.at(1), r.ap75 = s.at(2), r.ap_small = s.at(3);
  const double images = std::max(1.0, val.at("images").get<double>());
  const double detections = val.at("detections").get<double>();
  const double dropped = val.at("labels").at("dropped").get<double>();
  r.invalid_rate =
      val.at("unterminated").get<double>() / images + dropped / std::max(1.0, detections + dropped);
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("eval_", 0) == 0 && name != "eval_val.json")
      r.novel_ap = read_json_file(e.path().string(), "the run's evaluation").at("stats").at(0);
  }
  const CocoDataset gt = load_coco_dataset(cfg.data.val_json);
  const DetectionResults dt = load_detection_results((dir / "detections_val.json").string());
  // the trainer evaluates every val image, so the F1 denominators are the whole split's; F1 and recall
  // count the labels the model wrote (label alternatives would be false positives by design)
  const DetectionResults written = written_labels_only(dt);
  DetectionF1Options f1;
  f1.iou_thresholds = {0.5};
  const F1AtThreshold aware = evaluate_detection_f1(gt, written, f1).at(0);
  r.f1_50 = aware.f1;
  r.recall_50 = aware.recall;
  f1.class_aware = false;
  r.agnostic_recall_50 = evaluate_detection_f1(gt, written, f1).at(0).recall;
  r.duplicate_rate = duplicate_rate(dt.detections, 0.8);
  const CocoSummary agnostic_summary = summarize_coco_class_agnostic(gt, dt);
  r.agnostic_ap = agnostic_summary.stats[0], r.agnostic_ap50 = agnostic_summary.stats[1];
  r.label_right = evaluate_label_accuracy(gt, dt).label_accuracy();
  return r;
}

struct Spread {
  double mean = 0, sd = 0;
};
Spread spread(const std::vector<double>& v) {
  Spread s;
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

}  // namespace

json merge_config(json base, const json& set) {
  if (!base.is_object() || !set.is_object()) return set;
  for (const auto& [key, value] : set.items())
    base[key] = base.contains(key) ? merge_config(base[key], value) : value;
  return base;
}

AblationPlan load_ablation_plan(const std::string& path) {
  const json doc = read_json_file(path, "a readable ablation plan");
  auto field = [&](const std::string& key) { return path + ": field \"" + key + "\""; };
  if (!doc.is_object()) throw_input_error(path, "a JSON object", doc.type_name());
  for (const auto& [key, value] : doc.items())
    if (key != "about" && key != "base" && key != "out_dir" && key != "seeds" && key != "steps" &&
        key != "set" && key != "variants" && key != "jobs")
      throw_input_error(field(key), "one of about, base, out_dir, seeds, steps, set, variants, jobs",
                        "an unknown key");
  if (doc.contains("about") && !doc["about"].is_string())
    throw_input_error(field("about"), "a string saying what the plan is for", doc["about"].type_name());
  AblationPlan plan;
  if (!doc.contains("base")) throw_input_error(field("base"), "a training config path or object", "nothing");
  const json& base = doc["base"];
  if (base.is_string())
    plan.base = read_json_file(base.get<std::string>(), "a readable training config");
  else if (base.is_object())
    plan.base = base;
  else
    throw_input_error(field("base"), "a training config path or object", base.type_name());
  if (doc.contains("set")) {
    if (!doc["set"].is_object())
      throw_input_error(field("set"), "an object of config overrides", doc["set"].dump());
    plan.base = merge_config(plan.base, doc["set"]);
  }
  if (doc.contains("out_dir")) {
    if (!doc["out_dir"].is_string()) throw_input_error(field("out_dir"), "a folder", doc["out_dir"].dump());
    plan.out_dir = doc["out_dir"];
  }
  if (doc.contains("seeds")) {
    plan.seeds.clear();
    if (!doc["seeds"].is_array() || doc["seeds"].empty())
      throw_input_error(field("seeds"), "a non-empty array of seeds", doc["seeds"].dump());
    for (const auto& s : doc["seeds"]) {
      if (!s.is_number_unsigned()) throw_input_error(field("seeds"), "non-negative integers", s.dump());
      plan.seeds.push_back(s.get<uint64_t>());
    }
  }
  if (doc.contains("steps")) {
    if (!doc["steps"].is_number_integer() || doc["steps"].get<int64_t>() <= 0)
      throw_input_error(field("steps"), "a positive integer", doc["steps"].dump());
    plan.steps = doc["steps"];
  }
  if (doc.contains("jobs")) {
    if (!doc["jobs"].is_number_integer() || doc["jobs"].get<int64_t>() < 1 || doc["jobs"].get<int64_t>() > 64)
      throw_input_error(field("jobs"), "an integer in 1..64 (runs trained at once)", doc["jobs"].dump());
    plan.jobs = doc["jobs"];
  }
  if (!doc.contains("variants") || !doc["variants"].is_array() || doc["variants"].empty())
    throw_input_error(field("variants"), "a non-empty array of {name, set}",
                      doc.contains("variants") ? doc["variants"].dump() : "nothing");
  for (size_t i = 0; i < doc["variants"].size(); ++i) {
    const json& v = doc["variants"][i];
    const std::string at = "variants[" + std::to_string(i) + "]";
    if (!v.is_object() || !v.contains("name") || !v["name"].is_string() ||
        v["name"].get<std::string>().empty() ||
        v["name"].get<std::string>().find_first_of("/\\. ") != std::string::npos)
      throw_input_error(field(at + ".name"), "a folder-safe name (no '/', '.', spaces)", v.dump());
    const json set = v.contains("set") ? v["set"] : json::object();
    if (!set.is_object()) throw_input_error(field(at + ".set"), "an object of config overrides", set.dump());
    for (const auto& [key, value] : v.items())
      if (key != "name" && key != "set" && key != "eval_of")
        throw_input_error(field(at + "." + key), "one of name, set, eval_of", "an unknown key");
    for (const auto& other : plan.variants)
      if (other.name == v["name"]) throw_input_error(field(at + ".name"), "a name used once", other.name);
    std::string eval_of;
    if (v.contains("eval_of")) {
      const json& e = v["eval_of"];
      const bool earlier = e.is_string() && std::any_of(plan.variants.begin(), plan.variants.end(),
                                                        [&](const auto& o) { return o.name == e; });
      if (!earlier) throw_input_error(field(at + ".eval_of"), "the name of an earlier variant", e.dump());
      eval_of = e;
    }
    plan.variants.push_back({v["name"], set, eval_of});
  }
  return plan;
}

namespace {

// One variant x seed with its config written and checked.
struct PlannedRun {
  const AblationVariant* variant = nullptr;
  uint64_t seed = 0;
  fs::path dir, cfg_path;
  TrainConfig cfg;
  int depends_on = -1;  // index of the run an eval_of variant evaluates
  bool finished = false;
};

std::string run_name(const PlannedRun& r) {
  return r.variant->name + " seed " + std::to_string(r.seed);
}

// Every run's config is written and checked before anything trains, so a bad variant fails in seconds, not
// after the hours of the variants before it.
std::vector<PlannedRun> plan_runs(const AblationPlan& plan) {
  std::vector<PlannedRun> runs;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const auto& v : plan.variants)
    for (uint64_t seed : plan.seeds) {
      PlannedRun r;
      r.variant = &v;
      r.seed = seed;
      r.dir = run_dir(plan, v.name, seed);
      fs::create_directories(r.dir);
      json doc = plan.base;
      if (plan.steps > 0) doc["optim"]["steps"] = plan.steps;  // a variant's own optim.steps wins
      // runs side by side share the cores (on 2 cores, two one-thread runs train ~1.4x the steps of one)
      if (plan.jobs > 1) {
        json& run = doc["run"];
        if (run.is_null()) run = json::object();
        if (run.is_object() && (!run.contains("threads") || run["threads"] == 0))
          run["threads"] = std::max(1, cores / plan.jobs);
      }
      if (!v.eval_of
               .empty()) {  // the other variant's trained weights (same seed), evaluated with this config
        doc["run"]["init_from"] = run_dir(plan, v.eval_of, seed).string();
        doc["optim"]["steps"] = 0;
        doc["vision_warmup"]["steps"] = 0;
        for (size_t i = 0; i < runs.size(); ++i)
          if (runs[i].variant->name == v.eval_of && runs[i].seed == seed) r.depends_on = static_cast<int>(i);
      }
      doc = merge_config(doc, v.set);
      doc["run"]["out_dir"] = r.dir.string();
      doc["run"]["seed"] = seed;
      r.cfg_path = r.dir / ("variant_" + v.name + ".json");
      std::ofstream(r.cfg_path) << doc.dump(2) << "\n";
      r.cfg = load_train_config(r.cfg_path.string());  // errors name the variant's file
      if (r.cfg.data.val_json.empty())
        throw_input_error(r.cfg_path.string() + ": field \"data.val_json\"",
                          "a validation split to compare on", "nothing");
      r.finished = fs::exists(r.dir / "eval_val.json");
      runs.push_back(std::move(r));
    }
  return runs;
}

// The last logged step of a run in progress (0 before its first log line).
int64_t logged_step(const fs::path& dir) {
  const json step = last_logged(dir, "step");
  return step.is_number_integer() ? step.get<int64_t>() : 0;
}

// Up to plan.jobs runs at once, each `train_command --config <variant config> --resume` in its own process
// with its output in <run>/train.log; an eval_of run starts once the run it evaluates has finished. A failed
// run stops new starts, lets the running ones finish, and is reported with its log.
void train_in_processes(std::vector<PlannedRun>& runs, int jobs,
                        const std::vector<std::string>& train_command) {
  // steps still to train (an interrupted run resumes from its last checkpoint: its logged steps are done)
  std::vector<int64_t> resumed_at(runs.size(), 0);
  int64_t total_steps = 0, finished_steps = 0;
  for (size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].finished) {
      resumed_at[i] = std::min(logged_step(runs[i].dir), runs[i].cfg.optim.steps);
      total_steps += runs[i].cfg.optim.steps - resumed_at[i];
    }
  ProgressBar bar("ablate steps", total_steps, 0, 1);
  const auto t0 = std::chrono::steady_clock::now();
  std::map<pid_t, size_t> running;
  std::map<size_t, std::chrono::steady_clock::time_point> started;
  std::string failure;
  size_t done = std::count_if(runs.begin(), runs.end(), [](const auto& r) { return r.finished; });
  auto last_update = t0 - std::chrono::hours(1);
  for (;;) {
    for (size_t i = 0; i < runs.size() && failure.empty() && running.size() < static_cast<size_t>(jobs);
         ++i) {
      PlannedRun& r = runs[i];
      if (r.finished || started.count(i) || (r.depends_on >= 0 && !runs[r.depends_on].finished)) continue;
      std::vector<std::string> argv = train_command;
      argv.insert(argv.end(), {"--config", r.cfg_path.string(), "--resume"});
      const fs::path log = r.dir / "train.log";
      running[start_logged_process(argv, log.string())] = i;
      started[i] = std::chrono::steady_clock::now();
      bar.note("ablate: started " + run_name(r) + " (log " + log.string() + ")");
      last_update = t0 - std::chrono::hours(1);
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR)
      throw std::runtime_error(std::string("waiting for ablation runs: ") + std::strerror(errno));
    if (pid > 0 && running.count(pid)) {
      const size_t i = running.at(pid);
      running.erase(pid);
      PlannedRun& r = runs[i];
      const double took =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started.at(i)).count();
      if (exited_cleanly(status) && fs::exists(r.dir / "eval_val.json")) {
        r.finished = true;
        finished_steps += r.cfg.optim.steps - resumed_at[i];
        bar.note("ablate: finished " + run_name(r) + " in " + format_duration(took) + " (" +
                 std::to_string(++done) + "/" + std::to_string(runs.size()) + " runs)");
      } else {
        const std::string why =
            exited_cleanly(status) ? "ended without writing eval_val.json" : describe_exit_status(status);
        failure =
            r.cfg_path.string() + ": the run " + why + "; its output is in " + (r.dir / "train.log").string();
        bar.note("ablate: " + run_name(r) + " failed: " + failure +
                 (running.empty() ? "" : "; waiting for the running ones, no new starts"));
      }
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_update >= std::chrono::seconds(30)) {
      int64_t steps = finished_steps;
      std::string terms = std::to_string(done) + "/" + std::to_string(runs.size()) + " runs, " +
                          format_duration(std::chrono::duration<double>(now - t0).count()) + "; running";
      for (const auto& [p, i] : running) {
        const int64_t s = logged_step(runs[i].dir);
        steps += std::max<int64_t>(0, s - resumed_at[i]);
        terms += " " + runs[i].variant->name + "/" + std::to_string(runs[i].seed) + "@" + std::to_string(s);
      }
      bar.update(std::min(steps, total_steps), terms);
      last_update = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!failure.empty())
    throw InputError("ablation stopped: " + failure + " (running the same command again resumes the study)");
}

}  // namespace

std::vector<AblationRun> finished_ablation_runs(const AblationPlan& plan) {
  std::vector<AblationRun> runs;
  for (const auto& r : plan_runs(plan))
    if (r.finished) runs.push_back(read_run(r.dir, r.cfg, r.variant->name, r.seed));
  return runs;
}

PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("paired_difference: " + std::to_string(a.size()) + " values against " +
                                std::to_string(b.size()));
  std::vector<double> d;
  for (size_t i = 0; i < a.size(); ++i) d.push_back(a[i] - b[i]);
  const Spread s = spread(d);
  PairedDifference p;
  p.n = d.size(), p.mean = s.mean, p.sd = s.sd;
  if (p.n < 2) {
    p.lo = p.hi = std::numeric_limits<double>::quiet_NaN();
  } else {
    const boost::math::students_t t(static_cast<double>(p.n - 1));
    const double half =
        boost::math::quantile(boost::math::complement(t, 0.025)) * s.sd / std::sqrt(static_cast<double>(p.n));
    p.lo = s.mean - half, p.hi = s.mean + half;
  }
  return p;
}

std::vector<AblationRun> run_ablation(const AblationPlan& plan,
                                      const std::vector<std::string>& train_command) {
  std::vector<PlannedRun> planned = plan_runs(plan);
  for (size_t k = 0; k < planned.size(); ++k)
    if (planned[k].finished)
      std::cerr << "ablate [" << k + 1 << "/" << planned.size() << "] " << run_name(planned[k])
                << ": reusing " << planned[k].dir.string() << "\n";
  if (plan.jobs > 1) {
    if (train_command.empty())
      throw std::invalid_argument("run_ablation: jobs > 1 needs the command that trains one config");
    train_in_processes(planned, plan.jobs, train_command);
  } else {
    for (size_t k = 0; k < planned.size(); ++k) {
      if (planned[k].finished) continue;
      std::cerr << "ablate [" << k + 1 << "/" << planned.size() << "] " << run_name(planned[k]) << "\n";
      TrainOptions o;
      o.resume = true;  // an interrupted run continues from its checkpoint
      train(planned[k].cfg, o);
    }
  }
  std::vector<AblationRun> runs;
  for (const auto& r : planned) runs.push_back(read_run(r.dir, r.cfg, r.variant->name, r.seed));
  return runs;
}

void select_ablation_variants(AblationPlan& plan, const std::vector<std::string>& names) {
  std::set<std::string> known, wanted(names.begin(), names.end()), kept;
  for (const auto& v : plan.variants) known.insert(v.name);
  for (const auto& n : names)
    if (!known.count(n)) {
      std::string list;
      for (const auto& v : plan.variants) list += (list.empty() ? "" : ", ") + v.name;
      throw_input_error("variants: '" + n + "'", "a variant of the plan (" + list + ")", "no such variant");
    }
  std::vector<AblationVariant> out;
  for (const auto& v : plan.variants) {
    const bool rescores_a_kept_run = !v.eval_of.empty() && kept.count(v.eval_of);
    if (wanted.count(v.name) && !v.eval_of.empty() && !rescores_a_kept_run)
      throw_input_error("variants: '" + v.name + "'", "a variant whose run is kept",
                        "it evaluates '" + v.eval_of + "', which is not kept", "add " + v.eval_of);
    if (wanted.count(v.name) || rescores_a_kept_run) {
      kept.insert(v.name);
      out.push_back(v);
    }
  }
  plan.variants = std::move(out);
}

namespace {

// Paired differences over the seeds both variants have: every trained variant against the plan's first
// trained variant, every eval_of variant against the variant whose detections it rescores, and an eval_of
// variant of another run against the same rescoring (same overrides) of the first variant, so a variant and
// the baseline are also compared under that score.
std::vector<std::pair<std::string, std::string>> paired_comparisons(const AblationPlan& plan) {
  std::string baseline;
  for (const auto& v : plan.variants)
    if (v.eval_of.empty()) {
      baseline = v.name;
      break;
    }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& v : plan.variants) {
    const std::string& other = v.eval_of.empty() ? baseline : v.eval_of;
    if (v.name != other) out.push_back({v.name, other});
    if (v.eval_of.empty() || v.eval_of == baseline) continue;
    for (const auto& w : plan.variants)
      if (w.eval_of == baseline && w.set == v.set) {
        out.push_back({v.name, w.name});
        break;
      }
  }
  return out;
}

// A report column: its heading and the run's field.
using Metric = std::pair<const char*, double AblationRun::*>;

void write_paired_differences(std::ostringstream& md, const AblationPlan& plan,
                              const std::map<std::string, std::vector<const AblationRun*>>& by_variant) {
  const std::vector<Metric> metrics = {{"AP", &AblationRun::ap},
                                       {"AP50", &AblationRun::ap50},
                                       {"AP75", &AblationRun::ap75},
                                       {"AP any label", &AblationRun::agnostic_ap},
                                       {"duplicates", &AblationRun::duplicate_rate}};
  std::ostringstream rows;
  rows << std::fixed << std::setprecision(3);
  for (const auto& [first, second] : paired_comparisons(plan)) {
    if (!by_variant.count(first) || !by_variant.count(second)) continue;
    std::vector<std::pair<const AblationRun*, const AblationRun*>> pairs;  // same seed
    for (const auto* a : by_variant.at(first))
      for (const auto* b : by_variant.at(second))
        if (a->seed == b->seed) pairs.push_back({a, b});
    if (pairs.empty()) continue;
    rows << "| " << first << " - " << second << " | " << pairs.size() << " |";
    for (const auto& [name, m] : metrics) {
      std::vector<double> a, b;
      for (const auto& [ra, rb] : pairs) a.push_back(ra->*m), b.push_back(rb->*m);
      const PairedDifference d = paired_difference(a, b);
      rows << " " << std::showpos << d.mean << std::noshowpos;
      if (d.n > 1) rows << " [" << d.lo << ", " << d.hi << "]";
      rows << " |";
    }
    rows << "\n";
  }
  if (rows.str().empty()) return;
  md << "\n## Paired differences\n\nPer seed, the first variant minus the second (the plan's first trained "
        "variant, or for an evaluation-only variant the run whose weights it evaluates: the same model, "
        "scored differently; or the first variant's evaluation with the same overrides: both models under "
        "that score); mean over the seeds both have, with the two-sided 95% Student t interval of "
        "the mean in brackets (an interval that excludes 0 is a difference beyond the seed spread).\n\n"
        "| difference | seeds |";
  for (const auto& [name, m] : metrics) md << " " << name << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < metrics.size(); ++i) md << "---|";
  md << "\n" << rows.str();
}

}  // namespace

void write_ablation_report(const AblationPlan& plan, const std::vector<AblationRun>& runs) {
  const fs::path out(plan.out_dir);
  fs::create_directories(out);
  std::map<std::string, std::vector<const AblationRun*>> by_variant;
  for (const auto& r : runs) by_variant[r.variant].push_back(&r);
  const std::vector<Metric> metrics = {{"AP", &AblationRun::ap},
                                       {"AP50", &AblationRun::ap50},
                                       {"AP75", &AblationRun::ap75},
                                       {"AP small", &AblationRun::ap_small},
                                       {"AP novel", &AblationRun::novel_ap},
                                       {"F1@0.5", &AblationRun::f1_50},
                                       {"recall@0.5", &AblationRun::recall_50},
                                       {"recall@0.5 any label", &AblationRun::agnostic_recall_50},
                                       {"AP any label", &AblationRun::agnostic_ap},
                                       {"AP50 any label", &AblationRun::agnostic_ap50},
                                       {"label right", &AblationRun::label_right},
                                       {"duplicates", &AblationRun::duplicate_rate},
                                       {"invalid", &AblationRun::invalid_rate}};
  std::ostringstream md;
  md << std::fixed << std::setprecision(3);
  md << "# coordexp ablation\n\n"
     << plan.variants.size() << " variants x " << plan.seeds.size()
     << " seeds, same data, step budget and evaluation (val; novel = the extra split). Values are the mean "
     << "over seeds +- the sample standard deviation. Duplicates: share of detections with IoU > 0.8 to "
     << "another of the same image and description; invalid: generations that hit the length limit per "
     << "image plus dropped labels per detection; recall any label: ground truth covered at IoU 0.5 by a "
     << "detection of any description; AP any label: COCO AP with every category pooled (pycocotools' "
        "useCats = 0), "
     << "the boxes' quality whatever their descriptions; label right: share of the detections at IoU >= 0.5 "
        "with a "
     << "ground-truth box (any category) that carry its category. AP, AP50, AP75, AP small and AP novel "
        "count "
     << "every detection, label alternatives (generation.label_alternatives) included; the other columns the "
     << "labels the model wrote.\n\n| variant |";
  for (const auto& [name, m] : metrics) md << " " << name << " |";
  md << "\n|---|";
  for (size_t i = 0; i < metrics.size(); ++i) md << "---|";
  md << "\n";
  std::vector<std::string> groups;
  std::vector<BarSeries> series = {{"AP", {}, {}}, {"AP50", {}, {}}, {"AP75", {}, {}}};
  for (const auto& v : plan.variants) {
    const auto it = by_variant.find(v.name);
    if (it == by_variant.end()) continue;
    groups.push_back(v.name);
    md << "| " << v.name << " |";
    for (size_t i = 0; i < metrics.size(); ++i) {
      std::vector<double> values;
      for (const auto* r : it->second) values.push_back(r->*(metrics[i].second));
      const Spread s = spread(values);
      // -1 marks a figure a run does not have (no extra split, no small objects)
      if (std::all_of(values.begin(), values.end(), [](double x) { return x < 0; })) {
        md << " - |";
      } else {
        md << " " << s.mean;
        if (values.size() > 1) md << " +- " << s.sd;
        md << " |";
      }
      if (i < 3) {
        series[i].values.push_back(s.mean);
        series[i].errors.push_back(s.sd);
      }
    }
    md << "\n";
  }
  write_paired_differences(md, plan, by_variant);
  md << "\n![AP per variant](ablation.png)\n\n## Every run\n\n| variant | seed | AP | AP50 | AP75 | AP novel "
        "| F1@0.5 "
        "| duplicates | invalid | train s |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    md << "| " << r.variant << " | " << r.seed << " | " << r.ap << " | " << r.ap50 << " | " << r.ap75
       << " | ";
    if (r.novel_ap < 0)
      md << "-";
    else
      md << r.novel_ap;
    md << " | " << r.f1_50 << " | " << r.duplicate_rate << " | " << r.invalid_rate << " | "
       << std::setprecision(0) << r.train_seconds << std::setprecision(3) << " |\n";
  }
  std::ofstream(out / "ablation.md") << md.str();
  BarChartConfig bc;
  bc.plot.width = std::max(800, 140 * static_cast<int>(groups.size()));
  bc.plot.title = "AP on val per variant (mean over seeds, error bar = sd)";
  bc.plot.y_label = "AP";
  save_png(render_bar_chart(groups, series, bc), (out / "ablation.png").string());
}

}  // namespace coordexp
