// The model and tokenizer of a run, for either family: the tiny built-in V-LLM with a word tokenizer built
// from the data, or a Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint (hf.path) with its BPE tokenizer
// extended by the coordinate vocabulary (new embedding / LM-head rows initialised, see
// init_new_token_rows).
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/data/image_store.hpp"
#include "coordexp/model/vlm.hpp"
#include "coordexp/text/detection_tokenizer.hpp"
#include "coordexp/train/train_config.hpp"

namespace coordexp {

struct ModelBundle {
  std::shared_ptr<VisionLanguageModel> model;
  std::shared_ptr<DetectionTokenizer> tokenizer;
  TrainConfig resolved;           // the config with the tokenizer-derived model fields filled in
  int64_t first_new_row = -1;     // Qwen: rows from here on belong to the added tokens (always trainable)
  bool tokenizer_reused = false;  // read from the run folder (a resumed run): not to be rewritten
};

// For training into `out_dir`. A resumed run (resume and out_dir/tokenizer.json present) reuses that
// tokenizer; otherwise the tiny family builds one from the descriptions of `splits`, and the Qwen family
// extends the checkpoint's. Trainable parts follow hf.train_*; with hf.train_lm off the added rows of
// the embedding and LM head still train (the other rows' gradients are masked).
ModelBundle build_model_for_training(const TrainConfig& config,
                                     const std::vector<const DetectionDataset*>& splits,
                                     const std::filesystem::path& out_dir, bool resume);

// A finished or interrupted run folder: config.json, tokenizer.json, checkpoint.pt (and, for the Qwen
// family, the config.json of hf.path for the architecture).
ModelBundle load_run_model(const std::filesystem::path& run_dir);

// Names of the parameters that should not get weight decay beyond the usual vectors: the partially
// frozen embedding / LM head when hf.train_lm is off (decay would shrink their frozen rows).
bool is_partially_frozen(const ModelBundle& bundle, const torch::Tensor& parameter);

// How the bundle's model takes images (data.fit and friends of its resolved config; "auto" is square for
// the tiny model and native for a Qwen2-VL checkpoint, whose patch and merge sizes give the native factor),
// decoded on `threads` threads unless data.decode_threads says otherwise.
ImageStoreConfig image_store_config(const ModelBundle& bundle, int threads);

}  // namespace coordexp
