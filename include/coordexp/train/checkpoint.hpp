// Checkpoints: model parameters, optimiser state and the step, in one LibTorch archive with a format
// version and the vocabulary size. Written to a temporary file in the same folder, flushed, then renamed
// over the old one, so a crash mid-write never leaves a broken or missing checkpoint.
#pragma once

#include <torch/torch.h>

#include <string>

namespace coordexp {

constexpr int64_t kCheckpointVersion = 1;

struct CheckpointMeta {
  int64_t step = 0;        // optimiser steps completed
  int64_t vocab_size = 0;  // V of the model that wrote it
};

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta);

// Loads into model (and optimizer when given). A missing file, another format version or another
// vocabulary size is an InputError naming the file and what differs.
CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer, int64_t expected_vocab_size);

}  // namespace coordexp
