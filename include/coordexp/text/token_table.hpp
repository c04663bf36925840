// A table with one row per token id ([V, D]: an input embedding or an LM head), optionally held as two
// tensors: the pretrained rows [V0, D] and the rows of the tokens coordexp added [V - V0, D]. Fine-tuning a
// pretrained model with its own rows frozen then trains the added rows (the coordinate and object tokens)
// without ever forming a gradient for the whole table (for Qwen2-VL's 151k x 1536 head, 0.93 GB in float32
// per step). The LibTorch side of the text layer (built into coordexp_torch).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace coordexp {

struct TokenTable {
  torch::Tensor base;   // [V, D], or the pretrained rows [V0, D] when `added` is defined
  torch::Tensor added;  // [V - V0, D], the added tokens' rows, or undefined
  torch::Tensor bias;   // [V] (an LM head's) or undefined
  // lookup's gradient to the table as sparse rows (the rows looked up) instead of a dense [V, D] tensor of
  // zeros around them; for a table whose dense gradient buffer exists to add into (a training run's)
  bool sparse_grad = false;

  int64_t size() const;                                     // V
  int64_t width() const { return base.size(1); }            // D
  torch::Tensor lookup(const torch::Tensor& ids) const;     // ids [...] -> [..., D]
  torch::Tensor logits(const torch::Tensor& hidden) const;  // [..., D] -> [..., V]: hidden rows . table rows
  torch::Tensor rows(int64_t first, int64_t count) const;   // rows [first, first + count): [count, D]
  torch::Tensor bias_rows(int64_t first, int64_t count) const;  // [count], or undefined without a bias
  torch::Tensor full() const;                                   // [V, D] (a copy when held in two parts)
};

}  // namespace coordexp
