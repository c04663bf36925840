// Rollout consistency training (the method's second embodiment, no reinforcement learning): the model
// generates for the batch's images with the grammar-constrained decoder, its objects are matched as a set to
// the ground truth (Hungarian on lambda_geo (L1 + GIoU) + lambda_sem (1 - cosine of description
// embeddings), pairs under an IoU floor unmatched), and the generated sequence is teacher-forced so that
// CoordExp at its coordinate positions regresses each matched box toward its match. Optional parts:
// matched descriptions rewritten to their ground truth's with CE on them (description consistency),
// missed ground truth appended after the generated objects as ordinary teacher-forced targets (recall),
// and, through criterion.unmatched = "unlikelihood", a penalty on the <obj_start> that opened each
// hallucinated or duplicate object. Generated tokens themselves get no CE (no self-training on mistakes).
#pragma once

#include <string>

#include "coordexp/infer/generator.hpp"
#include "coordexp/loss/set_criterion.hpp"
#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/model/vlm.hpp"
#include "coordexp/text/detection_tokenizer.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/rollout_config.hpp"

namespace coordexp {

// What one rollout batch did (summed over its images).
struct RolloutStats {
  int64_t images = 0;
  int64_t generated = 0;     // objects parsed from the rollouts
  int64_t matched = 0;       // of them, matched to ground truth
  int64_t duplicates = 0;    // generated objects with IoU > 0.8 to another of the same description
  int64_t missed = 0;        // ground-truth objects no generated object matched
  int64_t ground_truth = 0;  // ground-truth objects
  int64_t tokens = 0;        // generated tokens
  int64_t unterminated = 0;  // rollouts that hit the length limit (their open object dropped)
  int64_t degenerate = 0;    // generated boxes of zero width or height
  int64_t empty = 0;         // rollouts without any object
  void add(const RolloutStats& o);
};

// Replaces a teacher-forced batch by its rollout counterpart: same images, one sequence per image (the
// first of each image's Monte Carlo orderings gives the ground truth), prompt + rollout (+ missed objects) +
// answer end, with roles, spans and fixed matches for the criterion. The model is switched to eval mode
// for generating and back afterwards; no gradients flow through the generation. Missed objects are
// appended in `missed_order` (the data config's order, so a raster-order model sees them in raster order
// on a raster_grid x raster_grid grid; "random" draws one permutation per image, seeded by its position).
TrainBatch build_rollout_batch(VisionLanguageModel& model, const TrainBatch& batch,
                               const DetectionTokenizer& tokenizer, const std::vector<TokenId>& prompt,
                               const CriterionConfig& criterion, const RolloutConfig& rollout,
                               const GenerationConfig& generation, const TextEmbedder& embedder,
                               RolloutStats* stats, ObjectOrder missed_order = ObjectOrder::kX1Ascending,
                               int raster_grid = 8);

}  // namespace coordexp
