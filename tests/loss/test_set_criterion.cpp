// The set criterion on hand-built batches: Hungarian L_coord is the minimum over assignments, invariant to
// the order of the ground truth; batch matching equals per-image matching; empty sets; Monte Carlo weights
// average exactly; unlikelihood on unmatched predictions; semantic cost; gradients by finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "coordexp/geometry/box.hpp"
#include "coordexp/loss/set_criterion.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);
constexpr int64_t kV = 40, kD = 6, kPrefix = 2;
const CoordVocab kVocab(16, 20);
const StructureTokens kSt{10, 11, 12};

struct Seq {
  std::vector<TokenId> ids;
  std::vector<uint8_t> roles;
  CriterionSample sample;
};

// prefix tokens (unsupervised) + the encoded answer; spans shifted to sequence positions.
Seq make_seq(const std::vector<DescribedBox>& gt, const std::vector<int64_t>& order, double weight = 1.0) {
  Seq s;
  const EncodedAnswer a = encode_answer(gt, order, kVocab, kSt);
  s.ids = {0, 1};
  s.roles = {kRoleNone, kRoleNone};
  for (size_t i = 0; i < a.ids.size(); ++i) {
    s.ids.push_back(a.ids[i]);
    s.roles.push_back(static_cast<uint8_t>(a.roles[i]));
  }
  for (auto span : a.objects) {
    span.open_pos += kPrefix;
    for (auto& p : span.desc_pos) p += kPrefix;
    for (auto& p : span.coord_pos) p += kPrefix;
    s.sample.objects.push_back(span);
  }
  s.sample.ground_truth = gt;
  s.sample.weight = weight;
  return s;
}

struct Batch {
  CriterionBatch batch;
  torch::Tensor hidden, W;
};

Batch make_batch(const std::vector<Seq>& seqs, const torch::Tensor& hidden_pool, const torch::Tensor& W) {
  const int64_t B = seqs.size();
  int64_t T = 0;
  for (const auto& s : seqs) T = std::max<int64_t>(T, s.ids.size());
  Batch out;
  auto tokens = torch::zeros({B, T}, torch::kLong);
  auto roles = torch::full({B, T}, kRoleNone, torch::kUInt8);
  for (int64_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < seqs[b].ids.size(); ++t) {
      tokens[b][t] = seqs[b].ids[t];
      roles[b][t] = seqs[b].roles[t];
    }
    out.batch.samples.push_back(seqs[b].sample);
  }
  out.hidden = hidden_pool.narrow(0, 0, B).narrow(1, 0, T).clone().requires_grad_(true);
  out.W = W.clone().requires_grad_(true);
  out.batch.hidden = out.hidden;
  out.batch.tokens = tokens;
  out.batch.roles = roles;
  out.batch.lm_head = TokenTable{out.W, {}, {}};
  return out;
}

std::vector<DescribedBox> four_objects() {
  return {{{1}, {0.1, 0.1, 0.4, 0.5}},
          {{2}, {0.5, 0.2, 0.9, 0.6}},
          {{3}, {0.2, 0.6, 0.5, 0.95}},
          {{1, 2}, {0.6, 0.7, 0.8, 0.9}}};
}

CriterionConfig geometry_only(MatchingMode mode) {
  CriterionConfig c;
  c.coord_ce = false;
  c.match_sem_weight = 0;
  c.matching = mode;
  return c;
}

BoxXYXY box_row(const torch::Tensor& t, int64_t i) {
  return {t[i][0].item<double>(), t[i][1].item<double>(), t[i][2].item<double>(), t[i][3].item<double>()};
}

