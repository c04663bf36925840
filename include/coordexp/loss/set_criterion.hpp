// The set criterion: L = L_text + lambda_coord * L_coord, the training loss of the method.
//   L_text  token CE on description tokens (and structure tokens), plus an optional auxiliary CE at
//           coordinate positions (hard one-hot or two-bin target) with its own weight;
//   L_coord alpha * L1 + beta * (1 - GIoU) between CoordExp boxes and their matched ground truth,
//           normalised by the number of matched boxes (DETR);
//   matching: by index (object i <-> the ground truth it was encoded from) or Hungarian on
//           lambda_geo * l_coord + lambda_sem * (1 - cos(e(d_hat), e(d))), run without gradients;
//   unmatched predictions (rollouts, N != M): ignored, or an unlikelihood penalty -log(1 - p) on the
//           <obj_start> token that opened them.
// Monte Carlo orderings: put R sequences of an image (R random orders) in the batch with weight 1/R each;
// since permutations keep every count equal, the weighted means below are exactly the average of the R
// losses. Shape letters: B batch, T tokens, D width, V vocabulary, K coordinate bins, N predicted objects, M
// ground-truth objects.
#pragma once

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/loss/text_loss.hpp"
#include "coordexp/text/object_codec.hpp"

namespace coordexp {

enum class MatchingMode {
  kIndex,      // object i in the sequence <-> the ground truth it was encoded from
  kHungarian,  // minimum-cost one-to-one assignment
};
MatchingMode parse_matching_mode(const std::string& name);  // "index", "hungarian"

enum class UnmatchedPolicy {
  kIgnore,        // unmatched predictions get no loss
  kUnlikelihood,  // -log(1 - p(<obj_start>)) at the position that opened each unmatched prediction
};
UnmatchedPolicy parse_unmatched_policy(const std::string& name);  // "ignore", "unlikelihood"

struct CriterionConfig {
  double coord_weight = 1.0;    // lambda_coord; 0 turns CoordExp off (the CE-only baseline)
  double l1_weight = 5.0;       // alpha
  double giou_weight = 2.0;     // beta
  double tau = 1.0;             // softmax temperature over the coordinate bins
  bool ce_on_structure = true;  // token CE on <obj_start>, <obj_end>, answer end
  bool coord_ce = true;         // auxiliary CE at coordinate positions
  CoordTarget coord_ce_target = CoordTarget::kHard;  // its target: one-hot or two-bin
  double coord_ce_weight = 1.0;                      // its weight
  MatchingMode matching = MatchingMode::kHungarian;  // how predictions meet ground truth
  double match_geo_weight = 1.0;                     // lambda_geo in the matching cost
  double match_sem_weight = 1.0;                     // lambda_sem in the matching cost (0: geometry only)
  double match_min_iou = 0.0;  // matched pairs below this IoU are declared unmatched (0: off)
  UnmatchedPolicy unmatched = UnmatchedPolicy::kIgnore;  // what unmatched predictions cost
  double unmatched_weight = 1.0;                         // weight of the unlikelihood term
};

struct MatchResult {
  std::vector<int64_t> pred_idx;  // matched object indices in the sequence
  std::vector<int64_t> gt_idx;    // their ground-truth indices
};

// One sequence of the batch. Positions are sequence token positions; hidden[b, t] predicts token t + 1.
struct CriterionSample {
  std::vector<ObjectSpan> objects;         // the N predicted objects as they stand in the sequence
  std::vector<DescribedBox> ground_truth;  // the M ground-truth objects, boxes normalised to [0, 1]
  bool desc_from_sequence = false;         // semantic cost reads the sequence's description tokens
                                           // (rollouts); else the model's argmax there (teacher forcing)
  double weight = 1.0;                     // 1/R under Monte Carlo orderings
  // Pairs decided before the sequence was built (rollouts: matched on the generated boxes, then missed
  // ground truth appended); when set, the criterion uses them instead of matching.
  std::optional<MatchResult> fixed_match;
};

struct CriterionBatch {
  torch::Tensor hidden;          // [B, T, D] final hidden states (after the final norm)
  torch::Tensor tokens;          // [B, T] int64 sequence token ids
  torch::Tensor roles;           // [B, T] uint8: TokenRole of token t, or kRoleNone where unsupervised
  torch::Tensor lm_head_weight;  // [V, D]
  torch::Tensor lm_head_bias;    // [V] or undefined
  std::vector<CriterionSample> samples;  // [B]
};
constexpr uint8_t kRoleNone = 255;

struct CriterionOutput {
  torch::Tensor total;                         // scalar: sum of weight * term
  std::map<std::string, torch::Tensor> terms;  // unweighted terms (scalars)
  std::map<std::string, double> weights;       // each term's weight in total
  // Each term is numerator / denominator with the denominator a sum of sample weights (tokens, coordinates,
  // matched pairs, predicted objects). Data-parallel training sums the denominators over ranks and calls
  // total_with_denominators(global): sum over ranks of that total is the loss of the whole global batch.
  std::map<std::string, double> denominators;
  torch::Tensor total_with_denominators(const std::map<std::string, double>& global) const;
  std::vector<MatchResult> matches;  // [B]
  torch::Tensor pred_boxes;          // [sum N, 4] legal CoordExp boxes, detached
  int64_t num_matched = 0, num_unmatched_pred = 0, num_unmatched_gt = 0;
  bool finite() const;
  std::string describe() const;  // "total=... text_ce=... (w 1) ..."
};

// The matching of one sequence: `pred` [N, 4] double boxes on CPU, `pred_desc` their description ids (used
// by the semantic cost), by config.matching (index: source_index, else position), Hungarian on
// match_geo_weight * (l1_weight L1 + giou_weight (1 - GIoU)) + match_sem_weight * (1 - cosine), then pairs
// under match_min_iou dropped. `embedder` may be null when the semantic cost is off.
MatchResult match_objects(const torch::Tensor& pred, const std::vector<std::vector<TokenId>>& pred_desc,
                          const std::vector<int64_t>& source_index,
                          const std::vector<DescribedBox>& ground_truth, const CriterionConfig& config,
                          const TextEmbedder* embedder);

class SetCriterion {
 public:
  SetCriterion(CriterionConfig config, CoordVocab vocab, StructureTokens structure);
  // embedder may be null when match_sem_weight == 0 or matching is by index.
  CriterionOutput operator()(const CriterionBatch& batch, const TextEmbedder* embedder) const;
  const CriterionConfig& config() const { return config_; }

 private:
  std::vector<MatchResult> match(const CriterionBatch& batch, const torch::Tensor& pred_boxes,
                                 const std::vector<int64_t>& first_object,
                                 const TextEmbedder* embedder) const;
  CriterionConfig config_;
  CoordVocab vocab_;
  StructureTokens structure_;
};

}  // namespace coordexp
