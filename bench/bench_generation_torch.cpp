// Generation with the KV cache against recomputing the whole prefix every step, on the default tiny V-LLM
// (untrained; min_objects keeps every sequence writing so both decoders produce the same 100+ tokens).
// Reported: generated tokens per second for each, at several output lengths.
#include <benchmark/benchmark.h>

#include "coordexp/infer/generator.hpp"
#include "coordexp/model/tiny_vlm.hpp"

namespace {

using namespace coordexp;

constexpr int64_t kText = 40, kBins = 128, kV = 6 + kText + kBins;

struct Setup {
  std::shared_ptr<VisionLanguageModel> model;
  GrammarTokens grammar;
  torch::Tensor images, prompt;
};

Setup make_setup(int64_t batch) {
  torch::manual_seed(0);
  torch::set_num_threads(2);
  TinyVlmConfig c;  // the default size used by configs/train/openshapes.json
  c.vocab_size = kV;
  Setup s{build_tiny_vlm(c),
          {CoordVocab(kBins, 6 + kText), StructureTokens{4, 5, 2}, torch::zeros({kV}, torch::kBool), 0},
          torch::randn({batch, 3, 128, 128}),
          torch::full({batch, 4}, 7, torch::kLong)};
  s.grammar.text_mask.narrow(0, 6, kText).fill_(true);
  s.model->eval();
  return s;
}

template <bool kCached>
void BM_Generate(benchmark::State& state) {
  Setup s = make_setup(4);
  GenerationConfig cfg;
  cfg.max_new_tokens = state.range(0);
  cfg.min_objects = 1000;  // never end early: every sequence writes max_new_tokens tokens
  cfg.max_objects = 1000;
  int64_t tokens = 0;
  for (auto _ : state) {
    auto out = kCached ? generate(*s.model, s.images, s.prompt, s.grammar, cfg)
                       : generate_uncached(*s.model, s.images, s.prompt, s.grammar, cfg);
    for (const auto& g : out) tokens += static_cast<int64_t>(g.tokens.size());
  }
  state.counters["generated_tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

BENCHMARK_TEMPLATE(BM_Generate, true)
    ->Name("BM_GenerateKvCache")
    ->Arg(32)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Generate, false)
    ->Name("BM_GenerateRecomputePrefix")
    ->Arg(32)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
