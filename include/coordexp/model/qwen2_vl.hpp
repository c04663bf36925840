// The Qwen2-VL / Qwen2.5-VL architecture in LibTorch, read from and written to Hugging Face files.
//
// Vision tower: temporal patch embedding (an image is two identical frames), 2-D rotary embedding over
// (row, column) patch positions, ViT blocks (Qwen2-VL: LayerNorm + quick-GELU MLP; Qwen2.5-VL: RMSNorm +
// gated SiLU MLP and window attention except in fullatt_block_indexes), the patch merger (merge x merge
// patches -> one LM token). Language model: Qwen2 decoder (RMSNorm, grouped-query attention with q/k/v
// biases, M-RoPE over (t, h, w) positions, SwiGLU), LM head tied or untied.
//
// Sequence layout: [image_prefix tokens, image tokens, text tokens]. The image prefix is the chat template
// up to and including <|vision_start|> (set_image_prefix); the VisionLanguageModel calls then work exactly as
// with the tiny model, and the positions are those transformers computes for input ids with the image
// placeholder run (get_rope_index): text before the image at 0..p-1, image token (i, j) of the merged grid
// at (p, p + i, p + j), text after it from p + max(rows, cols) on. Attention is causal over the whole
// sequence, as in the reference. In a batch of images of different sizes each row's image tokens are followed
// by padding up to the longest row (ImageTokens): the padding is masked out as keys and each row's text takes
// the positions its own image gives it, so a row's logits are those of its image alone.
//
// Parameters are registered under Hugging Face's names ("model.layers.0.self_attn.q_proj.weight",
// "visual.blocks.0.attn.qkv.weight", "lm_head.weight"), so named_parameters() is the checkpoint's key set.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordexp/io/hf_config.hpp"
#include "coordexp/io/safetensors.hpp"
#include "coordexp/model/vlm.hpp"
#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"

namespace coordexp {

// Receives named intermediate activations ("vision.patch_embed", "vision.block.3", "vision.merger",
// "lm.embed", "lm.layer.1", "lm.norm") when set; for comparing a run with the reference layer by layer.
using ActivationHook = std::function<void(const std::string& name, const torch::Tensor& value)>;

// Image normalisation of the Qwen2-VL image processor (OpenAI CLIP statistics), applied to RGB in [0, 1].
inline constexpr float kQwenImageMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr float kQwenImageStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

class QwenVLModel : public VisionLanguageModel {
 public:
  explicit QwenVLModel(const QwenVLConfig& config);
  ~QwenVLModel() override;

  // Token ids written before the image (the chat template through <|vision_start|>); may be empty.
  void set_image_prefix(std::vector<int64_t> ids);
  const std::vector<int64_t>& image_prefix() const { return image_prefix_; }

  // images [B, 3, H, W], RGB in [0, 1]; H and W multiples of patch_size * spatial_merge_size. Normalises,
  // patchifies as the image processor does and runs the vision tower: [B, (H/28) * (W/28), D] on a grid of
  // H/28 x W/28 merged tokens. Batches of mixed sizes: encode_image_list (rows padded, the padding masked).
  ImageTokens encode_images(const torch::Tensor& images) override;
  torch::Tensor forward_text(const ImageTokens& image, const torch::Tensor& tokens) override;
  torch::Tensor prefill(const ImageTokens& image, const torch::Tensor& prompt, KvCache& cache) override;
  torch::Tensor decode_step(const torch::Tensor& tokens, KvCache& cache) override;
  TokenTable lm_head() override;
  TokenTable input_table() override;
  void sparse_input_gradient(bool on) override;
  // Holds the rows of the tokens from `first_new` on apart from the pretrained rows, in the embedding and
  // (untied) LM head: new parameters "model.embed_tokens.added_rows" / "lm_head.added_rows" [V - first_new,
  // D] that train, while the pretrained rows stay in the "weight" parameters, frozen. The model computes the
  // same values; exports write the whole tables again (hf_tensors).
  void hold_added_rows_apart(int64_t first_new);
  // The tensors of a Hugging Face checkpoint of this model under their names and shapes, each made when
  // asked (so an export holds one at a time): the added rows joined back to their tables, and with
  // merge_adapters the LoRA / DoRA updates folded into the weights (and the adapter tensors left out).
  struct HfTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::function<torch::Tensor()> make;  // the weight's dtype, or float32 where adapters are folded in
  };
  std::vector<HfTensor> hf_tensors(bool merge_adapters);
  int64_t vocab_size() const override { return config_.text.vocab_size; }
  bool is_image_encoder_parameter(const std::string& name) const override {
    return name.rfind("visual.", 0) == 0;
  }
  // Every linear layer under its Hugging Face module name ("model.layers.0.self_attn.q_proj",
  // "visual.blocks.0.attn.qkv", "visual.merger.mlp.0"); not the LM head, whose rows the criterion reads.
  std::vector<AdaptableLinear> adaptable_linears() override;

  // Hidden states of every position of [prefix, image, tokens] (final-normed), [B, P + I + T, D]: what the
  // reference's forward computes for the same input ids, for parity checks.
  torch::Tensor forward_all(const ImageTokens& image, const torch::Tensor& tokens);

  // Grows embed_tokens and lm_head to `new_vocab_size` rows (no-op when not larger); new rows are zero and
  // the caller initialises them (see extend_qwen_vocabulary).
  void resize_vocabulary(int64_t new_vocab_size);

  void set_activation_hook(ActivationHook hook) { hook_ = std::move(hook); }
  const QwenVLConfig& config() const { return config_; }

  // Which parts train: the LM (decoder + embeddings + head), the merger (projector), the vision tower.
  void set_trainable(bool lm, bool projector, bool vision);

  struct Impl;

