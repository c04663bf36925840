// Token-level losses on LM-head logits. Shape letters: P supervised positions, V vocabulary, K coordinate
// bins. Each returns per-position values [P]; the criterion weights and averages them.
#pragma once

#include <torch/types.h>

#include <string>

#include "coordexp/text/coord_vocab.hpp"
#include "coordexp/text/token_table.hpp"

namespace coordexp {

enum class CoordTarget {
  kHard,    // one-hot on the nearest bin round(c * (K - 1))
  kTwoBin,  // Distribution Focal Loss target: mass split between the two bins around c * (K - 1),
            // proportional to closeness, so the target's expectation is exactly c
};
CoordTarget parse_coord_target(const std::string& name);  // "hard", "two_bin"

// Auxiliary CE at coordinate positions over the full vocabulary: logits [P, V], continuous targets [P] in
// [0, 1] -> [P]. The coordinate tokens' ids come from vocab.
torch::Tensor coord_bin_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target_coords,
                                      const CoordVocab& vocab, CoordTarget target);

// Cross-entropy terms on the LM head, fused. Each group g of positions gives the weighted mean
// sum_p w_p CE_p / sum_p w_p, CE_p = -sum_j t[p, j] log softmax(head.logits(h_p))[ids[p, j]], with a target
// spread over at most two ids (t rows summing to 1: the hard target is (id, id) with (1, 0), the two-bin
// target (lo, lo + 1) with (1 - w, w)). The same values and gradients as -log_softmax(head.logits)
// gathered at the targets (coord_bin_cross_entropy for coordinates) followed by the weighted mean, but every
// group's rows go through the head together, once: the [P, V] logits are turned into their gradient (softmax
// - target) * w / sum w in place and kept for backward, which multiplies it back with two matrix products for
// all groups, each row scaled by its group's incoming gradient. Autograd's version keeps the logits and
// log_softmax (two [P, V] tensors) and makes further passes over them (gather and its scatter, log_softmax's
// backward), and term by term it multiplies the head once per group. Also returns, when asked, each row's
// argmax id (the model's greedy token there, which the semantic matching cost reads).
struct HeadCEGroup {
  torch::Tensor hidden;   // [P_g, D]
  torch::Tensor ids;      // [P_g, 2] int64
  torch::Tensor targets;  // [P_g, 2]
  torch::Tensor weights;  // [P_g] >= 0
};
struct HeadCrossEntropy {
  std::vector<torch::Tensor> losses;  // one differentiable scalar per group (0 for an empty group)
  torch::Tensor argmax;               // [sum P_g] int64, the groups' rows in order (when asked)
};
HeadCrossEntropy head_cross_entropy(const std::vector<HeadCEGroup>& groups, const TokenTable& head,
                                    bool want_argmax = false);

// The targets of coord_bin_cross_entropy in head_cross_entropy's form: ids [P, 2] of coordinate tokens and
// their weights [P, 2] (double) for continuous coordinates [P] in [0, 1].
struct TwoIdTargets {
  torch::Tensor ids, weights;
};
TwoIdTargets coord_bin_targets(const torch::Tensor& target_coords, const CoordVocab& vocab,
                               CoordTarget target);

// Distribution terms at coordinate positions (the public reference implementation's recipe), each [P] from
// the coordinate logits [P, K] (the K coordinate columns of the head) and continuous targets [P] in [0, 1];
// p is the softmax over the K bins only, phi(k) = k / (K - 1), t = target * (K - 1):
//  - Gaussian soft-label CE: -sum_k q_k log p_k with q_k proportional to exp(-(k - t)^2 / (2 sigma^2)),
//    sigma in bins;
//  - Wasserstein-1 to the target point: sum_k p_k |phi(k) - target| (normalised units);
torch::Tensor coord_gaussian_ce(const torch::Tensor& coord_logits, const torch::Tensor& target_coords,
                                double sigma_bins);
torch::Tensor coord_wasserstein1(const torch::Tensor& coord_logits, const torch::Tensor& target_coords);
//  - the gate: the probability mass the full head puts outside the coordinate tokens at a coordinate
//    position, as -log sum_{k coordinate} softmax(logits)_k, from the full logits [P, V]. The hard
//    coordinate CE over the full vocabulary is the hard CE over the K bins plus this term.
torch::Tensor coord_gate(const torch::Tensor& logits, const CoordVocab& vocab);

// Unlikelihood -log(1 - p(token)) at positions: logits [P, V], tokens [P] -> [P]. Penalises a token the
// model should not have written (e.g. the <obj_start> of a hallucinated object).
torch::Tensor token_unlikelihood(const torch::Tensor& logits, const torch::Tensor& tokens);

}  // namespace coordexp
