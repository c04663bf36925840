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
  // Only the parameters that train are written (by name): for a model whose frozen weights come from a
  // checkpoint of their own (a Hugging Face base under adapters), so a 2B model's checkpoint holds megabytes
  // of adapters, not gigabytes of base weights.
  bool trainable_only = false;
};

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta);

// Loads into model (and optimizer when given). A missing file, another format version or another
// vocabulary size is an InputError naming the file and what differs; a trainable-only checkpoint fills the
// model's trainable parameters (each must be there, with its shape) and leaves the rest as they are.
CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer, int64_t expected_vocab_size);

// Whether the checkpoint at `path` holds only the trainable parameters (false for a missing file).
bool checkpoint_is_trainable_only(const std::string& path);

}  // namespace coordexp
