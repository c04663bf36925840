// config.json of Hugging Face Qwen2-VL / Qwen2.5-VL checkpoints, read into plain structs. Accepts both
// layouts transformers has written: text fields at the top level (<= 4.4x) or under "text_config" (newer),
// "rope_scaling" or "rope_parameters", "in_chans" or "in_channels". Unknown keys are ignored (HF configs
// carry many); a wrong type, an out-of-range value or an unsupported model_type is an InputError naming
// the file and field. The two families spell the vision widths differently; the structs use one meaning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace coordexp {

enum class QwenVLFamily { kQwen2VL, kQwen2_5VL };  // model_type "qwen2_vl" / "qwen2_5_vl"

// Rotary embedding of the language model. M-RoPE splits each head's rotary half-dims into (t, h, w) sections.
struct QwenRopeConfig {
  std::string rope_type = "default";   // "mrope" or "default" as written (transformers maps mrope -> default)
  std::vector<int64_t> mrope_section;  // half-dims per (t, h, w); sums to head_dim / 2; empty = 1-D RoPE
  double rope_theta = 1'000'000.0;     // base of the rotary frequencies
};

// The decoder LM (transformers' Qwen2VLTextConfig; defaults are transformers' defaults).
struct QwenTextConfig {
  int64_t vocab_size = 152064;              // rows of embed_tokens / lm_head (may exceed the tokenizer's)
  int64_t hidden_size = 8192;               // D, the residual width
  int64_t intermediate_size = 29568;        // SwiGLU inner width
  int64_t num_hidden_layers = 80;           // decoder layers
  int64_t num_attention_heads = 64;         // query heads
  int64_t num_key_value_heads = 8;          // key/value heads (GQA); defaults to the query heads if null
  std::string hidden_act = "silu";          // MLP activation
  int64_t max_position_embeddings = 32768;  // longest sequence the rotary table is built for
  double rms_norm_eps = 1e-5;               // RMSNorm epsilon
  bool tie_word_embeddings = false;         // lm_head shares embed_tokens' weight
  bool use_sliding_window = false;          // sliding-window attention (off in released checkpoints)
  int64_t sliding_window = 4096;            // window length when use_sliding_window
  int64_t max_window_layers = 80;           // layers below this index use full attention
  double attention_dropout = 0.0;           // dropout on attention probabilities
  QwenRopeConfig rope;                      // rotary embedding
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// The vision tower. embed_dim is the ViT width (Qwen2-VL "embed_dim", Qwen2.5-VL "hidden_size");
// out_hidden_size is the patch merger's output = the LM width (Qwen2-VL "hidden_size", 2.5
// "out_hidden_size").
struct QwenVisionConfig {
  int64_t depth = 32;                          // ViT blocks
  int64_t embed_dim = 1280;                    // ViT width
  int64_t out_hidden_size = 3584;              // merger output width
  int64_t num_heads = 16;                      // ViT attention heads
  int64_t intermediate_size = 5120;            // ViT MLP width (Qwen2-VL: embed_dim * mlp_ratio)
  std::string hidden_act = "quick_gelu";       // ViT MLP activation (2.5: "silu", gated)
  int64_t patch_size = 14;                     // spatial patch side in pixels
  int64_t temporal_patch_size = 2;             // frames per temporal patch
  int64_t spatial_merge_size = 2;              // merger groups merge x merge patches into one token
  int64_t in_channels = 3;                     // image channels
  int64_t window_size = 0;                     // 2.5 window attention side in pixels; 0 = full attention only
  std::vector<int64_t> fullatt_block_indexes;  // 2.5 blocks that attend globally; others use windows
  double tokens_per_second = 0.0;              // 2.5 temporal position scale for video; 0 if absent
};

struct QwenVLConfig {
  QwenVLFamily family = QwenVLFamily::kQwen2VL;   // which architecture variant
  QwenTextConfig text;                            // the LM
  QwenVisionConfig vision;                        // the vision tower
  int64_t image_token_id = 151655;                // <|image_pad|>, repeated once per merged image patch
  int64_t video_token_id = 151656;                // <|video_pad|>
  int64_t vision_start_token_id = 151652;         // <|vision_start|>
  int64_t vision_end_token_id = 151653;           // <|vision_end|>
  int64_t bos_token_id = 151643;                  // <|endoftext|>
  std::vector<int64_t> eos_token_ids = {151645};  // generation stops at any of these (a list in some files)
};

// `source` names the file in errors.
QwenVLConfig parse_qwen_vl_config(const nlohmann::json& doc, const std::string& source);
// `path` is a config.json or a model directory holding one.
QwenVLConfig load_qwen_vl_config(const std::filesystem::path& path);
// The flat layout every transformers version reads (text fields at the top level), for writing checkpoints.
nlohmann::json qwen_vl_config_to_json(const QwenVLConfig& config);

}  // namespace coordexp
