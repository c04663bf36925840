// Token CE, auxiliary coordinate CE (hard and two-bin) and unlikelihood (see text_loss.hpp).
#include "coordexp/loss/text_loss.hpp"

#include <torch/torch.h>

#include "coordexp/util/error.hpp"

namespace coordexp {

CoordTarget parse_coord_target(const std::string& name) {
  if (name == "hard") return CoordTarget::kHard;
  if (name == "two_bin") return CoordTarget::kTwoBin;
  throw_input_error("coordinate CE target", "one of hard, two_bin", "\"" + name + "\"");
}

torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  auto logp = torch::log_softmax(logits, -1);               // [P, V]
  return -logp.gather(1, targets.unsqueeze(1)).squeeze(1);  // [P]
}

torch::Tensor coord_bin_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target_coords,
                                      const CoordVocab& vocab, CoordTarget target) {
  const int64_t K = vocab.num_bins();
  auto logp = torch::log_softmax(logits, -1);                            // [P, V]
  auto scaled = target_coords.to(torch::kDouble).clamp(0, 1) * (K - 1);  // [P]
  if (target == CoordTarget::kHard) {
    // round half away from zero, as CoordVocab::quantize does (scaled >= 0 here)
    auto bins = torch::floor(scaled + 0.5).to(torch::kLong);
    return -logp.gather(1, (bins + vocab.first_id()).unsqueeze(1)).squeeze(1);
  }
  auto lo = torch::floor(scaled).clamp_max(K - 2);     // [P], left bin, so lo + 1 <= K - 1
  auto w_hi = (scaled - lo).to(logits.scalar_type());  // weight of the right bin
  auto ids = torch::stack({lo, lo + 1}, 1).to(torch::kLong) + vocab.first_id();  // [P, 2]
  auto lp = logp.gather(1, ids);                                                 // [P, 2]
  return -((1 - w_hi) * lp.select(1, 0) + w_hi * lp.select(1, 1));
}

torch::Tensor token_unlikelihood(const torch::Tensor& logits, const torch::Tensor& tokens) {
  auto logp = torch::log_softmax(logits, -1).gather(1, tokens.unsqueeze(1)).squeeze(1);  // [P]
  // 1 - p is clamped before the log (not after) so that p == 1 gives a finite value and a finite gradient.
  return -torch::log((1 - logp.exp()).clamp_min(1e-12));
}

}  // namespace coordexp
