// COCO bbox evaluation at COCO-val size: 5,000 images, 34,490 GT boxes, 80 categories, 98,114 detections
// (synthetic_eval_cases.hpp). Times loading, evaluate+accumulate (1 and all threads), the whole run, and, as
// a same-run baseline, the numpy reference (tests/eval/ref/cocoeval_ref.py). Whole-process comparisons with
// pycocotools: bench/eval_vs_pycocotools.py.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "synthetic_eval_cases.hpp"

namespace {

using namespace coordexp;

struct SyntheticCase {
  std::string gt_path, dt_path;
  size_t num_gt = 0, num_dt = 0;
};

const SyntheticCase& coco_val_sized_case() {
  static const SyntheticCase c = [] {
    auto [gt, dets] = bench::coco_val_sized_case();
    const auto dir = std::filesystem::temp_directory_path() / "coordexp_bench_coco_eval";
    std::filesystem::create_directories(dir);
    SyntheticCase out{(dir / "gt.json").string(), (dir / "dt.json").string(), gt.annotations.size(),
                      dets.size()};
    save_coco_dataset(gt, out.gt_path);
    bench::write_results(dets, out.dt_path);
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
}
BENCHMARK(BM_WholeRun)->UseRealTime()->Unit(benchmark::kMillisecond);

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
