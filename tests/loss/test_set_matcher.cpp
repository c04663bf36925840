// The set matcher on hand-made boxes: Hungarian recovers a permutation of the ground truth and is
// rectangular (N != M) with the minimum-cost pairs; index matching follows source_index and falls back to
// the position; the IoU floor declares weak pairs unmatched; empty sets give no pairs; the semantic cost
// breaks a geometric tie and needs an embedder.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "coordexp/loss/set_matcher.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

std::vector<DescribedBox> gt_boxes() {
  return {{{1}, {0.1, 0.1, 0.3, 0.3}}, {{2}, {0.5, 0.5, 0.9, 0.9}}, {{3}, {0.6, 0.1, 0.8, 0.4}}};
}

torch::Tensor boxes(const std::vector<BoxXYXY>& v) {
  std::vector<double> x;
  for (const auto& b : v) x.insert(x.end(), {b.x1, b.y1, b.x2, b.y2});
  return torch::tensor(x, torch::kDouble).view({static_cast<int64_t>(v.size()), 4});
}

MatcherConfig geometry() {
  MatcherConfig c;
  c.sem_weight = 0;
  return c;
}

std::vector<std::pair<int64_t, int64_t>> pairs(const MatchResult& r) {
  std::vector<std::pair<int64_t, int64_t>> p;
  for (size_t k = 0; k < r.pred_idx.size(); ++k) p.emplace_back(r.pred_idx[k], r.gt_idx[k]);
  std::sort(p.begin(), p.end());
  return p;
}

TEST(SetMatcher, HungarianFindsThePermutationAndIsRectangular) {
  const auto gt = gt_boxes();
  // predictions near gt 2, 0, 1 (in that order), slightly off
  const auto pred = boxes({{0.61, 0.12, 0.79, 0.41}, {0.11, 0.09, 0.31, 0.3}, {0.52, 0.5, 0.88, 0.9}});
  const std::vector<int64_t> none(3, -1);
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 2}, {1, 0}, {2, 1}};
  EXPECT_EQ(pairs(match_objects(pred, {{}, {}, {}}, none, gt, geometry(), nullptr)), expected);
  // two predictions, three ground truths: the two closest pairs
  const auto two = pred.narrow(0, 0, 2);
  const std::vector<std::pair<int64_t, int64_t>> two_expected{{0, 2}, {1, 0}};
  EXPECT_EQ(pairs(match_objects(two, {{}, {}}, {-1, -1}, gt, geometry(), nullptr)), two_expected);
  // four predictions, three ground truths: the far one is left out
  const auto four = torch::cat({pred, boxes({{0.0, 0.8, 0.1, 0.9}})});
  EXPECT_EQ(pairs(match_objects(four, {{}, {}, {}, {}}, {-1, -1, -1, -1}, gt, geometry(), nullptr)),
            expected);
}

// The smallest total L1 distance over every way to pair min(n, m) predictions with distinct ground truths.
double brute_force_l1(const std::vector<BoxXYXY>& pred, const std::vector<DescribedBox>& gt) {
  const auto l1 = [&](size_t i, size_t j) {
    return std::abs(pred[i].x1 - gt[j].box.x1) + std::abs(pred[i].y1 - gt[j].box.y1) +
           std::abs(pred[i].x2 - gt[j].box.x2) + std::abs(pred[i].y2 - gt[j].box.y2);
  };
  const bool rows_pred = pred.size() <= gt.size();  // permute the larger side
  std::vector<size_t> big(rows_pred ? gt.size() : pred.size());
  std::iota(big.begin(), big.end(), size_t{0});
  double best = std::numeric_limits<double>::infinity();
  do {
    double total = 0;
    for (size_t k = 0; k < std::min(pred.size(), gt.size()); ++k)
      total += rows_pred ? l1(k, big[k]) : l1(big[k], k);
    best = std::min(best, total);
  } while (std::next_permutation(big.begin(), big.end()));
  return best;
}

