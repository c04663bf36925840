// Tensor box geometry agrees with the plain-double geometry, and degenerate boxes give finite values and
// finite gradients; the GIoU loss gradient matches finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "coordexp/geometry/box.hpp"
#include "coordexp/geometry/box_ops_torch.hpp"
#include "coordexp/loss/box_loss.hpp"

namespace coordexp {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

torch::Tensor random_boxes(int64_t n) {
  auto a = torch::rand({n, 2}, kF64), b = torch::rand({n, 2}, kF64);
  return torch::cat({torch::minimum(a, b), torch::maximum(a, b)}, 1);
}

BoxXYXY row(const torch::Tensor& t, int64_t i) {
  return {t[i][0].item<double>(), t[i][1].item<double>(), t[i][2].item<double>(), t[i][3].item<double>()};
}

TEST(BoxOpsTorch, PairwiseAgreesWithPlainGeometry) {
  torch::manual_seed(0);
  auto a = random_boxes(7), b = random_boxes(5);
  auto iou = box_iou_pairwise(a, b), giou = generalized_box_iou_pairwise(a, b);
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_NEAR(iou[i][j].item<double>(), box_iou(row(a, i), row(b, j)), 1e-12);
      EXPECT_NEAR(giou[i][j].item<double>(), box_giou(row(a, i), row(b, j)), 1e-12);
    }
  auto elem = generalized_box_iou(a.narrow(0, 0, 5), b);
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(elem[i].item<double>(), giou[i][i].item<double>(), 1e-15);
}

TEST(BoxOpsTorch, ConversionsRoundTrip) {
  auto a = random_boxes(9);
  EXPECT_LT((box_cxcywh_to_xyxy(box_xyxy_to_cxcywh(a)) - a).abs().max().item<double>(), 1e-15);
}

TEST(BoxOpsTorch, DegenerateBoxesHaveFiniteValuesAndGradients) {
  auto pred = torch::tensor({0.5, 0.5, 0.5, 0.5, 0.2, 0.3, 0.2, 0.3, 0.1, 0.1, 0.4, 0.1}, kF64).view({3, 4});
  auto gt = torch::tensor({0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0, 1.0, 0.1, 0.1, 0.4, 0.1}, kF64).view({3, 4});
  auto p = pred.clone().requires_grad_(true);
  auto loss = box_giou_loss(legalize_boxes(p), gt).sum() + box_l1_loss(legalize_boxes(p), gt).sum();
  ASSERT_TRUE(std::isfinite(loss.item<double>()));
  loss.backward();
  EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << p.grad();
  EXPECT_TRUE(torch::isfinite(generalized_box_iou_pairwise(pred, gt)).all().item<bool>());
}

TEST(BoxOpsTorch, LegalizeOrdersCornersAndRoutesGradients) {
  auto b = torch::tensor({0.8, 0.1, 0.2, 0.9}, kF64).view({1, 4}).requires_grad_(true);
  auto l = legalize_boxes(b);
  EXPECT_LT((l - torch::tensor({0.2, 0.1, 0.8, 0.9}, kF64).view({1, 4})).abs().max().item<double>(), 1e-15);
  (l * torch::tensor({1.0, 2.0, 3.0, 4.0}, kF64).view({1, 4})).sum().backward();
  // x1' = min(0.8, 0.2) takes value index 2, x2' = max takes index 0
  EXPECT_LT((b.grad() - torch::tensor({3.0, 2.0, 1.0, 4.0}, kF64).view({1, 4})).abs().max().item<double>(),
            1e-15);
}

TEST(BoxOpsTorch, GIoULossGradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  auto pred = random_boxes(4), gt = random_boxes(4);
  auto p = pred.clone().requires_grad_(true);
  box_giou_loss(p, gt).sum().backward();
  const double eps = 1e-7;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t k = 0; k < 4; ++k) {
      auto up = pred.clone(), down = pred.clone();
      up[i][k] += eps;
      down[i][k] -= eps;
      const double fd =
          (box_giou_loss(up, gt).sum().item<double>() - box_giou_loss(down, gt).sum().item<double>()) /
          (2 * eps);
      EXPECT_NEAR(p.grad()[i][k].item<double>(), fd, 1e-6);
    }
}

TEST(BoxOpsTorch, PairCostIsWeightedL1PlusGIoU) {
  auto a = random_boxes(3), b = random_boxes(4);
  auto cost = box_pair_cost(a, b, 5.0, 2.0);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_NEAR(cost[i][j].item<double>(),
                  5 * box_l1_distance(row(a, i), row(b, j)) + 2 * (1 - box_giou(row(a, i), row(b, j))),
                  1e-12);
}

}  // namespace
}  // namespace coordexp
