// The learning-rate schedule (linear warmup, cosine to lr * min_lr_ratio) at its key points, the
// optimiser's parameter groups (matrices decay; vectors and bias tables do not; frozen parameters are left
// out), and FusedAdamW against LibTorch's AdamW.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/train/fused_adamw.hpp"
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

ModelBundle tiny_bundle() {
  TinyVlmConfig c;
  c.vocab_size = 40, c.image_size = 32, c.patch_size = 16, c.vision_width = 16, c.vision_heads = 2;
  c.vision_layers = 1, c.width = 16, c.heads = 2, c.layers = 1, c.ffn_width = 24;
  ModelBundle bundle;
  bundle.model = build_tiny_vlm(c);
  return bundle;
}

TEST(Optimizer, MatricesDecayVectorsAndFrozenParametersDoNot) {
  ModelBundle bundle = tiny_bundle();
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

// FusedAdamW against LibTorch's AdamW: the same parameters, gradients and schedule; every step's parameters
// and moments must agree (float64: to rounding; float32: to a few ulps of the update), with decay and
// no-decay groups, a learning rate changed between steps, and state kept under the same keys.
namespace fused {

struct Pair {
  std::vector<torch::Tensor> a, b;  // the same starting values, for the two optimisers
};

Pair make_params(torch::Dtype dtype, bool strided = false) {
  torch::manual_seed(3);
  Pair p;
  const std::vector<std::vector<int64_t>> shapes = {{37, 11}, {5}, {300, 129}};
  for (const auto& s : shapes) {
    auto t = torch::randn(s, torch::TensorOptions().dtype(dtype));
    p.a.push_back(t.clone().requires_grad_(true));
    p.b.push_back(t.clone().requires_grad_(true));
  }
  if (strided) {  // a transposed (non-contiguous) parameter takes LibTorch's operations
    auto t = torch::randn({40, 23}, torch::TensorOptions().dtype(dtype));
    p.a.push_back(t.clone().t().requires_grad_(true));
    p.b.push_back(t.clone().t().requires_grad_(true));
  }
  return p;
}

template <typename Opt>
std::unique_ptr<torch::optim::AdamW> make(std::vector<torch::Tensor> params, bool amsgrad = false) {
  std::vector<torch::Tensor> decay(params.begin(), params.begin() + 1),
      rest(params.begin() + 1, params.end());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      decay, std::make_unique<torch::optim::AdamWOptions>(
                 torch::optim::AdamWOptions(2e-3).betas({0.9, 0.95}).weight_decay(0.1).amsgrad(amsgrad)));
  groups.emplace_back(
      rest, std::make_unique<torch::optim::AdamWOptions>(
                torch::optim::AdamWOptions(2e-3).betas({0.9, 0.95}).weight_decay(0).amsgrad(amsgrad)));
  return std::make_unique<Opt>(groups, torch::optim::AdamWOptions(2e-3));
}

void set_grads(Pair& p, int step, bool sparse_first = false) {
  torch::manual_seed(100 + step);
  for (size_t i = 0; i < p.a.size(); ++i) {
    auto g = torch::randn(p.a[i].sizes(), p.a[i].options().requires_grad(false)) * (1 + step);
    if (i == 0) g.index_put_({torch::indexing::Slice(0, 5)}, 0);  // rows without gradient still decay
    p.b[i].mutable_grad() = g.clone();
    // the first parameter's gradient may come as sparse rows (the trainer's input embedding)
    p.a[i].mutable_grad() = (sparse_first && i == 0) ? g.to_sparse() : g.clone();
  }
}

void expect_close(const Pair& p, double tol, const std::string& what) {
  for (size_t i = 0; i < p.a.size(); ++i) {
    const double scale = p.b[i].abs().max().item<double>();
    EXPECT_LE((p.a[i] - p.b[i]).abs().max().item<double>(), tol * scale) << what << " parameter " << i;
  }
}

void run_against_libtorch(torch::Dtype dtype, double tol, bool strided, bool amsgrad, bool sparse) {
  Pair p = make_params(dtype, strided);
  auto fused = make<FusedAdamW>(p.a, amsgrad);
  auto plain = make<torch::optim::AdamW>(p.b, amsgrad);
  for (int step = 0; step < 6; ++step) {
    set_grads(p, step, sparse);
    if (step == 3) {  // a schedule changes the rate between steps
      set_learning_rate(*fused, 5e-4);
      set_learning_rate(*plain, 5e-4);
    }
    fused->step();
    plain->step();
    expect_close(p, tol, "step " + std::to_string(step));
  }
  // the state is LibTorch's: same keys, steps and moments
  ASSERT_EQ(fused->state().size(), plain->state().size());
  for (size_t i = 0; i < p.a.size(); ++i) {
    const auto& sa = static_cast<const torch::optim::AdamWParamState&>(
        *fused->state().at(c10::guts::to_string(p.a[i].unsafeGetTensorImpl())));
    const auto& sb = static_cast<const torch::optim::AdamWParamState&>(
        *plain->state().at(c10::guts::to_string(p.b[i].unsafeGetTensorImpl())));
    EXPECT_EQ(sa.step(), 6);
    EXPECT_EQ(sa.step(), sb.step());
    EXPECT_LE((sa.exp_avg() - sb.exp_avg()).abs().max().item<double>(),
              tol * sb.exp_avg().abs().max().item<double>());
    EXPECT_LE((sa.exp_avg_sq() - sb.exp_avg_sq()).abs().max().item<double>(),
              tol * sb.exp_avg_sq().abs().max().item<double>());
  }
}

}  // namespace fused

