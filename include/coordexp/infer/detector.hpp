// Running a V-LLM as a detector over a dataset: batched grammar-constrained generation, descriptions
// mapped to categories (exact name after normalisation, then synonyms, then the label embedder; unmapped
// descriptions are counted and dropped), boxes in pixels as COCO detections, and COCO evaluation.
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/data/image_store.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/eval/label_accuracy.hpp"
#include "coordexp/eval/label_mapping.hpp"
#include "coordexp/infer/generator.hpp"
#include "coordexp/text/detection_tokenizer.hpp"

namespace coordexp {

struct DetectionRun {
  std::vector<Detection> detections;                    // COCO detections with categories
  std::vector<size_t> images;                           // dataset indices that were run
  std::vector<std::vector<GeneratedObject>> generated;  // per run image, as generated (boxes normalised to
                                                        // the image, not the model frame)
  LabelMappingCounts label_counts;                      // how descriptions met categories
  int64_t generated_tokens = 0;
  int64_t unterminated = 0;  // sequences that hit the length limit
  double seconds = 0;
};

// The grammar over a model with `model_vocab_size` logits (>= the tokenizer's ids; rows past the
// tokenizer, such as a checkpoint's padding rows, are never allowed).
GrammarTokens grammar_for(const DetectionTokenizer& tokenizer, int64_t model_vocab_size);

// Runs the first max_images usable images (0 = all); with num_shards > 1 only every num_shards-th of them,
// starting at shard (data-parallel evaluation; merge_detection_runs puts the shards back together). Images
// the store cannot decode are left out of `images` (and so out of the evaluation), counted by the store.
DetectionRun detect_dataset(VisionLanguageModel& model, const DetectionDataset& dataset,
                            const ImageStore& store, const DetectionTokenizer& tokenizer,
                            const LabelMapper& mapper, const GenerationConfig& config, int64_t batch_size,
                            int64_t max_images, int shard = 0, int num_shards = 1);

// Shards of one detect_dataset call -> the run one process would have produced: images in dataset order,
// detections grouped by image in that order and re-indexed, counts summed, seconds the slowest shard's.
DetectionRun merge_detection_runs(std::vector<DetectionRun> shards, const DetectionDataset& dataset);

// A run as bytes and back, to move shards between processes. Malformed bytes are an InputError.
std::string serialize_detection_run(const DetectionRun& run);
DetectionRun deserialize_detection_run(const std::string& bytes);

struct RunEvaluation {
  CocoSummary summary;            // the 12 stats, per-category AP, counts
  CocoAccumulation accumulation;  // precision/recall tables (for PR curves)
  CocoEvalParams params;
  std::vector<int64_t> category_ids;  // the K axis of the tables
  // The same detections with every category pooled (pycocotools' useCats = 0): how well the boxes find
  // objects whatever their labels, so localisation and recognition can be told apart.
  std::array<double, 12> agnostic_stats{};
  LabelAccuracy label_accuracy;  // recognition of the detections that found a box (label_accuracy.hpp)
};

// COCO evaluation restricted to the images that were run.
RunEvaluation evaluate_run(const DetectionDataset& dataset, const DetectionRun& run);

}  // namespace coordexp
