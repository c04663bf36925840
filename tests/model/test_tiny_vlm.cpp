// The tiny V-LLM: shapes, causality (a text position never sees later tokens), and KV-cache decoding
// equal to teacher forcing position by position.
#include <gtest/gtest.h>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

TinyVlmConfig small_config() {
  TinyVlmConfig c;
  c.image_size = 32;
  c.patch_size = 16;
  c.vision_width = 16;
  c.vision_heads = 2;
  c.width = 32;
  c.heads = 4;
  c.layers = 2;
  c.ffn_width = 48;
  c.vocab_size = 50;
  return c;
}

TEST(TinyVlm, ShapesAndCausality) {
  torch::manual_seed(0);
  auto model = build_tiny_vlm(small_config());
  model->eval();
  auto images = torch::randn({2, 3, 32, 32});
  auto tokens = torch::randint(0, 50, {2, 7}, torch::kLong);
  auto img = model->encode_images(images);
  EXPECT_EQ(img.sizes(), torch::IntArrayRef({2, 4, 32}));
  auto h = model->forward_text(img, tokens);
  EXPECT_EQ(h.sizes(), torch::IntArrayRef({2, 7, 32}));
  auto changed = tokens.clone();
  changed[0][5] = (changed[0][5].item<int64_t>() + 1) % 50;
  auto h2 = model->forward_text(img, changed);
  EXPECT_LT((h.narrow(1, 0, 5) - h2.narrow(1, 0, 5)).abs().max().item<double>(),
            1e-6);  // earlier positions unchanged
  EXPECT_GT((h[0][5] - h2[0][5]).abs().max().item<double>(), 1e-4);
}

class TinyVlmVariants : public ::testing::TestWithParam<std::tuple<bool, int>> {};

// every variant: shared or raster image positions, the plain or the residual-pyramid stem
TEST_P(TinyVlmVariants, KvCacheDecodingEqualsTeacherForcing) {
  torch::manual_seed(1);
  auto c = small_config();
  c.shared_image_position = std::get<0>(GetParam());
  c.stem_blocks = std::get<1>(GetParam());
  auto model = build_tiny_vlm(c);
  model->eval();
  torch::NoGradGuard ng;
  auto img = model->encode_images(torch::rand({2, 3, 32, 32}));
  EXPECT_EQ(img.sizes(), torch::IntArrayRef({2, 4, 32}));
  auto tokens = torch::randint(0, 50, {2, 9}, torch::kLong);
  auto full = model->forward_text(img, tokens);  // [B, 9, D]
  KvCache cache;
  auto h = model->prefill(img, tokens.narrow(1, 0, 3), cache);
  EXPECT_LT((h - full.select(1, 2)).abs().max().item<double>(), 1e-5);
  for (int64_t t = 3; t < 9; ++t) {
    h = model->decode_step(tokens.select(1, t), cache);
    EXPECT_LT((h - full.select(1, t)).abs().max().item<double>(), 1e-5) << "t=" << t;
  }
}

INSTANTIATE_TEST_SUITE_P(PositionsAndStems, TinyVlmVariants,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(0, 1)));

// With shared image positions the text states do not depend on the order of the image tokens (only on
// their content, which carries the 2-D position code); with raster positions they do.
TEST(TinyVlm, SharedImagePositionMakesTextInvariantToImageTokenOrder) {
  for (bool shared : {true, false}) {
    torch::manual_seed(2);
    auto c = small_config();
    c.shared_image_position = shared;
    auto model = build_tiny_vlm(c);
    model->eval();
    torch::NoGradGuard ng;
    auto img = torch::randn({1, 4, 32});
    auto tokens = torch::randint(0, 50, {1, 5}, torch::kLong);
    auto a = model->forward_text(img, tokens);
    auto b = model->forward_text(img.index_select(1, torch::tensor({3L, 1L, 0L, 2L})), tokens);
    const double diff = (a - b).abs().max().item<double>();
    if (shared)
      EXPECT_LT(diff, 1e-5);
    else
      EXPECT_GT(diff, 1e-4);
  }
}

TEST(TinyVlm, BadConfigIsNamed) {
  auto c = small_config();
  c.vocab_size = 0;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.image_size = 30;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.stem_blocks = 9;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.image_size = 48, c.patch_size = 12, c.stem_blocks = 1;  // the pyramid needs a power-of-two patch
  EXPECT_THROW(build_tiny_vlm(c), InputError);
}

}  // namespace
}  // namespace coordexp

namespace coordexp {
namespace {

TEST(TinyVlm, TextStatesDependOnTheImageAndGradientsReachTheVisionTower) {
  torch::manual_seed(3);
  auto c = small_config();
  auto model = build_tiny_vlm(c);
  auto tokens = torch::randint(0, 50, {1, 5}, torch::kLong);
  auto a = model->forward_text(model->encode_images(torch::randn({1, 3, 32, 32})), tokens);
  auto b = model->forward_text(model->encode_images(torch::randn({1, 3, 32, 32})), tokens);
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
  model->logits(a).sum().backward();
  for (const auto& p : model->named_parameters())
    if (p.key().rfind("stem", 0) == 0 || p.key().rfind("proj", 0) == 0)
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
}

}  // namespace
}  // namespace coordexp
