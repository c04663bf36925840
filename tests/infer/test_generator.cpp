// Grammar-constrained generation on an untrained tiny model: every output parses in strict mode with legal
// boxes, the KV-cache decoder equals the uncached one, limits are respected.
#include <gtest/gtest.h>

#include "coordexp/infer/generator.hpp"
#include "coordexp/model/tiny_vlm.hpp"

namespace coordexp {
namespace {

// ids: 0 pad, 1..9 text, 10 obj_start, 11 obj_end, 12 eos, 13.. coordinates (K = 16)
constexpr int64_t kV = 13 + 16;

GrammarTokens grammar() {
  auto text = torch::zeros({kV}, torch::kBool);
  text.narrow(0, 1, 9).fill_(true);
  return {CoordVocab(16, 13), StructureTokens{10, 11, 12}, text, 0};
}

std::shared_ptr<VisionLanguageModel> model() {
  TinyVlmConfig c;
  c.image_size = 32;
  c.vision_width = 16;
  c.vision_heads = 2;
  c.width = 32;
  c.heads = 4;
  c.layers = 2;
  c.ffn_width = 48;
  c.vocab_size = kV;
  auto m = build_tiny_vlm(c);
  m->eval();
  return m;
}

TEST(Generator, OutputAlwaysParsesStrictlyWithLegalBoxes) {
  torch::manual_seed(0);
  auto m = model();
  const auto g = grammar();
  GenerationConfig cfg;
  cfg.max_new_tokens = 120;
  cfg.temperature = 1.5;  // sampling explores many grammar paths
  for (uint64_t seed = 0; seed < 4; ++seed) {
    cfg.seed = seed;
    auto out = generate(*m, torch::randn({3, 3, 32, 32}), torch::full({3, 2}, 1, torch::kLong), g, cfg);
    ASSERT_EQ(out.size(), 3u);
    for (const auto& gen : out) {
      const ParseResult p =
          parse_answer(gen.tokens, g.coords, g.structure, ParseMode::kStrict);  // throws if malformed
      EXPECT_EQ(p.objects.size(), gen.objects.size());
      EXPECT_LE(static_cast<int64_t>(gen.tokens.size()), cfg.max_new_tokens);
      for (const auto& o : gen.objects) {
        EXPECT_LE(o.box.x1, o.box.x2);
        EXPECT_LE(o.box.y1, o.box.y2);
        EXPECT_GT(o.score, 0);
        EXPECT_LE(o.score, 1);
        EXPECT_FALSE(o.desc_ids.empty());
        EXPECT_LE(o.desc_ids.size(), static_cast<size_t>(cfg.max_description_tokens));
      }
    }
  }
}

TEST(Generator, CachedEqualsUncachedGreedy) {
  torch::manual_seed(1);
  auto m = model();
  const auto g = grammar();
  GenerationConfig cfg;
  cfg.max_new_tokens = 40;
  auto images = torch::randn({2, 3, 32, 32});
  auto prompt = torch::full({2, 3}, 2, torch::kLong);
  auto a = generate(*m, images, prompt, g, cfg);
  auto b = generate_uncached(*m, images, prompt, g, cfg);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    ASSERT_EQ(a[i].objects.size(), b[i].objects.size());
    for (size_t k = 0; k < a[i].objects.size(); ++k)
      EXPECT_NEAR(a[i].objects[k].box.x1, b[i].objects[k].box.x1, 1e-5);
  }
}

TEST(Generator, MaxObjectsForcesTheEnd) {
  torch::manual_seed(2);
  auto m = model();
  GenerationConfig cfg;
  cfg.max_objects = 1;
  cfg.temperature = 1.0;
  cfg.max_new_tokens = 200;
  auto out = generate(*m, torch::randn({4, 3, 32, 32}), torch::full({4, 2}, 1, torch::kLong), grammar(), cfg);
  for (const auto& gen : out) EXPECT_LE(gen.objects.size(), 1u);
}

}  // namespace
}  // namespace coordexp
