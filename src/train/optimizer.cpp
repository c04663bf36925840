// AdamW parameter groups and the warmup + cosine schedule (see optimizer.hpp).
#include "coordexp/train/optimizer.hpp"

#include <cmath>

#include "coordexp/train/fused_adamw.hpp"

namespace coordexp {

double learning_rate(const OptimConfig& o, int64_t step) {
  if (step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double progress =
      static_cast<double>(step - o.warmup_steps) / std::max<int64_t>(1, o.steps - o.warmup_steps);
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cosine);
}

// FusedAdamW (LibTorch's AdamW in one pass over memory, the same state). Trainable parameters only; matrices
// decay, vectors, bias tables (names ending in "bias", such as the tiny model's pointer_bias) and partially
// frozen tables do not.
std::unique_ptr<torch::optim::AdamW> make_optimizer(const ModelBundle& bundle, const OptimConfig& o) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : bundle.model->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string& name = p.key();
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    const bool decays = p.value().dim() >= 2 && !bias && !is_partially_frozen(bundle, p.value());
    (decays ? decay : no_decay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(wd));
  };
  groups.emplace_back(decay, opts(o.weight_decay));
  groups.emplace_back(no_decay, opts(0.0));
  return std::make_unique<FusedAdamW>(groups, torch::optim::AdamWOptions(o.lr));
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& g : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

}  // namespace coordexp
