// Gradient checkpointing (see grad_checkpoint.hpp).
#include "coordexp/model/grad_checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

namespace coordexp {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct BlockHolder : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> block;
  torch::Tensor rng_state;  // the CPU generator's state when the forward ran
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  // `anchor` requires grad whenever the block has parameters to train, so that the output is part of the
  // graph even when x is not (a frozen embedding under LoRA).
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor anchor,
                               c10::intrusive_ptr<BlockHolder> holder) {
    ctx->save_for_backward({x});
    holder->rng_state = at::detail::getDefaultCPUGenerator().get_state();
    torch::Tensor y;
    {
      torch::NoGradGuard no_grad;
      y = holder->block(x);
    }
    ctx->saved_data["block"] = c10::IValue::make_capsule(holder);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    auto capsule = ctx->saved_data["block"].toCapsule();
    auto* holder = static_cast<BlockHolder*>(capsule.get());
    auto generator = at::detail::getDefaultCPUGenerator();
    const torch::Tensor now = generator.get_state();
    generator.set_state(holder->rng_state);  // the same dropout masks as the forward
    torch::Tensor input = x.detach().requires_grad_(x.requires_grad());
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = holder->block(input);
    }
    generator.set_state(now);
    if (y.requires_grad()) torch::autograd::backward({y}, {grad_out[0]});
    return {x.requires_grad() ? input.grad() : torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                           const torch::Tensor& x, const torch::nn::Module& module) {
  if (!torch::GradMode::is_enabled()) return block(x);
  bool trains = false;
  for (const auto& p : module.parameters()) trains = trains || p.requires_grad();
  if (!trains && !x.requires_grad()) return block(x);  // nothing to differentiate: no graph to keep
  auto holder = c10::make_intrusive<BlockHolder>();
  holder->block = block;
  static const torch::Tensor anchor = torch::zeros({}, torch::requires_grad());
  static const torch::Tensor no_anchor = torch::zeros({});
  return CheckpointFunction::apply(x, trains ? anchor : no_anchor, holder);
}

}  // namespace coordexp
