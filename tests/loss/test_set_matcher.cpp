// The set matcher on hand-made boxes: Hungarian recovers a permutation of the ground truth and is
// rectangular (N != M) with the minimum-cost pairs; index matching follows source_index and falls back to
// the position; the IoU floor declares weak pairs unmatched; empty sets give no pairs; the semantic cost
// breaks a geometric tie and needs an embedder.
#include <gtest/gtest.h>
#include <torch/torch.h>

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
