// The fused head CE against the plain autograd computation it replaces (logits, log_softmax, gather,
// weighted mean): values and gradients for every part of the head (one table, two parts with the pretrained
// rows frozen, a bias), two groups with their own gradient scales, the argmax, empty groups, no-grad mode,
// NaN and bad ids; and a table used both as the input embedding (lookup) and as the tied head, its lookup
// gradient sparse or dense.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "coordexp/loss/text_loss.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

struct Case {
  torch::Tensor hidden, base, added, bias, ids, targets, weights;
  TokenTable head() const { return TokenTable{base, added, bias}; }
};

// P rows, V0 + V1 head rows of width D; targets: half hard (id, id) with (1, 0), half two-bin.
Case make_case(int64_t P, int64_t V0, int64_t V1, int64_t D, bool bias, uint64_t seed) {
  torch::manual_seed(seed);
  Case c;
  c.hidden = torch::randn({P, D}, kF64).requires_grad_();
  c.base = torch::randn({V0, D}, kF64).requires_grad_();
  if (V1 > 0) c.added = torch::randn({V1, D}, kF64).requires_grad_();
  if (bias) c.bias = torch::randn({V0 + V1}, kF64).requires_grad_();
  const int64_t V = V0 + V1;
  auto lo = torch::randint(0, V - 1, {P}, torch::kLong);
  auto w_hi = torch::rand({P}, kF64);
  auto hard = torch::arange(P) % 2 == 0;
  c.ids = torch::stack({lo, torch::where(hard, lo, lo + 1)}, 1);
  c.targets = torch::stack({torch::where(hard, torch::ones_like(w_hi), 1 - w_hi),
                            torch::where(hard, torch::zeros_like(w_hi), w_hi)},
                           1);
  c.weights = torch::rand({P}, kF64) + 0.5;
  return c;
}

HeadCEGroup group_of(const Case& c) {
  return {c.hidden, c.ids, c.targets, c.weights};
}

torch::Tensor reference(const Case& c, const torch::Tensor& hidden) {
  auto logp = torch::log_softmax(c.head().logits(hidden), -1);
  auto ce = -(c.targets * logp.gather(1, c.ids)).sum(1);
  return (ce * c.weights).sum() / c.weights.sum();
}
torch::Tensor reference(const Case& c) {
  return reference(c, c.hidden);
}

std::vector<torch::Tensor> grads_of(const torch::Tensor& loss, const std::vector<torch::Tensor>& wrt) {
  std::vector<torch::Tensor> defined;
  for (const auto& t : wrt)
    if (t.defined() && t.requires_grad()) defined.push_back(t);
  return torch::autograd::grad({loss}, defined, {}, /*retain_graph=*/true, /*create_graph=*/false,
                               /*allow_unused=*/true);
}

void expect_grads_equal(const torch::Tensor& fused, const torch::Tensor& ref,
                        const std::vector<torch::Tensor>& wrt) {
  const auto g_fused = grads_of(fused, wrt), g_ref = grads_of(ref, wrt);
  ASSERT_EQ(g_fused.size(), g_ref.size());
  for (size_t i = 0; i < g_ref.size(); ++i) {
    ASSERT_TRUE(g_fused[i].defined()) << "gradient " << i;
    EXPECT_TRUE(torch::allclose(g_fused[i], g_ref[i], 1e-10, 1e-12)) << "gradient " << i;
  }
}

void expect_same(const Case& c) {
  const auto fused = head_cross_entropy({group_of(c)}, c.head());
  ASSERT_EQ(fused.losses.size(), 1u);
  const auto ref = reference(c);
  EXPECT_NEAR(fused.losses[0].item<double>(), ref.item<double>(), 1e-12);
  expect_grads_equal(0.7 * fused.losses[0], 0.7 * ref, {c.hidden, c.base, c.added, c.bias});
}

TEST(HeadCrossEntropy, EqualsAutogradOnOneTable) {
  expect_same(make_case(9, 50, 0, 7, false, 1));
}

