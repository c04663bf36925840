// CoordExp: the differentiable expected coordinate. At a coordinate position, p = softmax(z / tau) over
// the K coordinate logits z and c_hat = sum_k phi(k) p_k with phi(k) = k / (K - 1).
// Shape letters: P coordinate positions, D width, K coordinate bins.
// Contract: tau > 0 and finite; K >= 2; a non-finite result (NaN/inf logits) throws InputError naming the
// first bad position instead of returning a silent NaN. Double backward is not supported.
#pragma once

#include <torch/types.h>

namespace coordexp {

// phi(k) = k / (K - 1) for k = 0..K-1: [K].
torch::Tensor coord_bin_values(int64_t num_bins, const torch::TensorOptions& options);

// Fused path: only the K coordinate rows of the LM head are multiplied, never the full vocabulary.
//   hidden        [P, D]  final hidden states at the positions that predict a coordinate token
//   coord_weight  [K, D]  the LM-head rows of <coord_0>..<coord_{K-1}> (a narrow() view of the head works)
//   coord_bias    [K] or undefined
// returns c_hat  [P] in [0, 1]
torch::Tensor coord_expectation(const torch::Tensor& hidden, const torch::Tensor& coord_weight,
                                const torch::Tensor& coord_bias, double tau);

// Plain path on given coordinate logits [P, K] -> [P].
torch::Tensor coord_expectation_from_logits(const torch::Tensor& coord_logits, double tau);

}  // namespace coordexp
