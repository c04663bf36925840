// Token CE, auxiliary coordinate CE (hard and two-bin) and unlikelihood (see text_loss.hpp).
#include "coordexp/loss/text_loss.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "coordexp/util/error.hpp"

namespace coordexp {

CoordTarget parse_coord_target(const std::string& name) {
  if (name == "hard") return CoordTarget::kHard;
  if (name == "two_bin") return CoordTarget::kTwoBin;
  throw_input_error("coordinate CE target", "one of hard, two_bin", "\"" + name + "\"");
}

TwoIdTargets coord_bin_targets(const torch::Tensor& target_coords, const CoordVocab& vocab,
                               CoordTarget target) {
  const int64_t K = vocab.num_bins();
  auto scaled = target_coords.to(torch::kDouble).clamp(0, 1) * (K - 1);  // [P]
  if (target == CoordTarget::kHard) {
    // round half away from zero, as CoordVocab::quantize does (scaled >= 0 here)
    auto id = torch::floor(scaled + 0.5).to(torch::kLong) + vocab.first_id();
    auto w = torch::stack({torch::ones_like(scaled), torch::zeros_like(scaled)}, 1);
    return {torch::stack({id, id}, 1), w};
  }
  auto lo = torch::floor(scaled).clamp_max(K - 2);  // [P], left bin, so lo + 1 <= K - 1
  auto w_hi = scaled - lo;                          // weight of the right bin
  return {torch::stack({lo, lo + 1}, 1).to(torch::kLong) + vocab.first_id(),
          torch::stack({1 - w_hi, w_hi}, 1)};
}

torch::Tensor coord_bin_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target_coords,
                                      const CoordVocab& vocab, CoordTarget target) {
  const TwoIdTargets t = coord_bin_targets(target_coords.to(logits.device()), vocab, target);
  auto lp = torch::log_softmax(logits, -1).gather(1, t.ids);  // [P, 2]
  return -(t.weights.to(logits.scalar_type()) * lp).sum(1);
}

torch::Tensor coord_gaussian_ce(const torch::Tensor& coord_logits, const torch::Tensor& target_coords,
                                double sigma_bins) {
  COORDEXP_CHECK_ARG(std::isfinite(sigma_bins) && sigma_bins > 0, "coord_soft_sigma",
                     "a finite sigma > 0 (bins)", std::to_string(sigma_bins));
  const int64_t K = coord_logits.size(1);
  const auto t = (target_coords.to(coord_logits.scalar_type()).clamp(0, 1) * (K - 1)).unsqueeze(1);  // [P, 1]
  const auto k = torch::arange(K, coord_logits.options()).unsqueeze(0);                              // [1, K]
  const auto q = torch::softmax(-(k - t).pow(2) / (2 * sigma_bins * sigma_bins), 1);                 // [P, K]
  return -(q * torch::log_softmax(coord_logits, 1)).sum(1);
}

torch::Tensor coord_wasserstein1(const torch::Tensor& coord_logits, const torch::Tensor& target_coords) {
  const int64_t K = coord_logits.size(1);
  const auto phi = torch::arange(K, coord_logits.options()) / static_cast<double>(K - 1);
  const auto dist =
      (phi.unsqueeze(0) - target_coords.to(coord_logits.scalar_type()).clamp(0, 1).unsqueeze(1)).abs();
  return (torch::softmax(coord_logits, 1) * dist).sum(1);
}

