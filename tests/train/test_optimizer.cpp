// The learning-rate schedule (linear warmup, cosine to lr * min_lr_ratio) at its key points, and the
// optimiser's parameter groups (matrices decay; vectors and bias tables do not; frozen parameters are left
// out).
#include <gtest/gtest.h>

#include <cmath>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/train/optimizer.hpp"

namespace coordexp {
namespace {

TEST(LearningRate, WarmupThenCosineToTheFloor) {
  OptimConfig o;
  o.lr = 1e-3, o.warmup_steps = 10, o.steps = 110, o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0), 1e-4);  // (0 + 1) / 10 of the peak
  EXPECT_DOUBLE_EQ(learning_rate(o, 4), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(o, 10), 1e-3);                        // the peak, cosine at 0
  EXPECT_NEAR(learning_rate(o, 60), 1e-3 * (0.1 + 0.9 * 0.5), 1e-15);  // halfway
  EXPECT_NEAR(learning_rate(o, 110), 1e-4, 1e-15);                     // the floor
  EXPECT_NEAR(learning_rate(o, 500), 1e-4, 1e-15);                     // and it stays there
  for (int64_t s = 11; s < 110; ++s) EXPECT_LT(learning_rate(o, s), learning_rate(o, s - 1)) << s;
}

TEST(Optimizer, MatricesDecayVectorsAndFrozenParametersDoNot) {
  TinyVlmConfig c;
  c.vocab_size = 40, c.image_size = 32, c.patch_size = 16, c.vision_width = 16, c.vision_heads = 2;
  c.vision_layers = 1, c.width = 16, c.heads = 2, c.layers = 1, c.ffn_width = 24;
  ModelBundle bundle;
  bundle.model = build_tiny_vlm(c);
  auto named = bundle.model->named_parameters();
  const torch::Tensor frozen = named.begin()->value();
  frozen.set_requires_grad(false);
  OptimConfig o;
  o.weight_decay = 0.05;
  auto opt = make_optimizer(bundle, o);
  ASSERT_EQ(opt->param_groups().size(), 2u);
  const auto& decay = opt->param_groups()[0];
  const auto& no_decay = opt->param_groups()[1];
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(decay.options()).weight_decay(), 0.05);
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(no_decay.options()).weight_decay(), 0.0);
  for (const auto& p : decay.params()) EXPECT_GE(p.dim(), 2);
  size_t trainable = 0;
  for (const auto& p : named) trainable += p.value().requires_grad();
  EXPECT_EQ(decay.params().size() + no_decay.params().size(), trainable);
  for (const auto& group : opt->param_groups())
    for (const auto& p : group.params()) EXPECT_FALSE(p.is_same(frozen));
  set_learning_rate(*opt, 0.125);
  for (const auto& g : opt->param_groups())
    EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(g.options()).lr(), 0.125);
}

}  // namespace
}  // namespace coordexp
