// Geometric loss terms for matched box pairs: l_coord = alpha * |b_hat - b|_1 + beta * (1 - GIoU(b_hat, b)).
// Each term returns its per-pair values [N]; the set criterion weights and normalises them (DETR convention:
// divided by the number of matched boxes).
#pragma once

#include <torch/types.h>

namespace coordexp {

torch::Tensor box_l1_loss(const torch::Tensor& pred_xyxy, const torch::Tensor& target_xyxy);  // [N,4] -> [N]
torch::Tensor box_giou_loss(const torch::Tensor& pred_xyxy,
                            const torch::Tensor& target_xyxy);  // [N,4] -> [N]

// The pairwise matching cost alpha * L1 + beta * (1 - GIoU): pred [N, 4], target [M, 4] -> [N, M].
torch::Tensor box_pair_cost(const torch::Tensor& pred_xyxy, const torch::Tensor& target_xyxy,
                            double l1_weight, double giou_weight);

}  // namespace coordexp
