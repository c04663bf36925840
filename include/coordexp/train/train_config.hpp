// The whole configuration of a training run: data, model, criterion, optimiser, schedule, generation and
// run control, each a plain struct with its defaults. Loaded from a JSON file whose unknown keys and wrong
// types are errors naming the key; the resolved configuration is written next to the run's outputs.
#pragma once

#include <string>

#include "coordexp/infer/generator.hpp"
#include "coordexp/loss/set_criterion.hpp"
#include "coordexp/model/adapter.hpp"
#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/train/rollout_config.hpp"
#include "coordexp/train/vision_warmup_config.hpp"

namespace coordexp {

struct DataConfig {
  std::string train_json;       // COCO file of the training split
  std::string val_json;         // COCO file evaluated during and after training ("" to skip)
  std::string extra_eval_json;  // a further split evaluated after training, e.g. novel ("" to skip)
  std::string image_root;       // folder image file_names are relative to ("" = the JSON's folder)
  int num_bins = 1000;          // K coordinate tokens
  std::string order = "x1";     // object order in targets: x1, top_left, random, given, raster
  int raster_grid = 8;          // grid of the raster order (not a file key: the tiny model's patch grid)
  int mc_orderings = 1;         // R sequences per image in random orders (Monte Carlo); 1 = off
  double flip_prob = 0.5;       // horizontal flip augmentation (boxes flipped too)
  int max_objects = 40;         // objects per image kept for training (largest first past this)
  bool use_description = true;  // target text is the annotation's "description" (else category name)
  // Prompts: an exhaustively labelled image is asked to "detect all", or with this probability to detect a
  // list of categories (those present and verified absent ones, up to max_prompt_categories); images whose
  // labels are not exhaustive (LVIS) are always asked for a list of their verified categories, grounding
  // records for their phrase (detection_dataset.hpp).
  double category_prompt_prob = 0.0;
  int max_prompt_categories = 8;
  // How images meet the model frame (data/image_fit.hpp): "square" (resized to model.image_size, aspect
  // lost), "letterbox" (aspect kept, padded), "native" (Qwen2-VL's smart resize at each image's own aspect,
  // within min_pixels..max_pixels); "auto": square for the tiny model, native for hf.path.
  std::string fit = "auto";
  int64_t min_pixels = 56 * 56;         // native fit: least image area (Qwen2-VL's processor default)
  int64_t max_pixels = 28 * 28 * 1280;  // native fit: most image area (Qwen2-VL's processor default)
  bool jpeg_dct_scaling = true;         // decode JPEGs at 1/2..1/8 scale when the frame is that much smaller
  bool exif_orientation = false;        // rotate images by their EXIF tag (annotations on rotated pixels)
  int64_t cache_mib = 2048;             // decoded images kept in memory up to this; beyond, decoded per step
  int decode_threads = 0;               // image decoding threads (0: the run's threads)
};

struct OptimConfig {
  int64_t steps = 2000;              // optimiser steps
  int64_t batch_size = 16;           // images per step (each gives mc_orderings sequences)
  double lr = 5e-4;                  // peak learning rate (2e-3 and 1e-3 stall the tiny V-LLM at chance)
  double min_lr_ratio = 0.05;        // cosine decays to lr * min_lr_ratio
  int64_t warmup_steps = 100;        // linear warmup
  double weight_decay = 0.05;        // AdamW decoupled weight decay (matrices only)
  double beta1 = 0.9, beta2 = 0.95;  // AdamW betas
  double grad_clip = 1.0;            // global gradient-norm clip (0 = off)
  // Coordinate terms (coord_ce, l1, giou) start at weight 0 and reach their configured weight linearly over
  // this many steps (0 = full weight from the start): recognition (text CE) gets the model first.
  int64_t coord_loss_warmup_steps = 0;
  // Weight of the grounding term (train/grounding.hpp): one decoder head is told which image tokens hold
  // the object each answer token belongs to. Teacher-forced steps of the tiny model only; 0 = off.
  double grounding_weight = 0.0;
  // Every decoder layer and vision block recomputes its activations in backward instead of keeping them
  // (model/grad_checkpoint.hpp): less memory, about one more forward pass of time.
  bool gradient_checkpointing = false;
};

// A pretrained Qwen2-VL / Qwen2.5-VL checkpoint to fine-tune instead of the tiny model (hf.path set). The
// tokenizer is the checkpoint's tokenizer.json extended with data.num_bins coordinate tokens and the
// structure tokens; images are resized to model.image_size (a multiple of 28); the other model.* keys are
// the tiny model's and are ignored.
struct HfModelConfig {
  std::string path;                                            // Hugging Face model folder ("" = tiny model)
  bool train_lm = true;                                        // decoder, embeddings, LM head
  bool train_projector = true;                                 // the patch merger
  bool train_vision = false;                                   // the vision tower
  std::string system_prompt = "You are a helpful assistant.";  // the chat template's system turn
  // Precision of the frozen weights: "float32", or "bfloat16" (half the memory; their products are taken in
  // bfloat16, while what trains, the activations, the losses and CoordExp stay in float32).
  std::string dtype = "float32";
};

struct RunConfig {
  std::string out_dir = "runs/default";  // checkpoints, logs, resolved config, report
  uint64_t seed = 0;                     // model init, data order, augmentation
  int threads = 0;                       // intra-op threads (0 = all cores)
  int64_t log_every = 10;                // steps between log lines in metrics.jsonl
  int64_t eval_every = 0;                // steps between evaluations on val (0 = only at the end)
  int64_t eval_images = 200;             // val images used by periodic evaluations (0 = all)
  int64_t checkpoint_every = 200;        // steps between checkpoints (the last one is always written)
  int64_t eval_batch_size = 32;          // images per generation batch
  int64_t dist_timeout_s = 600;          // data parallel: a collective waiting longer than this fails
  // Keep memory malloc frees for reuse instead of returning it to the kernel (util/allocator.hpp): each step
  // reuses the last step's buffers instead of faulting in fresh pages (1.5x faster steps at Qwen's
  // vocabulary). false: the C library's default policy.
  bool keep_freed_memory = true;
  // A finished run folder whose tokenizer and weights start this run (fresh optimiser, step 0): continuing
  // a teacher-forced model with rollouts, or fine-tuning on other data. "" = from scratch / hf.path.
  std::string init_from;
  // What of init_from is taken: "all" (its tokenizer and every weight) or "vision" (the image encoder's
  // weights only, say a shared vision warm-up; the tokenizer is built from the data with this run's
  // data.num_bins and the rest is initialised from run.seed, so runs with another K can share one warm-up).
  std::string init_parts = "all";
};

struct TrainConfig {
  std::string about;  // what the config is for, in a sentence (no effect on training; configs/README.md)
  DataConfig data;
  TinyVlmConfig model;
  HfModelConfig hf;
  CriterionConfig criterion;
  OptimConfig optim;
  VisionWarmupConfig vision_warmup;
  GenerationConfig generation;
  RolloutConfig rollout;
  AdapterConfig adapter;  // LoRA / DoRA (model/adapter.hpp); type "none" trains the configured parts in full
  RunConfig run;
};

// Reads path over the defaults. Relative paths in the file are relative to the current directory.
TrainConfig load_train_config(const std::string& path);
std::string train_config_to_json(const TrainConfig& config);

}  // namespace coordexp
