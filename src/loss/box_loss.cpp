// L1 and GIoU loss terms on box tensors (see box_loss.hpp).
#include "coordexp/loss/box_loss.hpp"

#include <torch/torch.h>

#include "coordexp/geometry/box_ops_torch.hpp"

namespace coordexp {

torch::Tensor box_l1_loss(const torch::Tensor& pred, const torch::Tensor& target) {
  return (pred - target).abs().sum(-1);
}

torch::Tensor box_giou_loss(const torch::Tensor& pred, const torch::Tensor& target) {
  return 1 - generalized_box_iou(pred, target);
}

torch::Tensor box_pair_cost(const torch::Tensor& pred, const torch::Tensor& target, double l1_weight,
                            double giou_weight) {
  auto l1 = torch::cdist(pred, target, /*p=*/1);           // [N, M]
  auto giou = generalized_box_iou_pairwise(pred, target);  // [N, M]
  return l1_weight * l1 + giou_weight * (1 - giou);
}

}  // namespace coordexp