// A batch solved together gives every sequence an optimal matching of its own (against brute force on the
// L1 cost), empty sequences and empty ground truths included.
TEST(SetMatcher, BatchMatchingIsOptimalForEverySequence) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> size(0, 5);
  MatcherConfig c = geometry();
  c.giou_weight = 0;
  std::vector<std::vector<BoxXYXY>> preds;
  std::vector<std::vector<DescribedBox>> gts(40);
  std::vector<MatchInputs> inputs;
  for (int b = 0; b < 40; ++b) {
    std::vector<BoxXYXY> p;
    for (int i = size(rng); i > 0; --i) p.push_back({u(rng), u(rng), 1 + u(rng), 1 + u(rng)});
    for (int j = size(rng); j > 0; --j) gts[b].push_back({{1}, {u(rng), u(rng), 1 + u(rng), 1 + u(rng)}});
    preds.push_back(p);
  }
  for (int b = 0; b < 40; ++b)
    inputs.push_back({preds[b].empty() ? torch::zeros({0, 4}, torch::kDouble) : boxes(preds[b]),
                      std::vector<std::vector<TokenId>>(preds[b].size()),
                      std::vector<int64_t>(preds[b].size(), -1), &gts[b]});
  const auto results = match_objects_batch(inputs, c, nullptr, 2);
  ASSERT_EQ(results.size(), 40u);
  for (int b = 0; b < 40; ++b) {
    const auto& r = results[b];
    ASSERT_EQ(r.pred_idx.size(), std::min(preds[b].size(), gts[b].size())) << b;
    double total = 0;
    for (size_t k = 0; k < r.pred_idx.size(); ++k) {
      const BoxXYXY& p = preds[b][r.pred_idx[k]];
      const BoxXYXY& g = gts[b][r.gt_idx[k]].box;
      total += std::abs(p.x1 - g.x1) + std::abs(p.y1 - g.y1) + std::abs(p.x2 - g.x2) + std::abs(p.y2 - g.y2);
    }
    if (!r.pred_idx.empty()) {
      EXPECT_NEAR(total, brute_force_l1(preds[b], gts[b]), 1e-12) << b;
    }
    EXPECT_EQ(pairs(r), pairs(match_objects(inputs[b].pred, inputs[b].pred_desc, inputs[b].source_index,
                                            gts[b], c, nullptr)));
  }
}

TEST(SetMatcher, IndexMatchingFollowsTheSourceThenThePosition) {
  MatcherConfig c = geometry();
  c.matching = MatchingMode::kIndex;
  const auto pred = boxes({{0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}});
  // object 0 from gt 2, object 1 without a source (-> gt 1), object 2 from gt 0, object 3 beyond the gt
  const auto r = match_objects(pred, {{}, {}, {}, {}}, {2, -1, 0, -1}, gt_boxes(), c, nullptr);
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 2}, {1, 1}, {2, 0}};
  EXPECT_EQ(pairs(r), expected);
}

TEST(SetMatcher, IouFloorDeclaresWeakPairsUnmatched) {
  MatcherConfig c = geometry();
  const auto pred = boxes({{0.11, 0.1, 0.3, 0.3}, {0.0, 0.6, 0.2, 0.8}});  // one good, one far from all
  EXPECT_EQ(match_objects(pred, {{}, {}}, {-1, -1}, gt_boxes(), c, nullptr).pred_idx.size(), 2u);
  c.min_iou = 0.5;
  const auto r = match_objects(pred, {{}, {}}, {-1, -1}, gt_boxes(), c, nullptr);
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 0}};
  EXPECT_EQ(pairs(r), expected);
}

TEST(SetMatcher, EmptySetsGiveNoPairs) {
  const auto none = torch::zeros({0, 4}, torch::kDouble);
  EXPECT_TRUE(match_objects(none, {}, {}, gt_boxes(), geometry(), nullptr).pred_idx.empty());
  const auto one = boxes({{0.1, 0.1, 0.3, 0.3}});
  EXPECT_TRUE(match_objects(one, {{}}, {-1}, {}, geometry(), nullptr).pred_idx.empty());
}

// Embeds token id t as the unit vector e_t.
class OneHotEmbedder : public TextEmbedder {
 public:
  torch::Tensor embed(const std::vector<std::vector<TokenId>>& d) const override {
    auto e = torch::zeros({static_cast<int64_t>(d.size()), 8});
    for (size_t i = 0; i < d.size(); ++i)
      for (TokenId t : d[i]) e[i][t] += 1;
    return e;
  }
};

TEST(SetMatcher, SemanticCostBreaksAGeometricTieAndNeedsAnEmbedder) {
  // two ground truths with the same box, different descriptions; two identical predicted boxes
  const std::vector<DescribedBox> gt{{{1}, {0.2, 0.2, 0.6, 0.6}}, {{2}, {0.2, 0.2, 0.6, 0.6}}};
  const auto pred = boxes({{0.2, 0.2, 0.6, 0.6}, {0.2, 0.2, 0.6, 0.6}});
  MatcherConfig c;  // semantic weight 1
  const OneHotEmbedder embedder;
  const std::vector<std::pair<int64_t, int64_t>> crossed{{0, 1}, {1, 0}};
  EXPECT_EQ(pairs(match_objects(pred, {{2}, {1}}, {-1, -1}, gt, c, &embedder)), crossed);
  EXPECT_THROW(match_objects(pred, {{2}, {1}}, {-1, -1}, gt, c, nullptr), InputError);
}

TEST(SetMatcher, ParsesItsModes) {
  EXPECT_EQ(parse_matching_mode("index"), MatchingMode::kIndex);
  EXPECT_EQ(parse_matching_mode("hungarian"), MatchingMode::kHungarian);
  EXPECT_THROW(parse_matching_mode("greedy"), InputError);
}

}  // namespace
}  // namespace coordexp
