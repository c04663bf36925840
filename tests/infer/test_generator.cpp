// Grammar-constrained generation on an untrained tiny model: every output parses in strict mode with legal
// boxes, the KV-cache decoder equals the uncached one, limits are respected.
#include <gtest/gtest.h>

#include "coordexp/infer/generator.hpp"
#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/util/error.hpp"

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

namespace coordexp {
namespace {

TEST(Generator, ScoreModesCombineTheLabelAndBoxParts) {
  const double label = std::log(0.5) + std::log(0.8), coords = 4 * std::log(0.1);  // 2 label tokens
  EXPECT_NEAR(object_score(ScoreMode::kLabel, label, 2, coords), 0.4, 1e-12);
  EXPECT_NEAR(object_score(ScoreMode::kLabelBox, label, 2, coords), 0.04, 1e-12);
  EXPECT_NEAR(object_score(ScoreMode::kTokens, label, 2, coords), std::pow(0.4 * 1e-4, 1.0 / 6), 1e-12);
  EXPECT_EQ(parse_score_mode(score_mode_name(ScoreMode::kLabelBox)), ScoreMode::kLabelBox);
  EXPECT_NEAR(object_score(ScoreMode::kLabelQuality, label, 2, coords, 0.25), 0.1, 1e-12);
  EXPECT_EQ(parse_score_mode(score_mode_name(ScoreMode::kLabelQuality)), ScoreMode::kLabelQuality);
  EXPECT_THROW(parse_score_mode("mean"), InputError);
}

TEST(Generator, BoxQualityIsTheFirstOrderExpectedIou) {
  // a 0.4 x 0.2 box; x edges each 0.01 unsure, y edges 0.005 and 0.015: 1 - 0.02 / 0.4 - 0.02 / 0.2 = 0.85
  const BoxXYXY box{0.1, 0.3, 0.5, 0.5};
  EXPECT_NEAR(box_quality(box, {0.01, 0.005, 0.01, 0.015}), 0.85, 1e-12);
  EXPECT_EQ(box_quality(box, {0, 0, 0, 0}), 1.0);                      // certain edges
  EXPECT_EQ(box_quality(box, {0.3, 0.3, 0.3, 0.3}), 0.0);              // spread far beyond the box: clamped
  EXPECT_EQ(box_quality({0.2, 0.2, 0.2, 0.2}, {0.01, 0, 0, 0}), 0.0);  // a point box with any doubt
  // the first-order term against the exact IoU of a box whose x1 moved by d (a small move)
  const double d = 0.004, exact_iou = (0.4 - d) / 0.4;
  EXPECT_NEAR(box_quality(box, {d, 0, 0, 0}), exact_iou, 1e-12);
}

// The label score and the alternatives against probabilities recomputed by teacher forcing the generated
// answer: P(<obj_start>) among {<obj_start>, end}, the first description token among text tokens, later
// ones among text and coordinate tokens (the grammar's masks at those positions).
TEST(Generator, LabelScoreAndAlternativesMatchTeacherForcedProbabilities) {
  torch::manual_seed(4);
  auto m = model();
  const auto g = grammar();
  GenerationConfig cfg;
  cfg.max_new_tokens = 60;
  cfg.min_objects = 2;
  cfg.label_alternatives = 3;
  auto images = torch::randn({1, 3, 32, 32});
  auto prompt = torch::full({1, 2}, 1, torch::kLong);
  const auto gen = generate(*m, images, prompt, g, cfg)[0];
  ASSERT_GE(gen.objects.size(), 2u);
  torch::NoGradGuard ng;
  auto tokens = torch::cat({prompt, torch::tensor(gen.tokens, torch::kLong).unsqueeze(0)}, 1);
  auto logits = m->logits(m->forward_text(m->encode_images(images), tokens))[0];
  // answer token t is predicted by the hidden state at prompt_len + t - 1
  auto masked_logp = [&](size_t t, const std::vector<TokenId>& allowed) {
    auto row = logits[1 + t];
    auto keep = torch::full({kV}, -1e9);
    for (TokenId id : allowed) keep[id] = 0;
    return torch::log_softmax(row + keep, -1);
  };
  std::vector<TokenId> text, text_coord;
  for (TokenId id = 1; id <= 9; ++id) text.push_back(id), text_coord.push_back(id);
  for (TokenId id = 13; id < kV; ++id) text_coord.push_back(id);
  size_t t = 0, k = 0;
  for (const auto& o : gen.objects) {
    ASSERT_EQ(gen.tokens[t], 10);
    const std::vector<TokenId> start_or_end = k < 2 ? std::vector<TokenId>{10} : std::vector<TokenId>{10, 12};
    double label = masked_logp(t, start_or_end)[10].item<double>();
    for (size_t d = 0; d < o.desc_ids.size(); ++d) {
      auto lp = masked_logp(t + 1 + d, d == 0 ? text : text_coord);
      label += lp[o.desc_ids[d]].item<double>();
      if (d + 1 == o.desc_ids.size()) {
        // the alternatives: the likeliest text tokens other than the written one, with their log p
        auto text_lp = lp.narrow(0, 1, 9).clone();
        text_lp[o.desc_ids[d] - 1] = -1e30;
        auto [v, i] = text_lp.topk(3);
        ASSERT_EQ(o.alternatives.size(), 3u);
        for (int j = 0; j < 3; ++j) {
          EXPECT_EQ(o.alternatives[j].token, i[j].item<int64_t>() + 1);
          EXPECT_NEAR(o.alternatives[j].log_prob, v[j].item<double>(), 1e-4);
          EXPECT_NEAR(alternative_score(ScoreMode::kLabel, o, o.alternatives[j]),
                      std::exp(label - lp[o.desc_ids[d]].item<double>() + v[j].item<double>()), 1e-5);
        }
      }
    }
    EXPECT_NEAR(o.score, std::exp(label), 1e-5);
    // x1's distribution (every bin allowed): its mean absolute deviation around the expectation read off
    std::vector<TokenId> coords;
    for (TokenId id = 13; id < kV; ++id) coords.push_back(id);
    const auto p = masked_logp(t + 1 + o.desc_ids.size(), coords).narrow(0, 13, kV - 13).exp();
    const auto phi = torch::arange(kV - 13, torch::kFloat) / static_cast<double>(kV - 14);
    const double x1 = (p * phi).sum().item<double>();
    EXPECT_NEAR(o.coord_mad[0], (p * (phi - x1).abs()).sum().item<double>(), 1e-4);
    EXPECT_GT(o.coord_mad[0], 0.0);
    EXPECT_EQ(o.quality, box_quality(o.box, o.coord_mad));
    t += 1 + o.desc_ids.size() + 4 + 1, ++k;
  }
}

}  // namespace
}  // namespace coordexp
