// The optimiser of a training run: AdamW over the trainable parameters in two groups (matrices decay;
// vectors, bias tables and partially frozen tables do not), and the learning-rate schedule (linear warmup,
// then cosine decay to lr * min_lr_ratio).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/train_config.hpp"

namespace coordexp {

std::unique_ptr<torch::optim::AdamW> make_optimizer(const ModelBundle& bundle, const OptimConfig& config);

// The learning rate at `step` (0-based): lr * (step + 1) / warmup_steps during warmup, then cosine.
double learning_rate(const OptimConfig& config, int64_t step);

// Sets every parameter group's learning rate.
void set_learning_rate(torch::optim::AdamW& optimizer, double lr);

}  // namespace coordexp
