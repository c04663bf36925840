// The set matcher (DETR's HungarianMatcher for boxes written as tokens): which predicted object answers
// which ground-truth object. Cost C_ij = lambda_geo * (alpha * L1 + beta * (1 - GIoU)) + lambda_sem *
// (1 - cos(e(d_hat_i), e(d_j))), minimised by the exact rectangular Hungarian algorithm; or matching by
// index (object i <-> the ground truth it was encoded from). Runs without gradients and returns
// (pred_idx, gt_idx) pairs; pairs below an optional IoU floor are declared unmatched.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/text/object_codec.hpp"

namespace coordexp {

enum class MatchingMode {
  kIndex,      // object i in the sequence <-> the ground truth it was encoded from
  kHungarian,  // minimum-cost one-to-one assignment
};
MatchingMode parse_matching_mode(const std::string& name);  // "index", "hungarian"

struct MatcherConfig {
  MatchingMode matching = MatchingMode::kHungarian;
  double l1_weight = 5.0;    // alpha inside l_coord
  double giou_weight = 2.0;  // beta inside l_coord
  double geo_weight = 1.0;   // lambda_geo
  double sem_weight = 1.0;   // lambda_sem (0: geometry only, no embedder needed)
  double min_iou = 0.0;      // matched pairs below this IoU are declared unmatched (0: off)
};

struct MatchResult {
  std::vector<int64_t> pred_idx;  // matched object indices in the sequence
  std::vector<int64_t> gt_idx;    // their ground-truth indices
};

// The matching of one sequence: `pred` [N, 4] double xyxy boxes on the CPU, `pred_desc` their description
// ids (read by the semantic cost), `source_index` [N] the ground truth each object was encoded from (-1:
// none; index matching falls back to the position). `embedder` may be null when sem_weight is 0 or the
// matching is by index. N = 0 or M = 0 gives no pairs.
MatchResult match_objects(const torch::Tensor& pred, const std::vector<std::vector<TokenId>>& pred_desc,
                          const std::vector<int64_t>& source_index,
                          const std::vector<DescribedBox>& ground_truth, const MatcherConfig& config,
                          const TextEmbedder* embedder);

// One sequence's part of a batch matching (the arguments of match_objects).
struct MatchInputs {
  torch::Tensor pred;                             // [N, 4] double xyxy on the CPU
  std::vector<std::vector<TokenId>> pred_desc;    // [N] description ids (semantic cost)
  std::vector<int64_t> source_index;              // [N]
  const std::vector<DescribedBox>* ground_truth;  // [M]
};

// match_objects for every sequence of a batch, the Hungarian assignments solved together
// (linear_sum_assignment_batch, on up to `threads` threads, 0: all cores); the same pairs as one call each.
std::vector<MatchResult> match_objects_batch(const std::vector<MatchInputs>& inputs,
                                             const MatcherConfig& config, const TextEmbedder* embedder,
                                             int threads = 0);

}  // namespace coordexp
