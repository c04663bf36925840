// Hungarian (linear_sum_assignment) on dense random matrices, 10x10 to 1000x1000 and rectangular.
// bench/matching_vs_scipy.sh runs this beside scipy on the same machine and prints the ratios.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "coordexp/matching/linear_assignment.hpp"

namespace {

std::vector<double> random_matrix(int64_t n, int64_t m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> c(n * m);
  for (auto& x : c) x = u(rng);
  return c;
}

void BM_LinearSumAssignment(benchmark::State& state) {
  const int64_t n = state.range(0), m = state.range(1);
  const auto c = random_matrix(n, m, 42);
  for (auto _ : state) benchmark::DoNotOptimize(coordexp::linear_sum_assignment(c, n, m));
  state.SetLabel(std::to_string(n) + "x" + std::to_string(m));
}

BENCHMARK(BM_LinearSumAssignment)
    ->Args({10, 10})
    ->Args({30, 30})
    ->Args({100, 100})
    ->Args({300, 300})
    ->Args({1000, 1000})
    ->Args({100, 1000})
    ->Args({1000, 100})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
