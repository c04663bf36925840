// Adapters in PEFT's file format: adapter_config.json + adapter_model.safetensors, so that
// peft.PeftModel.from_pretrained loads what coordexp trains and coordexp loads what PEFT wrote.
//   keys      "base_model.model.<module>.lora_A.weight" [r, in], ".lora_B.weight" [out, r], and with DoRA
//             ".lora_magnitude_vector" [out]; the added tokens' rows (a Qwen model whose pretrained rows are
//             frozen) as PEFT's trainable tokens, "base_model.model.<embedding>.token_adapter.
//             trainable_tokens_delta" [n, D] (the rows' values) with trainable_token_indices in the config.
//   modules   a Qwen2-VL model is written under the module names transformers 4.52+ / 5.x gives it
//             ("model.language_model.layers.*", "model.visual.*"); files in the older layout
//             ("model.layers.*", "visual.*") load too.
//   config    peft_type "LORA", r, lora_alpha, lora_dropout, use_dora, use_rslora, target_modules (the full
//             module names), bias "none", base_model_name_or_path.
// Reading checks every field coordexp acts on and refuses the ones it does not support (a bias other than
// "none", fan_in_fan_out, rank or alpha patterns, modules_to_save, another peft_type) with an error naming
// the file and the field; a tensor whose shape differs from the model's layer is an error naming both.
#pragma once

#include <filesystem>
#include <string>

#include "coordexp/model/vlm.hpp"

namespace coordexp {

// Writes the model's adapters (and its added token rows, when held apart) to `dir`. base_model: the
// checkpoint the adapter applies to (base_model_name_or_path).
void save_peft_adapter(VisionLanguageModel& model, const std::filesystem::path& dir,
                       const std::string& base_model);

// The adapter configuration a PEFT folder describes (checked as above), to attach before loading.
AdapterConfig read_peft_adapter_config(const std::filesystem::path& dir);

// Loads the tensors of a PEFT folder into a model that carries the same adapters (attach_adapters with
// read_peft_adapter_config) and, when the file holds them, its added token rows.
void load_peft_adapter(VisionLanguageModel& model, const std::filesystem::path& dir);

}  // namespace coordexp
