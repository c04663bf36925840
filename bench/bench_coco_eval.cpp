// COCO bbox evaluation at COCO-val size: 5,000 images, ~36,000 GT boxes, 80 categories, ~100,000
// detections (synthetic, deterministic). Times loading, evaluate+accumulate (1 and all threads), the
// whole run, and, as a same-run baseline, the numpy reference (tests/eval/ref/cocoeval_ref.py).
// pycocotools needs about 13.5 s for this size on the project's 2-core machine.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"

namespace {

using namespace coordexp;

struct SyntheticCase {
  std::string gt_path, dt_path;
  size_t num_gt = 0, num_dt = 0;
};

const SyntheticCase& coco_val_sized_case() {
  static const SyntheticCase c = [] {
    std::mt19937_64 rng(12345);
    auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
    auto integer = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
    CocoDataset gt;
    std::vector<Detection> dets;
    for (int k = 1; k <= 90; ++k)
      if (k % 9 != 0 || k > 90 - 10) gt.categories.push_back({k, "category" + std::to_string(k), "", {}});
    gt.categories.resize(80);
    int64_t ann_id = 1;
    for (int i = 0; i < 5000; ++i) {
      const int64_t image_id = 100000 + int64_t(i) * 7;
      gt.images.push_back({image_id, std::to_string(image_id) + ".jpg", 640, 480, {}, {}, ""});
      const int n_gt = integer(0, 14);  // mean 7: ~35,000 boxes
      for (int g = 0; g < n_gt; ++g) {
        const int64_t cat = gt.categories[size_t(integer(0, 79))].id;
        const double w = std::exp(uniform(std::log(4.0), std::log(400.0)));
        const double h = std::exp(uniform(std::log(4.0), std::log(400.0)));
        const BoxXYWH b{uniform(0, 640 - std::min(w, 639.0)), uniform(0, 480 - std::min(h, 479.0)), w, h};
        const bool crowd = uniform(0, 1) < 0.01;
        gt.annotations.push_back({ann_id++, image_id, cat, b, w * h * uniform(0.55, 0.95), true, crowd, ""});
        for (int c = 0; c < (uniform(0, 1) < 0.4 ? 2 : 1); ++c) {  // ~1.4 detections near each GT
          const double j = uniform(0, 0.25);
          dets.push_back({image_id,
                          cat,
                          true,
                          {b.x + uniform(-j, j) * w, b.y + uniform(-j, j) * h, w * (1 + uniform(-j, j)),
                           h * (1 + uniform(-j, j))},
                          uniform(0, 1),
                          "",
                          0});
        }
      }
      for (int f = 0; f < 10; ++f) {  // background false positives: ~50,000
        const double w = std::exp(uniform(std::log(4.0), std::log(300.0)));
        const double h = std::exp(uniform(std::log(4.0), std::log(300.0)));
        dets.push_back({image_id,
                        gt.categories[size_t(integer(0, 79))].id,
                        true,
                        {uniform(0, 600), uniform(0, 440), w, h},
                        uniform(0, 0.6),
                        "",
                        0});
      }
    }
    std::shuffle(dets.begin(), dets.end(), rng);
    const auto dir = std::filesystem::temp_directory_path() / "coordexp_bench_coco_eval";
    std::filesystem::create_directories(dir);
    SyntheticCase out{(dir / "gt.json").string(), (dir / "dt.json").string(), gt.annotations.size(),
                      dets.size()};
    save_coco_dataset(gt, out.gt_path);
    save_detection_results(dets, out.dt_path);
    return out;
  }();
  return c;
}

void set_counters(benchmark::State& state) {
  const auto& c = coco_val_sized_case();
  state.counters["gt_boxes"] = double(c.num_gt);
  state.counters["detections"] = double(c.num_dt);
}

void BM_LoadGroundTruthAndResults(benchmark::State& state) {
  const auto& c = coco_val_sized_case();
  for (auto _ : state) {
    auto gt = load_coco_dataset(c.gt_path);
    auto dt = load_detection_results(c.dt_path);
    benchmark::DoNotOptimize(gt.annotations.data());
    benchmark::DoNotOptimize(dt.detections.data());
  }
  set_counters(state);
}
BENCHMARK(BM_LoadGroundTruthAndResults)->Unit(benchmark::kMillisecond);

void BM_EvaluateAccumulate(benchmark::State& state) {
  const auto& c = coco_val_sized_case();
  const auto gt = load_coco_dataset(c.gt_path);
  const auto dt = load_detection_results(c.dt_path);
  CocoEvalOptions options;
  options.num_threads = unsigned(state.range(0));
  for (auto _ : state) {
    CocoEvaluator ev(gt, dt, options);
    ev.evaluate();
    ev.accumulate();
    benchmark::DoNotOptimize(ev.accumulation().precision.data());
  }
  set_counters(state);
}
BENCHMARK(BM_EvaluateAccumulate)->Arg(1)->Arg(0)->ArgName("threads")->Unit(benchmark::kMillisecond);

// What `coordexp eval` does: load both files, index, evaluate, accumulate, summarize.
void BM_WholeRun(benchmark::State& state) {
  const auto& c = coco_val_sized_case();
  double ap = 0;
  for (auto _ : state) {
    const auto gt = load_coco_dataset(c.gt_path);
    const auto dt = load_detection_results(c.dt_path);
    CocoEvaluator ev(gt, dt);
    ev.accumulate();
    ap = summarize_coco(ev, gt).stats[0];
  }
  set_counters(state);
  state.counters["AP"] = ap;
  state.counters["speedup_vs_pycocotools_13.5s"] =
      benchmark::Counter(13.5 * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WholeRun)->UseRealTime()->Unit(benchmark::kMillisecond);  // the rate counter uses wall time

// The numpy reference on the same files, once (slow: it loops in Python like pycocotools).
void BM_NumpyReference(benchmark::State& state) {
  const auto& c = coco_val_sized_case();
  // bench/ has no source-dir definition; CMake compiles this file by absolute path, so __FILE__ finds the
  // repo.
  const char* env_root = std::getenv("COORDEXP_SOURCE_DIR");
  const auto root = env_root ? std::filesystem::path(env_root)
                             : std::filesystem::path(__FILE__).parent_path().parent_path();
  const std::string cmd = "/usr/bin/python3 " + (root / "tests/eval/ref/cocoeval_ref.py").string() +
                          " --time " + c.gt_path + " " + c.dt_path;
  for (auto _ : state) {
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    char buf[65536];
    size_t n;
    while (pipe && (n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    if (!pipe || pclose(pipe) != 0) {
      state.SkipWithError("numpy reference did not run");
      return;
    }
    const auto j = nlohmann::json::parse(out);
    state.SetIterationTime(j["seconds"]["total"].get<double>());
    state.counters["ref_load_s"] = j["seconds"]["load"].get<double>();
    state.counters["ref_eval_accumulate_s"] = j["seconds"]["evaluate_accumulate"].get<double>();
    state.counters["AP"] = j["stats"][0].get<double>();
  }
}
BENCHMARK(BM_NumpyReference)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
