// Building blocks shared by the tiny V-LLM and Qwen2-VL (internal to src/model): RMSNorm, rotate-half for
// rotary embeddings, and scaled dot-product attention with an additive mask.
#pragma once

#include <torch/torch.h>

#include <cmath>

namespace coordexp::layers {

// x * rsqrt(mean(x^2) + eps) * weight (Qwen2RMSNorm; the tiny model's norm).
struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t dim, double eps) : eps(eps) {
    weight = register_parameter("weight", torch::ones({dim}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
  }
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RmsNorm);

// (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
inline torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// softmax(q k^T / sqrt(d) + mask) v for q [B, H, Lq, d], k/v [B, H, Lk, d], mask [Lq, Lk] additive or
// undefined.
inline torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const torch::Tensor& mask) {
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  if (mask.defined()) scores = scores + mask;
  return torch::matmul(torch::softmax(scores, -1), v);
}

}  // namespace coordexp::layers