TEST(HeadCrossEntropy, EqualsAutogradOnTwoPartsWithBias) {
  expect_same(make_case(11, 40, 13, 5, true, 2));
}

TEST(HeadCrossEntropy, GroupsAreSeparateTermsEachWithItsOwnGradientScale) {
  // Two groups sharing the head (the token CE and the coordinate CE): each loss is its own weighted mean,
  // and backward scales each group's rows by that loss's incoming gradient (here 0.3 and 2.5).
  Case a = make_case(7, 30, 9, 4, true, 3);
  Case b = make_case(5, 30, 9, 4, true, 4);
  b.base = a.base, b.added = a.added, b.bias = a.bias;
  const auto fused = head_cross_entropy({group_of(a), group_of(b)}, a.head(), /*want_argmax=*/true);
  ASSERT_EQ(fused.losses.size(), 2u);
  const auto ra = reference(a), rb = reference(b);
  EXPECT_NEAR(fused.losses[0].item<double>(), ra.item<double>(), 1e-12);
  EXPECT_NEAR(fused.losses[1].item<double>(), rb.item<double>(), 1e-12);
  const std::vector<torch::Tensor> wrt{a.hidden, b.hidden, a.base, a.added, a.bias};
  expect_grads_equal(0.3 * fused.losses[0] + 2.5 * fused.losses[1], 0.3 * ra + 2.5 * rb, wrt);
  // only the second term used: the first group's rows get no gradient, the head only the second's
  expect_grads_equal(fused.losses[1], rb, {b.hidden, a.base, a.added, a.bias});
  const auto none = grads_of(fused.losses[1], {a.hidden});
  EXPECT_EQ(none[0].abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(fused.argmax,
                           torch::cat({a.head().logits(a.hidden), a.head().logits(b.hidden)}).argmax(1)));
}

TEST(HeadCrossEntropy, FrozenPretrainedRowsGetNoGradient) {
  Case c = make_case(5, 30, 6, 4, false, 5);
  c.base = c.base.detach();  // the pretrained rows frozen, the added ones trained
  expect_same(c);
  const auto fused = head_cross_entropy({group_of(c)}, c.head());
  fused.losses[0].backward();
  EXPECT_FALSE(c.base.grad().defined());
  EXPECT_TRUE(c.added.grad().defined());
}

TEST(HeadCrossEntropy, EmptyGroupGivesZeroStillDifferentiable) {
  const Case c = make_case(0, 20, 0, 3, false, 6);
  const Case d = make_case(3, 20, 0, 3, false, 7);
  const auto only_empty = head_cross_entropy({group_of(c)}, c.head(), true);
  EXPECT_EQ(only_empty.losses[0].item<double>(), 0.0);
  EXPECT_EQ(only_empty.argmax.numel(), 0);
  only_empty.losses[0].backward();
  EXPECT_EQ(c.base.grad().abs().sum().item<double>(), 0.0);
  const auto mixed = head_cross_entropy({group_of(c), group_of(d)}, d.head());
  EXPECT_EQ(mixed.losses[0].item<double>(), 0.0);
  EXPECT_NEAR(mixed.losses[1].item<double>(), reference(d).item<double>(), 1e-12);
}

TEST(HeadCrossEntropy, NoGradModeGivesTheValueOnly) {
  const Case c = make_case(4, 20, 0, 3, false, 8);
  torch::NoGradGuard no_grad;
  const auto fused = head_cross_entropy({group_of(c)}, c.head());
  EXPECT_FALSE(fused.losses[0].requires_grad());
  EXPECT_NEAR(fused.losses[0].item<double>(), reference(c).item<double>(), 1e-12);
}

TEST(HeadCrossEntropy, NonFiniteHiddenGivesANonFiniteLoss) {
  Case c = make_case(3, 20, 0, 3, false, 9);
  c.hidden = c.hidden.detach().clone();
  c.hidden[1][0] = std::numeric_limits<double>::quiet_NaN();
  const auto fused = head_cross_entropy({group_of(c)}, c.head());
  EXPECT_FALSE(
      std::isfinite(fused.losses[0].item<double>()));  // the trainer's finite check then stops the run
}

