// CoordExp forward+backward over P coordinate positions with D=1024, K=1000, V=32000 (float32):
// the fused path (only the K coordinate rows of the LM head) against the naive path (full-vocabulary
// logits [P, V], then the K coordinate columns). Time by Google Benchmark; peak memory of one step of each
// path measured in a forked child (max resident set growth), reported as counters.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <functional>

#include "coordexp/loss/coord_expectation.hpp"

namespace {

constexpr int64_t kD = 1024, kK = 1000, kV = 32000, kFirstCoord = 31000 - kK;

struct Inputs {
  torch::Tensor hidden, head;  // [P, D], [V, D]
};

Inputs make_inputs(int64_t P) {
  torch::manual_seed(0);
  return {torch::randn({P, kD}).requires_grad_(true), (torch::randn({kV, kD}) * 0.02).requires_grad_(true)};
}

void fused_step(Inputs& in) {
  auto c = coordexp::coord_expectation(in.hidden, in.head.narrow(0, kFirstCoord, kK), torch::Tensor(), 1.0);
  c.sum().backward();
}

void naive_step(Inputs& in) {
  auto logits = torch::matmul(in.hidden, in.head.t());  // [P, V]
  auto c = coordexp::coord_expectation_from_logits(logits.narrow(1, kFirstCoord, kK), 1.0);
  c.sum().backward();
}

// Peak resident-set growth (MiB) of one step, run in a child so earlier steps do not mask it.
double peak_step_mib(int64_t P, const std::function<void(Inputs&)>& step) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    torch::set_num_threads(1);
    Inputs in = make_inputs(P);
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    step(in);
    getrusage(RUSAGE_SELF, &after);
    const double mib = (after.ru_maxrss - before.ru_maxrss) / 1024.0;
    [[maybe_unused]] auto n = write(fd[1], &mib, sizeof mib);
    _exit(0);
  }
  double mib = -1;
  close(fd[1]);
  [[maybe_unused]] auto n = read(fd[0], &mib, sizeof mib);
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  return mib;
}

void run(benchmark::State& state, void (*step)(Inputs&)) {
  torch::set_num_threads(2);
  const int64_t P = state.range(0);
  Inputs in = make_inputs(P);
  for (auto _ : state) {
    step(in);
    in.hidden.mutable_grad().reset();
    in.head.mutable_grad().reset();
  }
  state.counters["peak_step_MiB"] = peak_step_mib(P, step);
  state.counters["positions_per_s"] =
      benchmark::Counter(static_cast<double>(P), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CoordExpFused(benchmark::State& state) {
  run(state, fused_step);
}
void BM_CoordExpNaiveFullVocab(benchmark::State& state) {
  run(state, naive_step);
}

BENCHMARK(BM_CoordExpFused)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CoordExpNaiveFullVocab)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
