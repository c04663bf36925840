// The set matcher (see set_matcher.hpp): cost matrix, exact assignment, IoU floor.
#include "coordexp/loss/set_matcher.hpp"

#include <torch/torch.h>

#include "coordexp/geometry/box_ops_torch.hpp"
#include "coordexp/loss/box_loss.hpp"
#include "coordexp/matching/linear_assignment.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

MatchingMode parse_matching_mode(const std::string& name) {
  if (name == "index") return MatchingMode::kIndex;
  if (name == "hungarian") return MatchingMode::kHungarian;
  throw_input_error("matching", "one of index, hungarian", "\"" + name + "\"");
}

namespace {

// Object i <-> its source ground truth (or, without one, ground truth i), where that exists.
MatchResult match_by_index(const std::vector<int64_t>& source_index, int64_t m) {
  MatchResult r;
  for (int64_t i = 0; i < static_cast<int64_t>(source_index.size()); ++i) {
    const int64_t j = source_index[i] >= 0 ? source_index[i] : i;
    if (j < m) {
      r.pred_idx.push_back(i);
      r.gt_idx.push_back(j);
    }
  }
  return r;
}

// C [N, M] double = lambda_geo * l_coord + lambda_sem * (1 - cos), on the CPU.
torch::Tensor matching_cost(const torch::Tensor& pred, const torch::Tensor& gt,
                            const std::vector<std::vector<TokenId>>& pred_desc,
                            const std::vector<DescribedBox>& ground_truth, const MatcherConfig& config,
                            const TextEmbedder* embedder) {
  auto cost = config.geo_weight * box_pair_cost(pred, gt, config.l1_weight, config.giou_weight);  // [N, M]
  if (config.sem_weight > 0) {
    COORDEXP_CHECK_ARG(embedder != nullptr, "embedder", "a text embedder when match_sem_weight > 0", "null");
    std::vector<std::vector<TokenId>> gt_desc;
    for (const auto& g : ground_truth) gt_desc.push_back(g.desc_ids);
    auto dist = cosine_distance_matrix(embedder->embed(pred_desc), embedder->embed(gt_desc));  // [N, M]
    cost = cost + config.sem_weight * dist.to(torch::kDouble).cpu();
  }
  return cost.contiguous();
}

// The pairs of `r` whose IoU reaches min_iou.
MatchResult drop_weak_pairs(const MatchResult& r, const torch::Tensor& pred, const torch::Tensor& gt,
                            double min_iou) {
  auto iou = box_iou_pairwise(pred, gt);  // [N, M]
  MatchResult kept;
  for (size_t k = 0; k < r.pred_idx.size(); ++k) {
    if (iou[r.pred_idx[k]][r.gt_idx[k]].item<double>() >= min_iou) {
      kept.pred_idx.push_back(r.pred_idx[k]);
      kept.gt_idx.push_back(r.gt_idx[k]);
    }
  }
  return kept;
}

}  // namespace

MatchResult match_objects(const torch::Tensor& pred, const std::vector<std::vector<TokenId>>& pred_desc,
                          const std::vector<int64_t>& source_index,
                          const std::vector<DescribedBox>& ground_truth, const MatcherConfig& config,
                          const TextEmbedder* embedder) {
  return match_objects_batch({{pred, pred_desc, source_index, &ground_truth}}, config, embedder, 1)[0];
}

std::vector<MatchResult> match_objects_batch(const std::vector<MatchInputs>& inputs,
                                             const MatcherConfig& config, const TextEmbedder* embedder,
                                             int threads) {
  torch::NoGradGuard no_grad;
  std::vector<MatchResult> out(inputs.size());
  std::vector<torch::Tensor> gts(inputs.size()), costs;
  std::vector<CostMatrixView> views;
  std::vector<size_t> solved;  // which inputs the views belong to
  for (size_t k = 0; k < inputs.size(); ++k) {
    const MatchInputs& in = inputs[k];
    const int64_t n = in.pred.size(0), m = static_cast<int64_t>(in.ground_truth->size());
    if (n == 0 || m == 0) continue;
    std::vector<double> gt_vals;
    for (const auto& g : *in.ground_truth)
      gt_vals.insert(gt_vals.end(), {g.box.x1, g.box.y1, g.box.x2, g.box.y2});
    gts[k] = torch::tensor(gt_vals, torch::kDouble).view({m, 4});  // [M, 4]
    if (config.matching == MatchingMode::kIndex) {
      out[k] = match_by_index(in.source_index, m);
      continue;
    }
    costs.push_back(matching_cost(in.pred, gts[k], in.pred_desc, *in.ground_truth, config, embedder));
    views.push_back({{costs.back().data_ptr<double>(), static_cast<size_t>(n * m)}, n, m});
    solved.push_back(k);
  }
  const std::vector<Assignment> assignments = linear_sum_assignment_batch(views, threads);
  for (size_t v = 0; v < solved.size(); ++v) {
    out[solved[v]].pred_idx = assignments[v].rows;
    out[solved[v]].gt_idx = assignments[v].cols;
  }
  if (config.min_iou > 0)
    for (size_t k = 0; k < inputs.size(); ++k)
      if (gts[k].defined()) out[k] = drop_weak_pairs(out[k], inputs[k].pred, gts[k], config.min_iou);
  return out;
}

}  // namespace coordexp
