// CoordExp forward and hand-written backward, side by side as torch::autograd::Functions.
// Derivative: with p = softmax(z / tau) and c = sum_k phi_k p_k,
//   dc/dz_k = p_k (phi_k - c) / tau
// so for an upstream gradient g [P] the logit gradient is g_z = g * p * (phi - c) / tau  [P, K], and the
// fused path chains it through z = h W^T + b: dh = g_z W, dW = g_z^T h, db = sum_P g_z.
#include "coordexp/loss/coord_expectation.hpp"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void check_tau(double tau) {
  COORDEXP_CHECK_ARG(std::isfinite(tau) && tau > 0, "tau", "a finite temperature > 0", std::to_string(tau));
}

// p [P, K] and c [P] from logits; throws on a non-finite result.
std::pair<torch::Tensor, torch::Tensor> expectation(const torch::Tensor& logits, double tau) {
  const int64_t K = logits.size(1);
  COORDEXP_CHECK_ARG(K >= 2, "coordinate logits", "at least 2 coordinate bins (K >= 2)", std::to_string(K));
  auto p = torch::softmax(logits / tau, 1);                      // [P, K]
  auto c = torch::mv(p, coord_bin_values(K, logits.options()));  // [P]
  auto bad = torch::logical_not(torch::isfinite(c));
  if (bad.any().item<bool>()) {
    const int64_t pos = bad.nonzero()[0][0].item<int64_t>();
    throw_input_error("coord_expectation: coordinate position " + std::to_string(pos),
                      "finite coordinate logits", "NaN or inf",
                      "check the model's hidden states for divergence");
  }
  return {p, c};
}

// g_z = g * p * (phi - c) / tau: the gradient of c with respect to the logits, times upstream g.
torch::Tensor logit_grad(const torch::Tensor& g, const torch::Tensor& p, const torch::Tensor& c, double tau) {
  auto phi = coord_bin_values(p.size(1), p.options());                    // [K]
  return g.unsqueeze(1) * p * (phi.unsqueeze(0) - c.unsqueeze(1)) / tau;  // [P, K]
}

struct CoordExpectationFused : public torch::autograd::Function<CoordExpectationFused> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& bias, double tau) {
    auto z = torch::matmul(hidden, weight.t());  // [P, K]
    const bool has_bias = bias.numel() > 0;      // an empty tensor stands for "no bias"
    if (has_bias) z = z + bias;
    auto [p, c] = expectation(z, tau);
    // Saved: h and W for the chain through z = h W^T + b, and p (c is recomputed from p); no [P, V] buffer.
    ctx->save_for_backward({hidden, weight, p});
    ctx->saved_data["tau"] = tau;
    ctx->saved_data["has_bias"] = has_bias;
    return c;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& hidden = saved[0];
    const auto& weight = saved[1];
    const auto& p = saved[2];
    const double tau = ctx->saved_data["tau"].toDouble();
    auto c = torch::mv(p, coord_bin_values(p.size(1), p.options()));                   // [P]
    auto gz = logit_grad(grad_out[0], p, c, tau);                                      // [P, K]
    auto d_hidden = torch::matmul(gz, weight);                                         // [P, D]
    auto d_weight = torch::matmul(gz.t(), hidden);                                     // [K, D]
    auto d_bias = ctx->saved_data["has_bias"].toBool() ? gz.sum(0) : torch::Tensor();  // [K]
    return {d_hidden, d_weight, d_bias, torch::Tensor()};
  }
};

struct CoordExpectationFromLogits : public torch::autograd::Function<CoordExpectationFromLogits> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits, double tau) {
    auto [p, c] = expectation(logits, tau);
    ctx->save_for_backward({p, c});  // the logit gradient needs p and c only
    ctx->saved_data["tau"] = tau;
    return c;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    return {logit_grad(grad_out[0], saved[0], saved[1], ctx->saved_data["tau"].toDouble()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor coord_bin_values(int64_t num_bins, const torch::TensorOptions& options) {
  return torch::arange(num_bins, options) / static_cast<double>(num_bins - 1);
}

torch::Tensor coord_expectation(const torch::Tensor& hidden, const torch::Tensor& coord_weight,
                                const torch::Tensor& coord_bias, double tau) {
  check_tau(tau);
  COORDEXP_CHECK_ARG(
      hidden.dim() == 2 && coord_weight.dim() == 2 && hidden.size(1) == coord_weight.size(1),
      "hidden/coord_weight", "hidden [P, D] and coord_weight [K, D] with the same D",
      "hidden " + c10::str(hidden.sizes()) + ", coord_weight " + c10::str(coord_weight.sizes()));
  COORDEXP_CHECK_ARG(
      !coord_bias.defined() || (coord_bias.dim() == 1 && coord_bias.size(0) == coord_weight.size(0)),
      "coord_bias", "[K] matching coord_weight", c10::str(coord_bias.sizes()));
  if (hidden.size(0) == 0) return torch::zeros({0}, hidden.options()) + 0 * coord_weight.sum();
  // LibTorch 1.13's Function::apply rejects undefined inputs, so "no bias" travels as an empty tensor.
  const torch::Tensor bias = coord_bias.defined() ? coord_bias : torch::empty({0}, coord_weight.options());
  return CoordExpectationFused::apply(hidden, coord_weight, bias, tau);
}

torch::Tensor coord_expectation_from_logits(const torch::Tensor& coord_logits, double tau) {
  check_tau(tau);
  COORDEXP_CHECK_ARG(coord_logits.dim() == 2, "coord_logits", "a [P, K] tensor",
                     c10::str(coord_logits.sizes()));
  if (coord_logits.size(0) == 0) return torch::zeros({0}, coord_logits.options()) + 0 * coord_logits.sum();
  return CoordExpectationFromLogits::apply(coord_logits, tau);
}

}  // namespace coordexp
