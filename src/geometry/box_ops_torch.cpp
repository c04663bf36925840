// Differentiable box geometry on tensors (see box_ops_torch.hpp). Lives with the losses because only the
// LibTorch library builds it; the plain-double twin is src/geometry/box.cpp.
#include "coordexp/geometry/box_ops_torch.hpp"

#include <torch/torch.h>

namespace coordexp {

torch::Tensor box_xyxy_to_cxcywh(const torch::Tensor& b) {
  auto x1 = b.select(-1, 0), y1 = b.select(-1, 1), x2 = b.select(-1, 2), y2 = b.select(-1, 3);
  return torch::stack({(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1}, -1);
}

torch::Tensor box_cxcywh_to_xyxy(const torch::Tensor& b) {
  auto cx = b.select(-1, 0), cy = b.select(-1, 1), w = b.select(-1, 2), h = b.select(-1, 3);
  return torch::stack({cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, -1);
}

torch::Tensor box_area(const torch::Tensor& b) {
  return (b.select(-1, 2) - b.select(-1, 0)).clamp_min(0) * (b.select(-1, 3) - b.select(-1, 1)).clamp_min(0);
}

namespace {

// Intersection, union and hull areas of broadcastable box tensors a [..., 4], b [..., 4].
struct Overlap {
  torch::Tensor inter, uni, hull;
};

Overlap overlap(const torch::Tensor& a, const torch::Tensor& b) {
  auto lt = torch::maximum(a.narrow(-1, 0, 2), b.narrow(-1, 0, 2));
  auto rb = torch::minimum(a.narrow(-1, 2, 2), b.narrow(-1, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto inter = wh.select(-1, 0) * wh.select(-1, 1);
  auto uni = box_area(a) + box_area(b) - inter;
  auto hlt = torch::minimum(a.narrow(-1, 0, 2), b.narrow(-1, 0, 2));
  auto hrb = torch::maximum(a.narrow(-1, 2, 2), b.narrow(-1, 2, 2));
  auto hwh = (hrb - hlt).clamp_min(0);
  return {inter, uni, hwh.select(-1, 0) * hwh.select(-1, 1)};
}

torch::Tensor giou_from(const Overlap& o) {
  auto iou = o.inter / o.uni.clamp_min(kBoxEps);
  return iou - (o.hull - o.uni) / o.hull.clamp_min(kBoxEps);
}

}  // namespace

torch::Tensor box_iou_pairwise(const torch::Tensor& a, const torch::Tensor& b) {
  auto o = overlap(a.unsqueeze(1), b.unsqueeze(0));  // [N, M]
  return o.inter / o.uni.clamp_min(kBoxEps);
}

torch::Tensor generalized_box_iou_pairwise(const torch::Tensor& a, const torch::Tensor& b) {
  return giou_from(overlap(a.unsqueeze(1), b.unsqueeze(0)));  // [N, M]
}

torch::Tensor generalized_box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.sizes() == b.sizes(), "generalized_box_iou: shapes differ: ", a.sizes(), " vs ", b.sizes());
  return giou_from(overlap(a, b));  // [N]
}

torch::Tensor legalize_boxes(const torch::Tensor& b) {
  auto lo = torch::minimum(b.narrow(-1, 0, 2), b.narrow(-1, 2, 2));
  auto hi = torch::maximum(b.narrow(-1, 0, 2), b.narrow(-1, 2, 2));
  return torch::cat({lo, hi}, -1);
}

}  // namespace coordexp
