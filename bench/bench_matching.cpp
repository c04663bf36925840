// linear_sum_assignment on dense matrices, 10x10 to 1000x1000, rectangular, tied integer costs, and the
// batched form (64 matrices of 100x20, DETR-style). Two modes: `bench_matching [google benchmark flags]`
// times generated matrices; `bench_matching --cases DIR` times the case files of bench/matching_vs_scipy.py
// (format in matching_cases.hpp), which bench/matching_vs_scipy.sh runs beside scipy and LAPJV.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "coordexp/matching/linear_assignment.hpp"
#include "matching_cases.hpp"

namespace {

using coordexp::CostMatrixView;

// Uniform [0, 1) costs, or integers drawn from {0 .. levels-1} when levels > 0 (many tied costs).
std::vector<double> random_matrix(int64_t n, int64_t m, uint64_t seed, int levels = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> tied(0, std::max(0, levels - 1));
  std::vector<double> c(n * m);
  for (auto& x : c) x = levels > 0 ? tied(rng) : u(rng);
  return c;
}

void BM_LinearSumAssignment(benchmark::State& state) {
  const int64_t n = state.range(0), m = state.range(1), levels = state.range(2);
  const auto c = random_matrix(n, m, 42, static_cast<int>(levels));
  for (auto _ : state) benchmark::DoNotOptimize(coordexp::linear_sum_assignment(c, n, m));
  state.SetLabel(std::to_string(n) + "x" + std::to_string(m) +
                 (levels ? " ties" + std::to_string(levels) : ""));
}

BENCHMARK(BM_LinearSumAssignment)
    ->Args({10, 10, 0})
    ->Args({100, 100, 0})
    ->Args({300, 300, 0})
    ->Args({1000, 1000, 0})
    ->Args({100, 300, 0})
    ->Args({300, 100, 0})
    ->Args({1000, 200, 0})
    ->Args({300, 300, 10})
    ->Args({300, 300, 100})
    ->Unit(benchmark::kMicrosecond);

// 64 matrices of 100 predictions x 20 objects: a loop of single calls (threads = 0) or the batch.
void BM_Batch(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  std::vector<std::vector<double>> costs;
  std::vector<CostMatrixView> views;
  for (int k = 0; k < 64; ++k) costs.push_back(random_matrix(100, 20, 100 + k));
  for (const auto& c : costs) views.push_back({c, 100, 20});
  for (auto _ : state) {
    if (threads == 0) {
      for (const auto& v : views)
        benchmark::DoNotOptimize(coordexp::linear_sum_assignment(v.cost, v.num_rows, v.num_cols));
    } else {
      benchmark::DoNotOptimize(coordexp::linear_sum_assignment_batch(views, threads));
    }
  }
  state.SetLabel(threads == 0 ? "64x(100x20) single calls" : "64x(100x20) batch");
}

BENCHMARK(BM_Batch)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// --cases DIR: per case, every matrix reps times; batch cases as single calls and as the batch on 1 and 2
// threads (per-call figures are then per batch of count matrices).
int run_cases(const std::string& dir) {
  for (const auto& k : matching_bench::read_cases(dir)) {
    std::vector<CostMatrixView> views;
    for (int64_t m = 0; m < k.count; ++m)
      views.push_back({{k.matrix(m), static_cast<size_t>(k.num_rows * k.num_cols)}, k.num_rows, k.num_cols});
    double checksum = 0;
    for (const auto& v : views)
      checksum += coordexp::linear_sum_assignment(v.cost, v.num_rows, v.num_cols).total_cost;
    const bool batch = k.name.rfind("batch", 0) == 0;
    const int64_t calls = batch ? k.reps : k.reps * k.count;
    matching_bench::time_case(batch ? k.name + "/loop" : k.name, calls, checksum, [&] {
      for (int64_t r = 0; r < k.reps; ++r)
        for (const auto& v : views)
          benchmark::DoNotOptimize(coordexp::linear_sum_assignment(v.cost, v.num_rows, v.num_cols));
    });
    if (!batch) continue;
    for (int threads : {1, 2}) {
      matching_bench::time_case(k.name + "/batch" + std::to_string(threads), calls, checksum, [&] {
        for (int64_t r = 0; r < k.reps; ++r)
          benchmark::DoNotOptimize(coordexp::linear_sum_assignment_batch(views, threads));
      });
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--cases") == 0) return run_cases(argv[2]);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