torch::Tensor coord_gate(const torch::Tensor& logits, const CoordVocab& vocab) {
  return torch::logsumexp(logits, 1) -
         torch::logsumexp(logits.narrow(1, vocab.first_id(), vocab.num_bins()), 1);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Logits of rows `h` [P, D] against the head's parts into one [P, V] buffer in h's dtype, each part
// multiplied straight into its columns (a bfloat16 part in bfloat16, as TokenTable::logits does).
torch::Tensor head_logits(const torch::Tensor& h, const torch::Tensor& base, const torch::Tensor& added,
                          const torch::Tensor& bias) {
  const int64_t V0 = base.size(0), V1 = added.numel() ? added.size(0) : 0;
  auto z = torch::empty({h.size(0), V0 + V1}, h.options());
  auto z0 = z.narrow(1, 0, V0);
  if (base.scalar_type() == h.scalar_type())
    torch::mm_out(z0, h, base.t());
  else
    z0.copy_(torch::mm(h.to(base.scalar_type()), base.t()));
  if (V1 > 0) {
    auto z1 = z.narrow(1, V0, V1);
    torch::mm_out(z1, h, added.t());
  }
  if (bias.numel()) z.add_(bias);
  return z;
}

// g [P, V] (the logits' gradient) times a head part [V_part, D] whose columns start at `first`.
torch::Tensor times_part(const torch::Tensor& g, const torch::Tensor& part, int64_t first) {
  auto gp = g.narrow(1, first, part.size(0));
  return part.scalar_type() == g.scalar_type()
             ? torch::mm(gp, part)
             : torch::mm(gp.to(part.scalar_type()), part).to(g.scalar_type());
}

class FusedHeadCrossEntropy : public torch::autograd::Function<FusedHeadCrossEntropy> {
 public:
  // hidden [P, D]; group [P] int64 in [0, G); coef [P] = w / (sum of w over the row's group); returns G
  // scalars. *argmax receives the rows' argmax ids when want_argmax.
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& base,
                               const torch::Tensor& added, const torch::Tensor& bias,
                               const torch::Tensor& ids, const torch::Tensor& targets,
                               const torch::Tensor& coef, const torch::Tensor& group, int64_t num_groups,
                               bool want_argmax, torch::Tensor* argmax) {
    auto z = head_logits(hidden, base, added, bias);  // [P, V]
    // One pass over the [P, V] logits finds each row's maximum and its id (the argmax); the logits then
    // become exp(z - max) in place, whose row sums give the log-sum-exp, and those become the gradient
    // (softmax * sum t - t) * coef in place: no [P, V] temporary.
    auto [zmax, zarg] = z.max(1);
    if (want_argmax) *argmax = zarg;
    const auto t = targets.to(hidden.scalar_type());
    const auto z_at_ids = z.gather(1, ids);  // [P, 2], before z changes
    z.sub_(zmax.unsqueeze(1)).exp_();
    const auto row_sum = z.sum(1);
    const auto lse = row_sum.log() + zmax;  // [P]
    const auto t_sum = t.sum(1);            // 1 for a distribution
    const auto ce = lse * t_sum - (t * z_at_ids).sum(1);
    auto losses = torch::zeros({num_groups}, hidden.options()).index_add_(0, group, coef * ce);
    z.mul_((t_sum * coef / row_sum).unsqueeze(1));
    z.scatter_add_(1, ids, -t * coef.unsqueeze(1));
    ctx->saved_data["grad_logits"] = z;
    ctx->saved_data["group"] = group;
    ctx->save_for_backward({hidden, base, added, bias});
    variable_list out;
    for (int64_t k = 0; k < num_groups; ++k) out.push_back(losses[k].clone());  // separate outputs, not views
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto &hidden = saved[0], &base = saved[1], &added = saved[2];  // saved[3]: the bias
    const auto g = ctx->saved_data["grad_logits"].toTensor();            // [P, V]
    const auto group = ctx->saved_data["group"].toTensor();
    std::vector<torch::Tensor> per_group;
    for (const auto& go : grad_out)
      per_group.push_back(go.defined() ? go.reshape({}).to(hidden.scalar_type())
                                       : torch::zeros({}, hidden.options()));
    const auto alpha = torch::stack(per_group).index_select(0, group);  // [P], each row's incoming gradient
    variable_list grads(11);
    if (ctx->needs_input_grad(0)) {
      auto dh = times_part(g, base, 0);
      if (added.numel()) dh.addmm_(g.narrow(1, base.size(0), added.size(0)), added);
      grads[0] = dh.mul_(alpha.unsqueeze(1));
    }
    const bool head = ctx->needs_input_grad(1) || ctx->needs_input_grad(2);
    const auto scaled_h = head ? hidden * alpha.unsqueeze(1) : torch::Tensor();  // rows scaled, not g
    if (ctx->needs_input_grad(1))
      grads[1] = torch::mm(g.narrow(1, 0, base.size(0)).t(), scaled_h).to(base.scalar_type());
    if (ctx->needs_input_grad(2))
      grads[2] = torch::mm(g.narrow(1, base.size(0), added.size(0)).t(), scaled_h);
    if (ctx->needs_input_grad(3)) grads[3] = torch::mv(g.t(), alpha);
    return grads;
  }
};

}  // namespace

HeadCrossEntropy head_cross_entropy(const std::vector<HeadCEGroup>& groups, const TokenTable& head,
                                    bool want_argmax) {
  const int64_t V = head.size();
  std::vector<torch::Tensor> hidden, ids, targets, coef, group;
  for (size_t k = 0; k < groups.size(); ++k) {
    const HeadCEGroup& gr = groups[k];
    const int64_t P = gr.hidden.size(0);
    COORDEXP_CHECK_ARG(gr.hidden.dim() == 2 && gr.hidden.size(1) == head.width(), "hidden",
                       "[P, D] with D the head's width", c10::str(gr.hidden.sizes()));
    COORDEXP_CHECK_ARG(gr.ids.sizes() == torch::IntArrayRef({P, 2}) && gr.targets.sizes() == gr.ids.sizes() &&
                           gr.weights.sizes() == torch::IntArrayRef({P}),
                       "ids / targets / weights", "[P, 2] / [P, 2] / [P] with P = " + std::to_string(P),
                       c10::str(gr.ids.sizes()) + " / " + c10::str(gr.targets.sizes()) + " / " +
                           c10::str(gr.weights.sizes()));
    if (P > 0) {
      const int64_t lo = gr.ids.min().item<int64_t>(), hi = gr.ids.max().item<int64_t>();
      COORDEXP_CHECK_ARG(lo >= 0 && hi < V, "ids", "token ids in [0, " + std::to_string(V) + ")",
                         std::to_string(lo) + ".." + std::to_string(hi));
    }
    const auto w = gr.weights.to(gr.hidden.scalar_type());
    hidden.push_back(gr.hidden);
    ids.push_back(gr.ids);
    targets.push_back(gr.targets);
    coef.push_back(w / w.sum().clamp_min(1e-12));
    group.push_back(torch::full({P}, static_cast<int64_t>(k), gr.ids.options()));
  }
  HeadCrossEntropy out;
  if (groups.empty()) return out;
  const auto none = torch::empty({0}, hidden[0].options());
  out.losses = FusedHeadCrossEntropy::apply(
      torch::cat(hidden), head.base, head.added.defined() ? head.added : none,
      head.bias.defined() ? head.bias : none, torch::cat(ids), torch::cat(targets), torch::cat(coef),
      torch::cat(group), static_cast<int64_t>(groups.size()), want_argmax, &out.argmax);
  return out;
}

torch::Tensor token_unlikelihood(const torch::Tensor& logits, const torch::Tensor& tokens) {
  auto logp = torch::log_softmax(logits, -1).gather(1, tokens.unsqueeze(1)).squeeze(1);  // [P]
  // 1 - p is clamped before the log (not after) so that p == 1 gives a finite value and a finite gradient.
  return -torch::log((1 - logp.exp()).clamp_min(1e-12));
}

}  // namespace coordexp