TEST(HeadCrossEntropy, BadIdsAndShapesAreNamed) {
  Case c = make_case(3, 20, 0, 3, false, 10);
  HeadCEGroup g = group_of(c);
  g.ids = g.ids.clone();
  g.ids[0][1] = 20;
  EXPECT_THROW(head_cross_entropy({g}, c.head()), InputError);
  g = group_of(c);
  g.ids = g.ids.narrow(0, 0, 2);
  EXPECT_THROW(head_cross_entropy({g}, c.head()), InputError);
  g = group_of(c);
  g.hidden = g.hidden.narrow(1, 0, 2);
  EXPECT_THROW(head_cross_entropy({g}, c.head()), InputError);
}

// The trainer's tied table: rows looked up as the input, the same table as the head. With sparse_grad the
// lookup's gradient comes as the looked-up rows and autograd adds it into the head's dense gradient (or
// into the parameter's buffer); the table's gradient must be the dense path's, with one table and with the
// added rows held apart (the pretrained rows trained here too).
TEST(HeadCrossEntropy, SparseLookupGradientOfATiedTableEqualsTheDenseOne) {
  for (const int64_t V1 : {int64_t{0}, int64_t{7}}) {
    std::vector<torch::Tensor> grads[2];
    for (const bool sparse : {false, true}) {
      Case c = make_case(12, 30, V1, 6, false, 21);
      for (auto* t : {&c.base, &c.added})
        if (t->defined()) t->mutable_grad() = torch::zeros_like(*t);  // the trainer's dense buffers
      TokenTable table = c.head();
      table.sparse_grad = sparse;
      auto tokens = torch::randint(0, 30 + V1, {3, 5}, torch::kLong);
      tokens[0][0] = 0, tokens[1][1] = 0;  // a row looked up twice
      auto x = table.lookup(tokens).reshape({15, 6});
      auto hidden = torch::tanh(x.narrow(0, 0, 12) + c.hidden);
      auto out = head_cross_entropy({{hidden, c.ids, c.targets, c.weights}}, table, false);
      (out.losses[0] + x.pow(2).sum() * 0.1).backward();
      grads[sparse].push_back(c.base.grad());
      if (V1) grads[sparse].push_back(c.added.grad());
      for (const auto& g : grads[sparse]) EXPECT_FALSE(g.is_sparse());
    }
    ASSERT_EQ(grads[0].size(), grads[1].size());
    for (size_t i = 0; i < grads[0].size(); ++i) {
      EXPECT_GT(grads[0][i].abs().max().item<double>(), 0);
      EXPECT_TRUE(torch::allclose(grads[1][i], grads[0][i], 1e-12, 1e-14)) << "V1 " << V1 << " part " << i;
    }
  }
}

TEST(CoordBinTargets, HardAndTwoBinAsTheUnfusedLoss) {
  const CoordVocab vocab(16, 20);
  const auto coords = torch::tensor({0.15, 1.0, 0.0, 0.5}, kF64);
  const auto hard = coord_bin_targets(coords, vocab, CoordTarget::kHard);
  // round(c * 15): 2.25 -> 2, 15, 0, 7.5 -> 8 (half away from zero)
  EXPECT_TRUE(torch::equal(hard.ids.select(1, 0), torch::tensor({22, 35, 20, 28}, torch::kLong)));
  const auto two = coord_bin_targets(coords, vocab, CoordTarget::kTwoBin);
  EXPECT_TRUE(
      torch::equal(two.ids, torch::tensor({22, 23, 34, 35, 20, 21, 27, 28}, torch::kLong).view({4, 2})));
  EXPECT_TRUE(torch::allclose(two.weights,
                              torch::tensor({0.75, 0.25, 0.0, 1.0, 1.0, 0.0, 0.5, 0.5}, kF64).view({4, 2})));
}

}  // namespace
}  // namespace coordexp
