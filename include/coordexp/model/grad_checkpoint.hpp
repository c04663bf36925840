// Gradient checkpointing: run a block without keeping its activations, and recompute them in backward.
// LibTorch 1.13 has no C++ checkpoint, so this is the reentrant form PyTorch's torch.utils.checkpoint
// started with: forward under no_grad; backward re-runs the block with gradients on (the CPU random state of
// the forward restored, so dropout draws the same mask), then back-propagates into the block's parameters
// and returns the input's gradient. The gradients equal those without checkpointing up to float round-off.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace coordexp {

// block(x) with its activations recomputed in backward. The block may read other tensors it captures
// (masks, positions: no gradient flows to them) and parameters (their gradients are accumulated); `module`
// holds those parameters. When no gradient is wanted (grad mode off, or neither x nor the module's parameters
// need one, as for a frozen vision tower) it simply runs the block.
torch::Tensor checkpointed(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                           const torch::Tensor& x, const torch::nn::Module& module);

}  // namespace coordexp
