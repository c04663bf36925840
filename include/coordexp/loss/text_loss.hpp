// Token-level losses on LM-head logits. Shape letters: P supervised positions, V vocabulary, K coordinate
// bins. Each returns per-position values [P]; the criterion weights and averages them.
#pragma once

#include <torch/types.h>

#include <string>

#include "coordexp/text/coord_vocab.hpp"

namespace coordexp {

// -log softmax(logits)[target]: logits [P, V], targets [P] (int64) -> [P].
torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

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

// Unlikelihood -log(1 - p(token)) at positions: logits [P, V], tokens [P] -> [P]. Penalises a token the
// model should not have written (e.g. the <obj_start> of a hallucinated object).
torch::Tensor token_unlikelihood(const torch::Tensor& logits, const torch::Tensor& tokens);

}  // namespace coordexp
