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

TEST(TinyVlm, KvCacheDecodingEqualsTeacherForcing) {
  torch::manual_seed(1);
  auto model = build_tiny_vlm(small_config());
  model->eval();
  torch::NoGradGuard ng;
  auto img = model->encode_images(torch::randn({2, 3, 32, 32}));
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

TEST(TinyVlm, BadConfigIsNamed) {
  auto c = small_config();
  c.vocab_size = 0;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.image_size = 30;
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
