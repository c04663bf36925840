// What `coordexp eval` does inside the process, timed step by step, for the whole-process comparisons of
// bench/eval_vs_pycocotools.py (which times this program from outside):
//   bench_eval_process make-cases DIR [LVIS_GT]   writes the synthetic cases of synthetic_eval_cases.hpp
//   bench_eval_process eval GT DT [--lvis] [--threads N]
// `eval` loads both files, evaluates, accumulates and summarizes (COCO, or LVIS with --lvis) and prints one
// JSON line: the stats, each step's seconds, the MB/s of JSON loaded and the peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/lvis_eval.hpp"
#include "coordexp/eval/lvis_summary.hpp"
#include "synthetic_eval_cases.hpp"

namespace {

using namespace coordexp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int make_cases(const std::filesystem::path& dir, const char* lvis_gt) {
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const CocoDataset& gt, const std::vector<Detection>& dets) {
    save_coco_dataset(gt, (dir / (name + "_gt.json")).string());
    bench::write_results(dets, (dir / (name + "_dt.json")).string());
    std::cout << name << ": " << gt.images.size() << " images, " << gt.categories.size() << " categories, "
              << gt.annotations.size() << " boxes, " << dets.size() << " detections\n";
  };
  {
    auto [gt, dets] = bench::coco_val_sized_case();
    write("coco_val", gt, dets);
  }
  {
    auto [gt, dets] = bench::one_image_case();
    write("one_image", gt, dets);
  }
  {
    const CocoDataset gt = lvis_gt ? load_coco_dataset(lvis_gt) : bench::lvis_like_ground_truth();
    write("lvis", gt, bench::lvis_like_detections(gt));
  }
  {
    // 252 more per image: 1,358,114 detections, ~200 MB of JSON.
    auto [gt, dets] = bench::coco_val_sized_case(252);
    write("big", gt, dets);
  }
  return 0;
}

int evaluate(const std::string& gt_path, const std::string& dt_path, bool lvis, unsigned threads) {
  const auto t0 = Clock::now();
  const CocoDataset gt = load_coco_dataset(gt_path);
  const double load_gt = seconds_since(t0);
  const auto t1 = Clock::now();
  ResultsLoadOptions load;
  load.num_threads = threads;
  const DetectionResults dt = load_detection_results(dt_path, load);
  const double load_dt = seconds_since(t1);
  const double mb = double(std::filesystem::file_size(gt_path) + std::filesystem::file_size(dt_path)) / 1e6;
  nlohmann::ordered_json out;
  double construct = 0, eval = 0, acc = 0, summarize = 0;
  auto step = [](double& into, auto&& fn) {
    const auto t = Clock::now();
    fn();
    into = seconds_since(t);
  };
  if (lvis) {
    LvisEvalOptions options;
    options.num_threads = threads;
    std::optional<LvisEvaluator> ev;
    step(construct, [&] { ev.emplace(gt, dt, options); });
    step(eval, [&] { ev->evaluate(); });
    step(acc, [&] { ev->accumulate(); });
    step(summarize, [&] { out["stats"] = summarize_lvis(*ev, gt).stats; });
  } else {
    CocoEvalOptions options;
    options.num_threads = threads;
    std::optional<CocoEvaluator> ev;
    step(construct, [&] { ev.emplace(gt, dt, options); });
    step(eval, [&] { ev->evaluate(); });
    step(acc, [&] { ev->accumulate(); });
    step(summarize, [&] { out["stats"] = summarize_coco(*ev, gt).stats; });
  }
  out["seconds"] = {{"load_gt", load_gt},        {"load_dt", load_dt}, {"index", construct},
                    {"evaluate", eval},          {"accumulate", acc},  {"summarize", summarize},
                    {"total", seconds_since(t0)}};
  out["json_mb"] = mb;
  out["load_mb_per_s"] = mb / (load_gt + load_dt);
  out["detections"] = dt.detections.size();
  out["peak_rss_mb"] = peak_rss_mb();
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::strcmp(argv[1], "make-cases") == 0)
      return make_cases(argv[2], argc > 3 ? argv[3] : nullptr);
    if (argc >= 4 && std::strcmp(argv[1], "eval") == 0) {
      bool lvis = false;
      unsigned threads = 0;
      for (int i = 4; i < argc; ++i) {
        if (std::strcmp(argv[i], "--lvis") == 0)
          lvis = true;
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
          threads = unsigned(std::stoul(argv[++i]));
        else
          throw std::runtime_error(std::string("unknown argument ") + argv[i]);
      }
      return evaluate(argv[2], argv[3], lvis, threads);
    }
    std::cerr << "usage: bench_eval_process make-cases DIR [LVIS_GT]\n"
                 "       bench_eval_process eval GT DT [--lvis] [--threads N]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
