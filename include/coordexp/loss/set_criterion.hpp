// The set criterion: L = L_text + lambda_coord * L_coord, the training loss of the method.
//   L_text  token CE on description tokens (and structure tokens), plus an optional auxiliary CE at
//           coordinate positions (hard one-hot or two-bin target) with its own weight, and optional
//           distribution terms there (Gaussian soft-label CE, gate, Wasserstein-1);
//   L_coord alpha * L1 + beta * (1 - GIoU) between CoordExp boxes and their matched ground truth,
//           normalised by the number of matched boxes (DETR);
//   matching: set_matcher.hpp (index or Hungarian), run without gradients;
//   unmatched predictions (rollouts, N != M): ignored, or an unlikelihood penalty -log(1 - p) on the
//           <obj_start> token that opened them.
// Each term is computed by its own function and returned unweighted in a LossTerms table beside its weight
// (loss_terms.hpp), where the total is composed once. Monte Carlo orderings: put R sequences of an image (R
// random orders) in the batch with weight 1/R each; since permutations keep every count equal, the weighted
// means are exactly the average of the R losses. Shape letters: B batch, T tokens, D width, V vocabulary, K
// coordinate bins, N predicted objects, M ground-truth objects.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "coordexp/loss/loss_terms.hpp"
#include "coordexp/loss/set_matcher.hpp"
#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/loss/text_loss.hpp"
#include "coordexp/text/object_codec.hpp"
#include "coordexp/text/token_table.hpp"

namespace coordexp {

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
  // The reference implementation's distribution terms at teacher-forced coordinate positions (text_loss.hpp),
  // each with its own weight (0: off): Gaussian soft-label CE over the K bins (sigma in bins), the gate
  // (mass leaking off the coordinate tokens), and Wasserstein-1 to the target coordinate.
  double coord_soft_ce_weight = 0.0;
  double coord_soft_sigma = 2.0;
  double coord_gate_weight = 0.0;
  double coord_w1_weight = 0.0;
  MatchingMode matching = MatchingMode::kHungarian;  // how predictions meet ground truth
  double match_geo_weight = 1.0;                     // lambda_geo in the matching cost
  double match_sem_weight = 1.0;                     // lambda_sem in the matching cost (0: geometry only)
  double match_min_iou = 0.0;  // matched pairs below this IoU are declared unmatched (0: off)
  UnmatchedPolicy unmatched = UnmatchedPolicy::kIgnore;  // what unmatched predictions cost
  double unmatched_weight = 1.0;                         // weight of the unlikelihood term
  MatcherConfig matcher() const;                         // the matching fields above
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
  torch::Tensor hidden;  // [B, T, D] final hidden states (after the final norm)
  torch::Tensor tokens;  // [B, T] int64 sequence token ids
  torch::Tensor roles;   // [B, T] uint8: TokenRole of token t, or kRoleNone where unsupervised
  TokenTable lm_head;    // [V, D] (+ bias): the model's head, possibly held in two parts
  std::vector<CriterionSample> samples;  // [B]
};
constexpr uint8_t kRoleNone = 255;

struct CriterionOutput {
  LossTerms losses;                  // the named terms with their weights; the objective is losses.total()
  std::vector<MatchResult> matches;  // [B]
  torch::Tensor pred_boxes;          // [sum N, 4] legal CoordExp boxes, detached
  int64_t num_matched = 0, num_unmatched_pred = 0, num_unmatched_gt = 0;
  torch::Tensor total() const { return losses.total(); }
  bool finite() const { return losses.finite(); }
  std::string describe() const { return losses.describe(); }
};

class SetCriterion {
 public:
  SetCriterion(CriterionConfig config, CoordVocab vocab, StructureTokens structure);
  // embedder may be null when match_sem_weight == 0 or matching is by index.
  CriterionOutput operator()(const CriterionBatch& batch, const TextEmbedder* embedder) const;
  const CriterionConfig& config() const { return config_; }
  // The schedule that ramps the coordinate terms (coord_ce, l1, giou) in over the first ramp_steps steps.
  static LossSchedule coordinate_ramp(int64_t ramp_steps);

 private:
  struct Context;  // the views of the batch that every term reads (set_criterion.cpp)
  HeadCEGroup text_ce_rows(const Context& c, torch::Tensor& rows) const;
  HeadCEGroup coord_ce_rows(const Context& c) const;
  void add_head_terms(Context& c, LossTerms& losses) const;  // text CE and coordinate CE, fused
  void add_distribution_terms(const Context& c, const HeadCEGroup& coord_rows, LossTerms& losses) const;
  torch::Tensor predicted_boxes(const Context& c) const;  // [N, 4] legal CoordExp boxes
  std::vector<MatchResult> match(const Context& c, const torch::Tensor& pred_boxes,
                                 const TextEmbedder* embedder) const;
  struct Pairs {                          // matched pairs and unmatched predictions, in (sample, pair) order
    std::vector<int64_t> pred_rows;       // [P] object rows of matched predictions
    std::vector<double> gt_values;        // [P * 4] their ground-truth boxes
    std::vector<double> pair_weights;     // [P]
    std::vector<int64_t> unmatched_rows;  // hidden rows that opened unmatched predictions
    std::vector<double> unmatched_weights;
  };
  Pairs collect_pairs(const Context& c, CriterionOutput& out) const;  // also counts into out
  void add_box_terms(const Context& c, const torch::Tensor& pred_boxes, const Pairs& p,
                     LossTerms& losses) const;
  void add_unmatched(const Context& c, const Pairs& p, LossTerms& losses) const;

  CriterionConfig config_;
  CoordVocab vocab_;
  StructureTokens structure_;
};

}  // namespace coordexp