TEST(SetCriterion, HungarianCoordLossIsTheMinimumOverAssignments) {
  torch::manual_seed(0);
  const auto gt = four_objects();
  auto b = make_batch({make_seq(gt, {0, 1, 2, 3})}, torch::randn({1, 64, kD}, kF64) * 2,
                      torch::randn({kV, kD}, kF64));
  const SetCriterion crit(geometry_only(MatchingMode::kHungarian), kVocab, kSt);
  const auto out = crit(b.batch, nullptr);
  const double coord =
      5 * out.losses.value("l1").item<double>() + 2 * out.losses.value("giou").item<double>();
  std::vector<int> perm{0, 1, 2, 3};
  double best = 1e300;
  do {
    double s = 0;
    for (int i = 0; i < 4; ++i) {
      const BoxXYXY p = box_row(out.pred_boxes, i);
      s += 5 * box_l1_distance(p, gt[perm[i]].box) + 2 * (1 - box_giou(p, gt[perm[i]].box));
    }
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_NEAR(coord, best / 4, 1e-10);
  EXPECT_EQ(out.num_matched, 4);
  EXPECT_TRUE(out.finite());
}

TEST(SetCriterion, IndexMatchingPairsEachObjectWithItsSource) {
  torch::manual_seed(1);
  const auto gt = four_objects();
  auto b =
      make_batch({make_seq(gt, {2, 0, 3, 1})}, torch::randn({1, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  const auto out = SetCriterion(geometry_only(MatchingMode::kIndex), kVocab, kSt)(b.batch, nullptr);
  EXPECT_EQ(out.matches[0].pred_idx, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(out.matches[0].gt_idx, (std::vector<int64_t>{2, 0, 3, 1}));
  double l1 = 0;
  for (int i = 0; i < 4; ++i)
    l1 += box_l1_distance(box_row(out.pred_boxes, i), gt[out.matches[0].gt_idx[i]].box);
  EXPECT_NEAR(out.losses.value("l1").item<double>(), l1 / 4, 1e-12);
}

TEST(SetCriterion, HungarianIsInvariantToGroundTruthListOrder) {
  torch::manual_seed(2);
  const auto gt = four_objects();
  const auto pool = torch::randn({1, 64, kD}, kF64);
  const auto W = torch::randn({kV, kD}, kF64);
  auto b1 = make_batch({make_seq(gt, {0, 1, 2, 3})}, pool, W);
  auto b2 = b1;
  std::vector<DescribedBox> shuffled = {gt[3], gt[1], gt[0], gt[2]};
  b2.batch.samples[0].ground_truth = shuffled;
  const SetCriterion crit(geometry_only(MatchingMode::kHungarian), kVocab, kSt);
  const auto o1 = crit(b1.batch, nullptr), o2 = crit(b2.batch, nullptr);
  EXPECT_NEAR(o1.total().item<double>(), o2.total().item<double>(), 1e-12);
}

TEST(SetCriterion, BatchMatchingEqualsPerImageMatching) {
  torch::manual_seed(3);
  const auto gt = four_objects();
  std::vector<DescribedBox> gt2 = {gt[1], gt[3]};
  const auto pool = torch::randn({2, 64, kD}, kF64);
  const auto W = torch::randn({kV, kD}, kF64);
  const SetCriterion crit(geometry_only(MatchingMode::kHungarian), kVocab, kSt);
  auto both = make_batch({make_seq(gt, {0, 1, 2, 3}), make_seq(gt2, {1, 0})}, pool, W);
  const auto ob = crit(both.batch, nullptr);
  auto first = make_batch({make_seq(gt, {0, 1, 2, 3})}, pool.narrow(0, 0, 1), W);
  auto second = make_batch({make_seq(gt2, {1, 0})}, pool.narrow(0, 1, 1), W);
  // the second image must see the same hidden states as in the batch (rows of pool), and the same length
  second.hidden = pool.narrow(0, 1, 1).narrow(1, 0, both.batch.hidden.size(1)).clone();
  second.batch.hidden = second.hidden;
  second.batch.tokens = both.batch.tokens.narrow(0, 1, 1);
  second.batch.roles = both.batch.roles.narrow(0, 1, 1);
  EXPECT_EQ(ob.matches[0].gt_idx, crit(first.batch, nullptr).matches[0].gt_idx);
  EXPECT_EQ(ob.matches[1].gt_idx, crit(second.batch, nullptr).matches[0].gt_idx);
}

TEST(SetCriterion, EmptyPredictionsAndEmptyGroundTruthAreFinite) {
  torch::manual_seed(4);
  const auto gt = four_objects();
  Seq none = make_seq({}, {});  // an image with no objects: the answer is just its end token
  Seq missed = make_seq(gt, {0, 1});
  missed.sample.objects.clear();  // predictions absent while ground truth exists
  auto b = make_batch({none, missed}, torch::randn({2, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  for (auto mode : {MatchingMode::kIndex, MatchingMode::kHungarian}) {
    const auto out = SetCriterion(geometry_only(mode), kVocab, kSt)(b.batch, nullptr);
    EXPECT_TRUE(out.finite()) << out.describe();
    EXPECT_EQ(out.num_matched, 0);
    EXPECT_EQ(out.num_unmatched_gt, 4);
    EXPECT_EQ(out.losses.value("l1").item<double>(), 0);
    out.total().backward();
    EXPECT_TRUE(torch::isfinite(b.hidden.grad()).all().item<bool>());
    b.hidden.grad().zero_();
  }
}

TEST(SetCriterion, MonteCarloOrderingsAverageExactly) {
  torch::manual_seed(5);
  const auto gt = four_objects();
  const auto pool = torch::randn({2, 64, kD}, kF64);
  const auto W = torch::randn({kV, kD}, kF64);
  CriterionConfig cfg;
  cfg.match_sem_weight = 0;
  cfg.coord_ce_target = CoordTarget::kTwoBin;
  const SetCriterion crit(cfg, kVocab, kSt);
  const std::vector<int64_t> o1{0, 1, 2, 3}, o2{3, 1, 0, 2};
  auto both = make_batch({make_seq(gt, o1, 0.5), make_seq(gt, o2, 0.5)}, pool, W);
  auto a = make_batch({make_seq(gt, o1)}, pool.narrow(0, 0, 1), W);
  auto c = make_batch({make_seq(gt, o2)}, pool.narrow(0, 1, 1), W);
  const double avg =
      (crit(a.batch, nullptr).total().item<double>() + crit(c.batch, nullptr).total().item<double>()) / 2;
  EXPECT_NEAR(crit(both.batch, nullptr).total().item<double>(), avg, 1e-12);
}

TEST(SetCriterion, UnmatchedPredictionsPayUnlikelihoodOnTheirOpeningToken) {
  torch::manual_seed(6);
  const auto gt = four_objects();
  Seq s = make_seq(gt, {0, 1, 2});
  s.sample.ground_truth = {gt[0], gt[1]};  // three predictions, two ground-truth objects
  for (auto& o : s.sample.objects) o.source_index = -1;
  auto b = make_batch({s}, torch::randn({1, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  CriterionConfig cfg = geometry_only(MatchingMode::kHungarian);
  cfg.unmatched = UnmatchedPolicy::kUnlikelihood;
  const auto out = SetCriterion(cfg, kVocab, kSt)(b.batch, nullptr);
  ASSERT_EQ(out.num_unmatched_pred, 1);
  std::vector<int64_t> pred = out.matches[0].pred_idx;
  int64_t u = 0;
  while (std::find(pred.begin(), pred.end(), u) != pred.end()) ++u;
  const int64_t row = s.sample.objects[u].open_pos - 1;
  auto p = torch::softmax(torch::matmul(b.hidden[0][row], b.W.t()), 0)[kSt.obj_start].item<double>();
  EXPECT_NEAR(out.losses.value("unmatched").item<double>(), -std::log(1 - p) / 3, 1e-12);
  cfg.unmatched = UnmatchedPolicy::kIgnore;
  EXPECT_EQ(SetCriterion(cfg, kVocab, kSt)(b.batch, nullptr).losses.terms().count("unmatched"), 0u);
}

TEST(SetCriterion, SemanticCostDecidesBetweenGeometricallyEqualPairs) {
  const BoxXYXY box{0.2, 0.2, 0.6, 0.6};
  std::vector<DescribedBox> gt = {{{3}, box}, {{4}, box}};
  Seq s = make_seq(gt, {1, 0});  // the sequence writes "4" first, then "3"
  for (auto& o : s.sample.objects) o.source_index = -1;
  s.sample.desc_from_sequence = true;
  torch::manual_seed(7);
  auto b = make_batch({s}, torch::randn({1, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  auto table = torch::zeros({kV, 3}, kF64);
  table[3][0] = 1;
  table[4][1] = 1;
  const MeanInputEmbedder embedder(table);
  CriterionConfig cfg;
  cfg.coord_ce = false;
  cfg.match_sem_weight = 1.0;
  const auto out = SetCriterion(cfg, kVocab, kSt)(b.batch, &embedder);
  EXPECT_EQ(out.matches[0].gt_idx, (std::vector<int64_t>{1, 0}));
  EXPECT_THROW(SetCriterion(cfg, kVocab, kSt)(b.batch, nullptr), InputError);
}

TEST(SetCriterion, TotalGradientMatchesFiniteDifferences) {
  torch::manual_seed(8);
  const auto gt = four_objects();
  CriterionConfig cfg;
  cfg.match_sem_weight = 0;
  cfg.coord_ce_target = CoordTarget::kTwoBin;
  cfg.tau = 0.8;
  const SetCriterion crit(cfg, kVocab, kSt);
  auto b =
      make_batch({make_seq(gt, {0, 1, 2, 3})}, torch::randn({1, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  crit(b.batch, nullptr).total().backward();
  auto h = b.hidden.detach().clone();
  CriterionBatch nb = b.batch;
  nb.hidden = h;
  nb.lm_head = TokenTable{b.W.detach(), {}, {}};
  torch::NoGradGuard ng;
  const double eps = 1e-6;
  // every coordinate position of object 1 and one description position
  std::vector<int64_t> rows;
  for (auto p : b.batch.samples[0].objects[1].coord_pos) rows.push_back(p - 1);
  rows.push_back(b.batch.samples[0].objects[0].desc_pos[0] - 1);
  for (int64_t t : rows)
    for (int64_t d = 0; d < kD; ++d) {
      const double orig = h[0][t][d].item<double>();
      h[0][t][d] = orig + eps;
      const double up = crit(nb, nullptr).total().item<double>();
      h[0][t][d] = orig - eps;
      const double down = crit(nb, nullptr).total().item<double>();
      h[0][t][d] = orig;
      EXPECT_NEAR(b.hidden.grad()[0][t][d].item<double>(), (up - down) / (2 * eps), 1e-6)
          << "t=" << t << " d=" << d;
    }
}

TEST(SetCriterion, CeOnlyBaselineHasNoGeometricTerms) {
  torch::manual_seed(9);
  CriterionConfig cfg;
  cfg.coord_weight = 0;
  cfg.matching = MatchingMode::kIndex;
  auto b = make_batch({make_seq(four_objects(), {0, 1, 2, 3})}, torch::randn({1, 64, kD}, kF64),
                      torch::randn({kV, kD}, kF64));
  const auto out = SetCriterion(cfg, kVocab, kSt)(b.batch, nullptr);
  EXPECT_EQ(out.losses.terms().count("l1"), 0u);
  EXPECT_EQ(out.losses.terms().count("giou"), 0u);
  EXPECT_EQ(out.losses.terms().count("coord_ce"), 1u);
  EXPECT_NEAR(out.total().item<double>(),
              out.losses.value("text_ce").item<double>() + out.losses.value("coord_ce").item<double>(),
              1e-12);
}

TEST(SetCriterion, TwoBinTargetSplitsMassByCloseness) {
  // K = 16: c = 0.15 -> scaled 2.25, so 0.75 on bin 2 and 0.25 on bin 3.
  auto logits = torch::zeros({1, kV}, kF64);
  logits[0][20 + 2] = 1.0;
  logits[0][20 + 3] = 2.0;
  const double lse = std::log(kV - 2 + std::exp(1.0) + std::exp(2.0));
  const auto ce = coord_bin_cross_entropy(logits, torch::tensor({0.15}, kF64), kVocab, CoordTarget::kTwoBin);
  EXPECT_NEAR(ce.item<double>(), -(0.75 * (1 - lse) + 0.25 * (2 - lse)), 1e-12);
  const auto hard = coord_bin_cross_entropy(logits, torch::tensor({0.15}, kF64), kVocab, CoordTarget::kHard);
  EXPECT_NEAR(hard.item<double>(), -(1 - lse), 1e-12);
  // c = 1 lands exactly on the last bin: all mass there
  const auto edge = coord_bin_cross_entropy(logits, torch::tensor({1.0}, kF64), kVocab, CoordTarget::kTwoBin);
  EXPECT_NEAR(edge.item<double>(), lse, 1e-12);
}

TEST(SetCriterion, DistributionTermsByHand) {
  // K = 16 bins, one position whose coordinate logits favour bins 2 and 3; target 0.15 -> t = 2.25 bins.
  auto z = torch::zeros({1, 16}, kF64);
  z[0][2] = 1.0;
  z[0][3] = 2.0;
  const auto target = torch::tensor({0.15}, kF64);
  const auto p = torch::softmax(z, 1)[0];
  double soft = 0, q_sum = 0, w1 = 0;
  std::vector<double> q(16);
  for (int k = 0; k < 16; ++k) q_sum += q[k] = std::exp(-std::pow(k - 2.25, 2) / (2 * 1.5 * 1.5));
  for (int k = 0; k < 16; ++k) {
    soft -= q[k] / q_sum * std::log(p[k].item<double>());
    w1 += p[k].item<double>() * std::abs(k / 15.0 - 0.15);
  }
  EXPECT_NEAR(coord_gaussian_ce(z, target, 1.5).item<double>(), soft, 1e-12);
  EXPECT_NEAR(coord_wasserstein1(z, target).item<double>(), w1, 1e-12);
  // the gate: full logits over kV = 40 ids, coordinates at 20..35; the rest at 0.5
  auto full = torch::full({1, kV}, 0.5, kF64);
  full.narrow(1, 20, 16).copy_(z);
  double in = 0, all = 0;
  for (int64_t v = 0; v < kV; ++v) {
    const double e = std::exp(full[0][v].item<double>());
    all += e;
    if (v >= 20 && v < 36) in += e;
  }
  EXPECT_NEAR(coord_gate(full, kVocab).item<double>(), -std::log(in / all), 1e-12);
  // hard CE over the full vocabulary = hard CE over the K bins + the gate
  const auto hard = coord_bin_cross_entropy(full, target, kVocab, CoordTarget::kHard);
  EXPECT_NEAR(hard.item<double>(), -torch::log_softmax(z, 1)[0][2].item<double>() + -std::log(in / all),
              1e-12);
  EXPECT_THROW(coord_gaussian_ce(z, target, 0.0), InputError);
}

TEST(SetCriterion, DistributionTermsEnterTheTotalWithTheirWeightsAndGradients) {
  torch::manual_seed(10);
  CriterionConfig cfg;
  cfg.match_sem_weight = 0;
  cfg.coord_ce = false;  // the reference's recipe without the hard CE: soft CE + gate + W1
  cfg.coord_soft_ce_weight = 0.7, cfg.coord_soft_sigma = 1.5, cfg.coord_gate_weight = 0.3,
  cfg.coord_w1_weight = 2;
  const SetCriterion crit(cfg, kVocab, kSt);
  auto b = make_batch({make_seq(four_objects(), {2, 0, 3, 1})}, torch::randn({1, 64, kD}, kF64),
                      torch::randn({kV, kD}, kF64));
  const auto out = crit(b.batch, nullptr);
  for (const char* name : {"coord_soft_ce", "coord_gate", "coord_w1"})
    EXPECT_EQ(out.losses.terms().count(name), 1u);
  EXPECT_EQ(out.losses.terms().count("coord_ce"), 0u);
  // the soft CE by hand from the hidden rows that predict object 0's coordinates (written bins as targets)
  const auto& obj = b.batch.samples[0].objects[0];
  double soft = 0, gate = 0;
  int n = 0;
  for (const auto& o : b.batch.samples[0].objects)
    for (int k = 0; k < 4; ++k, ++n) {
      const auto h = b.hidden[0][o.coord_pos[k] - 1].detach();
      const auto full = torch::matmul(b.W.detach(), h).unsqueeze(0);  // [1, V]
      soft += coord_gaussian_ce(full.narrow(1, 20, 16), torch::tensor({o.bins[k] / 15.0}, kF64), 1.5)
                  .item<double>();
      gate += coord_gate(full, kVocab).item<double>();
    }
  EXPECT_NEAR(out.losses.value("coord_soft_ce").item<double>(), soft / n, 1e-12);
  EXPECT_NEAR(out.losses.value("coord_gate").item<double>(), gate / n, 1e-12);
  // the total's gradient at a coordinate position, by finite differences
  out.total().backward();
  auto h = b.hidden.detach().clone();
  CriterionBatch nb = b.batch;
  nb.hidden = h;
  nb.lm_head = TokenTable{b.W.detach(), {}, {}};
  torch::NoGradGuard ng;
  const int64_t t = obj.coord_pos[1] - 1;
  for (int64_t d = 0; d < kD; ++d) {
    const double orig = h[0][t][d].item<double>(), eps = 1e-6;
    h[0][t][d] = orig + eps;
    const double up = crit(nb, nullptr).total().item<double>();
    h[0][t][d] = orig - eps;
    const double down = crit(nb, nullptr).total().item<double>();
    h[0][t][d] = orig;
    EXPECT_NEAR(b.hidden.grad()[0][t][d].item<double>(), (up - down) / (2 * eps), 1e-6) << "d=" << d;
  }
}

TEST(SetCriterion, BadConfigAndPositionsAreNamed) {
  CriterionConfig cfg;
  cfg.tau = 0;
  EXPECT_THROW(SetCriterion(cfg, kVocab, kSt), InputError);
  cfg = CriterionConfig{};
  cfg.l1_weight = -1;
  EXPECT_THROW(SetCriterion(cfg, kVocab, kSt), InputError);
  cfg = CriterionConfig{};
  cfg.coord_soft_sigma = 0;
  EXPECT_THROW(SetCriterion(cfg, kVocab, kSt), InputError);
  cfg = CriterionConfig{};
  cfg.coord_gate_weight = -0.5;
  EXPECT_THROW(SetCriterion(cfg, kVocab, kSt), InputError);
  Seq s = make_seq(four_objects(), {0});
  s.sample.objects[0].coord_pos[2] = 500;
  auto b = make_batch({s}, torch::randn({1, 64, kD}, kF64), torch::randn({kV, kD}, kF64));
  EXPECT_THROW(SetCriterion(geometry_only(MatchingMode::kIndex), kVocab, kSt)(b.batch, nullptr), InputError);
}

}  // namespace
}  // namespace coordexp
