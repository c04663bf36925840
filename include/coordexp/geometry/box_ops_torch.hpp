// Box geometry on torch tensors for batches (differentiable): [..., 4] tensors in xyxy or cxcywh layout.
// Degenerate boxes give finite values and finite gradients: areas and enclosing areas are clamped below
// by kBoxEps before dividing, so an empty union gives IoU 0 rather than NaN.
#pragma once

#include <torch/types.h>

namespace coordexp {

// Smallest area divided by; far below one pixel of a 4096-pixel image in normalised units (6e-8).
constexpr double kBoxEps = 1e-9;

torch::Tensor box_xyxy_to_cxcywh(const torch::Tensor& boxes);  // [..., 4] -> [..., 4]
torch::Tensor box_cxcywh_to_xyxy(const torch::Tensor& boxes);  // [..., 4] -> [..., 4]
torch::Tensor box_area(const torch::Tensor& boxes_xyxy);       // [..., 4] -> [...]

// Pairwise: a [N, 4], b [M, 4] -> [N, M].
torch::Tensor box_iou_pairwise(const torch::Tensor& a_xyxy, const torch::Tensor& b_xyxy);
torch::Tensor generalized_box_iou_pairwise(const torch::Tensor& a_xyxy, const torch::Tensor& b_xyxy);

// Elementwise: a [N, 4], b [N, 4] -> [N].
torch::Tensor generalized_box_iou(const torch::Tensor& a_xyxy, const torch::Tensor& b_xyxy);

// min/max ordering of corners so x1 <= x2, y1 <= y2 (gradients flow to whichever value is chosen).
torch::Tensor legalize_boxes(const torch::Tensor& boxes_xyxy);  // [..., 4] -> [..., 4]

}  // namespace coordexp
