// The tiny built-in V-LLM: a ViT patch encoder -> MLP projector -> decoder-only LM (RMSNorm, RoPE,
// SwiGLU, causal attention over [image tokens, prompt, answer]) with an untied LM head. Small enough to
// train from scratch on 2 CPU cores; the same VisionLanguageModel interface as the Qwen2-VL family.
#pragma once

#include <string>

#include "coordexp/model/vlm.hpp"

namespace coordexp {

struct TinyVlmConfig {
  int64_t image_size = 128;  // images are resized to image_size x image_size
  int64_t patch_size = 16;   // ViT patch side in pixels: (128/16)^2 = 64 image tokens
  bool conv_stem = true;     // two stride-2 convolutions before patchifying (else one patch convolution)
  int64_t stem_blocks =
      0;  // with conv_stem: residual 3x3 conv blocks (GroupNorm, GELU) after each stride-2 conv
  int64_t vision_width = 128;   // ViT width
  int64_t vision_layers = 2;    // ViT blocks
  int64_t vision_heads = 4;     // ViT attention heads
  int64_t width = 192;          // decoder width D
  int64_t layers = 4;           // decoder blocks
  int64_t heads = 6;            // decoder attention heads
  int64_t ffn_width = 512;      // SwiGLU hidden width
  int64_t vocab_size = 0;       // V, set from the tokenizer
  double rope_theta = 10000.0;  // RoPE base
  // Rotary positions of the image tokens: false = 0..I-1 then text from I (raster order); true = every
  // image token at 0 and text from 1, so a text token's rotation relative to the image is the same for all
  // image tokens and where it looks is decided by content and the 2-D position code alone.
  bool shared_image_position = false;
  // Scan-pointer attention (made for data.order "raster"; needs coord_first_id): every text token carries
  // a pointer, the patch cell holding the centre of the last box written at or before it (before the first
  // box: just left of cell 0), and every decoder head adds a learned bias b[dy][dx] (zero at the start) to
  // its attention from text to image tokens, (dy, dx) being the image token's cell minus the pointer. The
  // next object in raster order is then a learned offset from the last one instead of a comparison the
  // model must build from content; the pointer is a function of the tokens, so generation keeps it too.
  bool scan_pointer = false;
  double norm_eps = 1e-6;  // RMSNorm epsilon
  // Set by the caller from the tokenizer (not read from config files): the coordinate token range, whose
  // input-embedding and LM-head rows start as smooth functions of k, so neighbouring bins start close.
  int64_t coord_first_id = -1;  // -1: no coordinate-aware initialisation
  int64_t num_coord_bins = 0;
};

class TinyVlmImpl;  // defined in tiny_vlm.cpp

// Builds the model; the returned module owns all parameters.
std::shared_ptr<VisionLanguageModel> build_tiny_vlm(const TinyVlmConfig& config);

}  // namespace coordexp