TEST(FusedAdamW, MatchesLibTorchAdamWInDouble) {
  fused::run_against_libtorch(torch::kDouble, 1e-13, false, false, false);
}
TEST(FusedAdamW, MatchesLibTorchAdamWInFloat) {
  fused::run_against_libtorch(torch::kFloat, 2e-6, false, false, false);
}
TEST(FusedAdamW, StridedParametersAndAmsgradTakeLibTorchsOperations) {
  fused::run_against_libtorch(torch::kFloat, 2e-6, true, false, false);
  fused::run_against_libtorch(torch::kDouble, 1e-13, false, true, false);
}
TEST(FusedAdamW, SparseGradientIsTheDenseOne) {
  fused::run_against_libtorch(torch::kDouble, 1e-13, false, false, true);
}

TEST(FusedAdamW, CheckpointsAreLibTorchsAdamWs) {
  // three steps with FusedAdamW, its state saved and loaded into LibTorch's AdamW (and the other way round):
  // the next steps agree with an uninterrupted run
  fused::Pair p = fused::make_params(torch::kDouble);
  auto fused_opt = fused::make<FusedAdamW>(p.a);
  auto plain = fused::make<torch::optim::AdamW>(p.b);
  for (int step = 0; step < 3; ++step) {
    fused::set_grads(p, step);
    fused_opt->step();
    plain->step();
  }
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive out;
    fused_opt->save(out);
    out.save_to(buffer);
  }
  std::vector<torch::Tensor> resumed;
  for (const auto& t : p.a) resumed.push_back(t.detach().clone().requires_grad_(true));
  auto loaded = fused::make<torch::optim::AdamW>(resumed);
  {
    torch::serialize::InputArchive in;
    in.load_from(buffer);
    loaded->load(in);
  }
  for (int step = 3; step < 6; ++step) {
    fused::set_grads(p, step);
    for (size_t i = 0; i < resumed.size(); ++i) resumed[i].mutable_grad() = p.b[i].grad().clone();
    loaded->step();
    plain->step();
  }
  for (size_t i = 0; i < resumed.size(); ++i)
    EXPECT_LE((resumed[i] - p.b[i]).abs().max().item<double>(), 1e-13 * p.b[i].abs().max().item<double>());
}

TEST(FusedAdamW, MakeOptimizerReturnsIt) {
  ModelBundle bundle = tiny_bundle();
  EXPECT_NE(dynamic_cast<FusedAdamW*>(make_optimizer(bundle, OptimConfig{}).get()), nullptr);
}

}  // namespace
}  // namespace coordexp
