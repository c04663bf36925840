// The interface every V-LLM family implements (the tiny built-in model, Qwen2-VL): encode images, run the
// decoder with teacher forcing, decode incrementally with a KV cache, and expose the LM-head rows that
// CoordExp needs. Shape letters: B batch, I image tokens, T text tokens, D width, V vocabulary.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "coordexp/model/adapter.hpp"
#include "coordexp/text/token_table.hpp"

namespace coordexp {

// The image tokens of a batch in the decoder's width, with each row's own token grid. Images of different
// sizes (Qwen2-VL at native resolution) give rows of different lengths: each row's tokens come first and the
// rest of the row is zeros up to the longest, and the models mask that padding out of attention.
struct ImageTokens {
  torch::Tensor embeds;             // [B, I, D]
  std::vector<int64_t> rows, cols;  // [B] each image's token grid: rows[b] * cols[b] <= I real tokens
  int64_t count(size_t b) const { return rows[b] * cols[b]; }
  int64_t batch() const { return static_cast<int64_t>(rows.size()); }
  bool padded() const;  // some row holds fewer than I tokens
  // Every row of a batch of one image size: grid rows x cols, I = rows * cols.
  static ImageTokens uniform(torch::Tensor embeds, int64_t rows, int64_t cols);
  ImageTokens repeat_interleave(int64_t repeats) const;  // each row `repeats` times (Monte Carlo orderings)
  // The additive key mask of the image positions [B, 1, 1, I]: 0 on real tokens, -inf on padding
  // (undefined when no row is padded).
  torch::Tensor key_mask() const;
};

// Keys and values of every layer for the positions decoded so far: [B, H, T_cache, head_dim] each.
struct KvCache {
  std::vector<torch::Tensor> keys, values;
  int64_t length = 0;  // positions cached (image + text, padding included)
  // Per row, the rotary position of the next token minus `length` (M-RoPE models give an image fewer
  // positions than tokens, and padded rows skip their padding); empty for 1-D positions from 0.
  std::vector<int64_t> position_offsets;
  // Additive mask over the cached positions [B, 1, 1, length] (-inf on image padding), grown by each
  // decoding step; undefined when no row is padded.
  torch::Tensor key_mask;
  // Per-row decoding state a model keeps beside its keys and values (the tiny model's scan pointer and
  // image-token scores); empty when the model keeps none.
  std::vector<torch::Tensor> model_state;
};

class VisionLanguageModel : public torch::nn::Module {
 public:
  // images [B, 3, H, W] of one size, RGB in [0, 1] (each model normalises as it was trained) -> their
  // image tokens in the decoder's width.
  virtual ImageTokens encode_images(const torch::Tensor& images) = 0;
  // Images of any sizes the model accepts, [3, H_b, W_b] each: encoded in groups of one size, in order, and
  // padded to the longest row.
  ImageTokens encode_image_list(const std::vector<torch::Tensor>& images);
  // Teacher forcing over [image tokens, text tokens]: returns final-normed hidden states of the text
  // positions [B, T, D]; hidden[b, t] predicts tokens[b, t + 1].
  virtual torch::Tensor forward_text(const ImageTokens& image, const torch::Tensor& tokens) = 0;
  // Incremental decoding: prefill with the image and a prompt [B, T_p], then one token per step [B].
  // Each returns the final-normed hidden state of the last position [B, D].
  virtual torch::Tensor prefill(const ImageTokens& image, const torch::Tensor& prompt, KvCache& cache) = 0;
  virtual torch::Tensor decode_step(const torch::Tensor& tokens, KvCache& cache) = 0;
  // The LM head [V, D] (+ bias) and the input embedding [V, D] as token tables (text/token_table.hpp): one
  // tensor each, or the pretrained rows and the added tokens' rows held apart (hold_added_rows_apart).
  virtual TokenTable lm_head() = 0;
  virtual TokenTable input_table() = 0;
  torch::Tensor lm_head_weight() { return lm_head().full(); }       // [V, D] (a copy when held apart)
  torch::Tensor input_embedding() { return input_table().full(); }  // [V, D] (a copy when held apart)
  virtual int64_t vocab_size() const = 0;
  // While on, the input embedding's gradient is made of the looked-up rows (a sparse tensor) instead of a
  // dense [V, D] tensor, which autograd adds to the gradient buffer or to the tied head's gradient in place:
  // for a 152k-row table that saves a table-sized fill and an out-of-place add per step. Only for models
  // whose parameters all hold a dense gradient buffer (the trainer makes them); a no-op where the model
  // has no such table.
  virtual void sparse_input_gradient(bool) {}
  // Grounding supervision (models that support it): while on, forward_text records the attention
  // log-probabilities of one decoder head (the tiny model: head 0 of its second block) from each text
  // position over the image tokens, [B, T, I], read back with image_attention() (undefined when off).
  virtual void record_image_attention(bool) {}
  virtual torch::Tensor image_attention() { return {}; }
  // Whether a parameter (a named_parameters() key) belongs to the image encoder, the part encode_images
  // runs: what a run initialised with run.init_parts = "vision" takes from another run.
  virtual bool is_image_encoder_parameter(const std::string& name) const = 0;
  // The linear layers adapters may attach to, under their module names (adapter.hpp).
  virtual std::vector<AdaptableLinear> adaptable_linears() { return {}; }
  // Attaches LoRA / DoRA adapters to the layers the config names; the base weights are left as they are
  // (which parameters train is the caller's choice). A model takes adapters once.
  const AdapterSet& attach_adapters(const AdapterConfig& config);
  const AdapterSet& adapters() const { return adapters_; }
  // Gradient checkpointing (grad_checkpoint.hpp): while training, every decoder layer and vision block
  // recomputes its activations in backward instead of keeping them.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool checkpointing_now() const { return checkpointing_ && is_training() && torch::GradMode::is_enabled(); }

  // Every linear layer that has an adapter computes through it (adapter.hpp).
  torch::Tensor linear(const torch::nn::Module& host, const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias) const {
    const LinearAdapter* a = adapters_.find(&host);
    return a ? a->forward(x, weight, bias, host.is_training()) : mixed_linear(x, weight, bias);
  }

  torch::Tensor logits(const torch::Tensor& hidden) {
    return lm_head().logits(hidden);
  }  // [..., D] -> [..., V]

 protected:
  AdapterSet adapters_;
  bool checkpointing_ = false;
};

}  // namespace coordexp
