// AdamW in one pass over memory (see fused_adamw.hpp). Compiled with -fno-math-errno so that the square
// root vectorises.
#include "coordexp/train/fused_adamw.hpp"

#include <ATen/Parallel.h>

#include <cmath>

namespace coordexp {

namespace {

using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

// The arithmetic of LibTorch's AdamW::step, in its order, on one contiguous range:
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// with every scalar rounded to the tensors' type first, as a tensor operation with a Scalar does.
template <typename T>
void adamw_range(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n, T decay,
                 T b1, T one_b1, T b2, T one_b2, T sqrt_bc2, T eps, T step_size) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = m[i] * b1 + one_b1 * gi;
    const T vi = v[i] * b2 + one_b2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) / sqrt_bc2 + eps;
    p[i] = p[i] * decay - step_size * (mi / denom);
  }
}

template <typename T>
void fused_update(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v,
                  const AdamWOptions& o, int64_t step) {
  const auto [beta1, beta2] = o.betas();
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T decay = static_cast<T>(1 - o.lr() * o.weight_decay());
  const T b1 = static_cast<T>(beta1), one_b1 = static_cast<T>(1 - beta1);
  const T b2 = static_cast<T>(beta2), one_b2 = static_cast<T>(1 - beta2);
  const T sqrt_bc2 = static_cast<T>(std::sqrt(bc2)), eps = static_cast<T>(o.eps());
  const T step_size = static_cast<T>(o.lr() / bc1);
  T* pp = p.data_ptr<T>();
  const T* gp = g.data_ptr<T>();
  T* mp = m.data_ptr<T>();
  T* vp = v.data_ptr<T>();
  at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    adamw_range<T>(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, decay, b1, one_b1, b2, one_b2,
                   sqrt_bc2, eps, step_size);
  });
}

// LibTorch's operations, for what the loop does not take.
void reference_update(torch::Tensor& p, const torch::Tensor& grad, AdamWParamState& state,
                      const AdamWOptions& o) {
  const auto [beta1, beta2] = o.betas();
  if (o.weight_decay() != 0) p.mul_(1 - o.lr() * o.weight_decay());
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
  state.exp_avg().mul_(beta1).add_(grad, 1 - beta1);
  state.exp_avg_sq().mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  torch::Tensor denom;
  if (o.amsgrad()) {
    torch::max_out(state.max_exp_avg_sq(), state.exp_avg_sq(), state.max_exp_avg_sq());
    denom = (state.max_exp_avg_sq().sqrt() / std::sqrt(bc2)).add_(o.eps());
  } else {
    denom = (state.exp_avg_sq().sqrt() / std::sqrt(bc2)).add_(o.eps());
  }
  p.addcdiv_(state.exp_avg(), denom, -o.lr() / bc1);
}

bool fusable(const torch::Tensor& p, const torch::Tensor& g, const AdamWParamState& s,
             const AdamWOptions& o) {
  const auto t = p.scalar_type();
  const auto plain = [&](const torch::Tensor& x) {
    return x.scalar_type() == t && x.is_contiguous() && x.device().is_cpu() && x.layout() == torch::kStrided;
  };
  return !o.amsgrad() && (t == torch::kFloat || t == torch::kDouble) && plain(p) && plain(g) &&
         plain(s.exp_avg()) && plain(s.exp_avg_sq());
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      if (grad.is_sparse()) grad = grad.to_dense();
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto found = state_.find(key);
      if (found == state_.end()) {  // as LibTorch's AdamW creates it
        auto s = std::make_unique<AdamWParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (o.amsgrad()) s->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        found = state_.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<AdamWParamState&>(*found->second);
      s.step(s.step() + 1);
      if (!fusable(p, grad, s, o)) {
        reference_update(p, grad, s, o);
      } else if (p.scalar_type() == torch::kFloat) {
        fused_update<float>(p, grad, s.exp_avg(), s.exp_avg_sq(), o, s.step());
      } else {
        fused_update<double>(p, grad, s.exp_avg(), s.exp_avg_sq(), o, s.step());
      }
    }
  }
  return loss;
}

}  // namespace coordexp