 private:
  // [prefix, image, tokens] through the decoder layers (not the final norm): [B, P + I + T, D]. With a
  // cache, fills it (keys, values, length, M-RoPE offset).
  torch::Tensor run_sequence(const ImageTokens& image, const torch::Tensor& tokens, KvCache* cache);

  QwenVLConfig config_;
  std::vector<int64_t> image_prefix_;
  ActivationHook hook_;
  std::shared_ptr<Impl> impl_;
};

// Options for reading a Hugging Face checkpoint directory (config.json + safetensors, one file or shards).
struct QwenLoadReport {
  int64_t tensors = 0;               // tensors copied
  uint64_t bytes_read = 0;           // checkpoint bytes converted
  double seconds = 0;                // wall time of open + copy
  std::vector<std::string> ignored;  // checkpoint tensors the model has no parameter for
};

// Builds the model from dir/config.json and copies every parameter from the safetensors files, converting
// F32/F16/BF16 to float32. Accepts both key layouts transformers has written ("model.layers.*" / "visual.*"
// and "model.language_model.*" / "model.visual.*"). A missing tensor or a shape mismatch is an InputError
// naming the checkpoint and the tensor; tensors the model does not use are listed in the report.
// dtype: the parameters' precision (kFloat, or kBFloat16 to hold a large model in half the memory).
std::shared_ptr<QwenVLModel> load_qwen_vl(const std::filesystem::path& dir, QwenLoadReport* report = nullptr,
                                          torch::ScalarType dtype = torch::kFloat);
// A model of `config` with zero parameters made in `dtype` (weights to be loaded).
std::shared_ptr<QwenVLModel> make_qwen_vl(const QwenVLConfig& config,
                                          torch::ScalarType dtype = torch::kFloat);

// Writes config.json and the weights (model.safetensors, or shards + index when over max_shard_bytes) in
// the classic key layout every transformers version reads, with adapters folded into the weights and added
// rows joined to their tables (hf_tensors); tied LM heads are not written. dtype F32 or BF16.
void save_qwen_vl(QwenVLModel& model, const std::filesystem::path& dir,
                  SafetensorsDType dtype = SafetensorsDType::kF32, uint64_t max_shard_bytes = 4ull << 30);

// Initialises rows [first_new, end) (end < 0: vocab_size) of the input embedding and (untied) LM head after a
// vocabulary extension: the structure tokens get the mean of the rows [0, first_new); the K coordinate rows
// starting at coord_first get the mean plus an interpolation between two random directions of the rows'
// typical spread, so neighbouring bins start close and the ends far apart. Rows from `end` on (a checkpoint's
// padding rows past the tokenizer's ids) keep their values.
void init_new_token_rows(QwenVLModel& model, int64_t first_new, int64_t coord_first, int64_t num_bins,
                         uint64_t seed = 0, int64_t end = -1);

// Extends the tokenizer at `tokenizer_json` with the coordinate vocabulary (see QwenChatTokenizer), grows
// `model`'s embedding and LM head to the new ids and initialises the added rows (init_new_token_rows)
// unless the file already had them. The file is read once.
QwenChatTokenizer extend_qwen_vocabulary(QwenVLModel& model, const std::filesystem::path& tokenizer_json,
                                         int num_bins,
                                         std::string system_prompt = QwenChatTokenizer::kDefaultSystemPrompt,
                                         uint64_t seed = 0);

// Writes what transformers' AutoProcessor, AutoTokenizer and GenerationConfig read beside the weights:
// tokenizer_config.json from `source` (or a minimal one) with added_tokens_decoder listing every added token
// of `tokenizer` (the coordinate and object tokens among them), generation_config.json and
// preprocessor_config.json from `source` or written from `config` (the Qwen2-VL processor's defaults), and
// the chat template files copied.
void write_hf_companion_files(const std::filesystem::path& source, const std::filesystem::path& out,
                              const BpeTokenizer& tokenizer, const QwenVLConfig& config);

// A tiny random checkpoint of either family (a few layers, small widths) with a small byte-level BPE
// tokenizer trained on `corpus` plus Qwen's special tokens, written to `dir` (config.json, tokenizer.json,
// safetensors with `shards` shards). For tests, benchmarks and trying the pipeline without downloads.
struct TinyQwenSpec {
  QwenVLFamily family = QwenVLFamily::kQwen2VL;
  int64_t hidden = 64, layers = 2, heads = 4, kv_heads = 2, intermediate = 128;
  int64_t vision_width = 32, vision_depth = 2, vision_heads = 4, vision_intermediate = 64;
  int shards = 2;
  int64_t padding_rows = 0;   // embedding rows past the tokenizer's ids beyond the rounding to 8 (as real
                              // checkpoints pad their vocabulary)
  int64_t vocab_rows = 0;     // total embedding rows instead (0: as above), e.g. 151936 for Qwen2-VL's sizes
  int64_t tokenizer_ids = 0;  // pad the tokenizer with unused special tokens to this many ids (Qwen2-VL's
                              // 151,657), so a vocabulary extension adds rows as it would to the real one
  bool tie_embeddings = false;  // the LM head is the input embedding (Qwen2-VL-2B)
  bool bf16 = false;            // weights written in bfloat16 (half the file)
  uint64_t seed = 0;
  std::vector<std::string> corpus;  // extra tokenizer training text (the default corpus is always used)
};
void write_tiny_qwen_checkpoint(const std::filesystem::path& dir, const TinyQwenSpec& spec);
// The published sizes of Qwen2-VL-2B-Instruct (a 1.5B language model, a 675M vision tower, 151,936 tied
// embedding rows), for random checkpoints that measure memory and speed at real size.
TinyQwenSpec qwen2_vl_2b_spec();

}  // namespace coordexp
