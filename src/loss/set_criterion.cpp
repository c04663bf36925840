// The set criterion (see set_criterion.hpp): text CE, auxiliary coordinate CE, CoordExp boxes, matching,
// L1 + GIoU on matched pairs, unlikelihood on unmatched predictions. Every term is a weighted mean whose
// weights are the samples' weights, so Monte Carlo orderings average exactly.
#include "coordexp/loss/set_criterion.hpp"

#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <sstream>

#include "coordexp/geometry/box_ops_torch.hpp"
#include "coordexp/loss/box_loss.hpp"
#include "coordexp/loss/coord_expectation.hpp"
#include "coordexp/matching/linear_assignment.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

MatchingMode parse_matching_mode(const std::string& name) {
  if (name == "index") return MatchingMode::kIndex;
  if (name == "hungarian") return MatchingMode::kHungarian;
  throw_input_error("matching", "one of index, hungarian", "\"" + name + "\"");
}

UnmatchedPolicy parse_unmatched_policy(const std::string& name) {
  if (name == "ignore") return UnmatchedPolicy::kIgnore;
  if (name == "unlikelihood") return UnmatchedPolicy::kUnlikelihood;
  throw_input_error("unmatched", "one of ignore, unlikelihood", "\"" + name + "\"");
}

bool CriterionOutput::finite() const {
  return std::isfinite(total.item<double>());
}

torch::Tensor CriterionOutput::total_with_denominators(const std::map<std::string, double>& global) const {
  auto t = torch::zeros({}, total.options());
  for (const auto& [name, value] : terms) {
    const double local = denominators.at(name), all = global.at(name);
    if (local > 0 && all > 0) t = t + weights.at(name) * value * (local / all);
  }
  return t;
}

std::string CriterionOutput::describe() const {
  std::ostringstream s;
  s << "total=" << total.item<double>();
  for (const auto& [name, value] : terms)
    s << " " << name << "=" << value.item<double>() << " (w " << weights.at(name) << ")";
  return s.str();
}

SetCriterion::SetCriterion(CriterionConfig config, CoordVocab vocab, StructureTokens structure)
    : config_(config), vocab_(vocab), structure_(structure) {
  COORDEXP_CHECK_ARG(std::isfinite(config.tau) && config.tau > 0, "tau", "a finite temperature > 0",
                     std::to_string(config.tau));
  for (auto [name, w] : {std::pair{"coord_weight", config.coord_weight},
                         {"l1_weight", config.l1_weight},
                         {"giou_weight", config.giou_weight},
                         {"coord_ce_weight", config.coord_ce_weight},
                         {"match_geo_weight", config.match_geo_weight},
                         {"match_sem_weight", config.match_sem_weight},
                         {"unmatched_weight", config.unmatched_weight}})
    COORDEXP_CHECK_ARG(std::isfinite(w) && w >= 0, name, "a finite weight >= 0", std::to_string(w));
}

namespace {

// Weighted mean of values [P] with weights [P]; 0 (connected to the graph) when empty.
torch::Tensor weighted_mean(const torch::Tensor& values, const torch::Tensor& weights) {
  if (values.numel() == 0) return values.sum();
  return (values * weights).sum() / weights.sum().clamp_min(1e-12);
}

torch::Tensor as_long(const std::vector<int64_t>& v, const torch::Device& device) {
  return torch::tensor(v, torch::kLong).to(device);
}

}  // namespace

CriterionOutput SetCriterion::operator()(const CriterionBatch& batch, const TextEmbedder* embedder) const {
  const auto& hidden = batch.hidden;
  COORDEXP_CHECK_ARG(hidden.dim() == 3, "batch.hidden", "[B, T, D]", c10::str(hidden.sizes()));
  const int64_t B = hidden.size(0), T = hidden.size(1), D = hidden.size(2);
  COORDEXP_CHECK_ARG(static_cast<int64_t>(batch.samples.size()) == B, "batch.samples",
                     std::to_string(B) + " samples", std::to_string(batch.samples.size()));
  COORDEXP_CHECK_ARG(
      batch.tokens.sizes() == torch::IntArrayRef({B, T}) && batch.roles.sizes() == batch.tokens.sizes(),
      "batch.tokens/roles", "[B, T] = " + c10::str(torch::IntArrayRef({B, T})),
      c10::str(batch.tokens.sizes()) + " / " + c10::str(batch.roles.sizes()));
  const auto device = hidden.device();
  const auto fopts = hidden.options();
  auto hidden_flat = hidden.reshape({B * T, D});  // [B*T, D]
  const auto& W = batch.lm_head_weight;           // [V, D]
  auto lm_logits = [&](const torch::Tensor& h) {  // [P, D] -> [P, V]
    auto z = torch::matmul(h, W.t());
    return batch.lm_head_bias.defined() ? z + batch.lm_head_bias : z;
  };
  std::vector<double> sample_weight(B);
  for (int64_t b = 0; b < B; ++b) {
    sample_weight[b] = batch.samples[b].weight;
    COORDEXP_CHECK_ARG(std::isfinite(sample_weight[b]) && sample_weight[b] >= 0, "sample weight",
                       "finite and >= 0", std::to_string(sample_weight[b]));
  }
  auto weight_of_row = torch::tensor(sample_weight, fopts).repeat_interleave(T);  // [B*T]

  CriterionOutput out;
  // ---- text CE: description and (optionally) structure tokens -------------------------------------------
  {
    auto roles = batch.roles.to(torch::kInt).reshape({B * T});
    auto mask = roles == static_cast<int>(TokenRole::kDescription);
    if (config_.ce_on_structure) mask = mask | (roles == static_cast<int>(TokenRole::kStructure));
    auto tok_idx = mask.nonzero().squeeze(1);                    // token positions t >= 1
    tok_idx = tok_idx.masked_select(tok_idx.remainder(T) != 0);  // token 0 has no predicting state
    auto h = hidden_flat.index_select(0, tok_idx - 1);           // [P, D]
    auto ce = token_cross_entropy(lm_logits(h), batch.tokens.reshape({B * T}).index_select(0, tok_idx));
    auto w = weight_of_row.index_select(0, tok_idx);
    out.terms["text_ce"] = weighted_mean(ce, w);
    out.denominators["text_ce"] = w.sum().item<double>();
    out.weights["text_ce"] = 1.0;
  }

  // ---- coordinate positions of every predicted object, in (sample, object, x1 y1 x2 y2) order ----------
  std::vector<int64_t> coord_rows;  // hidden rows predicting each coordinate token
  std::vector<int64_t> first_object(B + 1, 0);
  std::vector<double> coord_weights;
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = batch.samples[b];
    first_object[b + 1] = first_object[b] + static_cast<int64_t>(s.objects.size());
    for (const auto& obj : s.objects) {
      for (int64_t p : obj.coord_pos) {
        COORDEXP_CHECK_ARG(p >= 1 && p < T, "object coordinate position", "in [1, " + std::to_string(T) + ")",
                           std::to_string(p));
        coord_rows.push_back(b * T + p - 1);
        coord_weights.push_back(s.weight);
      }
    }
  }
  const int64_t N = first_object[B];
  auto coord_idx = as_long(coord_rows, device);
  auto h_coord = hidden_flat.index_select(0, coord_idx);  // [4N, D]

  // ---- auxiliary CE at coordinate positions, toward the ground truth each object was encoded from ------
  if (config_.coord_ce) {
    std::vector<int64_t> rows;
    std::vector<double> targets, weights;
    for (int64_t b = 0; b < B; ++b) {
      const auto& s = batch.samples[b];
      for (size_t i = 0; i < s.objects.size(); ++i) {
        const int64_t src = s.objects[i].source_index;
        if (src < 0) continue;  // generated objects have no teacher-forced target
        COORDEXP_CHECK_ARG(src < static_cast<int64_t>(s.ground_truth.size()), "object source_index",
                           "an index into ground_truth", std::to_string(src));
        const BoxXYXY& g = s.ground_truth[src].box;
        const double vals[4] = {g.x1, g.y1, g.x2, g.y2};
        for (int c = 0; c < 4; ++c) {
          rows.push_back((first_object[b] + static_cast<int64_t>(i)) * 4 + c);
          // the two-bin target uses the exact coordinate; the hard target the bin actually written
          targets.push_back(config_.coord_ce_target == CoordTarget::kTwoBin
                                ? vals[c]
                                : vocab_.dequantize(s.objects[i].bins[c]));
          weights.push_back(s.weight);
        }
      }
    }
    auto h = h_coord.index_select(0, as_long(rows, device));
    auto ce = coord_bin_cross_entropy(lm_logits(h), torch::tensor(targets, torch::kDouble).to(device), vocab_,
                                      config_.coord_ce_target);
    out.terms["coord_ce"] = weighted_mean(ce, torch::tensor(weights, fopts));
    out.denominators["coord_ce"] = std::accumulate(weights.begin(), weights.end(), 0.0);
    out.weights["coord_ce"] = config_.coord_ce_weight;
  }

  // ---- CoordExp boxes, matching, L1 + GIoU -------------------------------------------------------------
  const bool geometry = config_.coord_weight > 0;
  torch::Tensor pred_boxes;  // [N, 4]
  if (geometry || config_.matching == MatchingMode::kHungarian ||
      config_.unmatched != UnmatchedPolicy::kIgnore) {
    const int64_t K = vocab_.num_bins();
    auto coord_w = W.narrow(0, vocab_.first_id(), K);  // [K, D]
    auto coord_b =
        batch.lm_head_bias.defined() ? batch.lm_head_bias.narrow(0, vocab_.first_id(), K) : torch::Tensor();
    torch::Tensor c = geometry
                          ? coord_expectation(h_coord, coord_w, coord_b, config_.tau)
                          : coord_expectation(h_coord.detach(), coord_w.detach(),
                                              coord_b.defined() ? coord_b.detach() : coord_b, config_.tau);
    pred_boxes = legalize_boxes(c.view({N, 4}));
  } else {
    pred_boxes = torch::zeros({N, 4}, fopts);
  }
  out.pred_boxes = pred_boxes.detach();
  out.matches = match(batch, pred_boxes.detach(), first_object, embedder);

  std::vector<int64_t> pred_rows, unmatched_rows;
  std::vector<double> gt_vals, pair_w, unmatched_w;
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = batch.samples[b];
    const auto& m = out.matches[b];
    std::vector<char> used(s.objects.size(), 0);
    for (size_t k = 0; k < m.pred_idx.size(); ++k) {
      used[m.pred_idx[k]] = 1;
      pred_rows.push_back(first_object[b] + m.pred_idx[k]);
      const BoxXYXY& g = s.ground_truth[m.gt_idx[k]].box;
      gt_vals.insert(gt_vals.end(), {g.x1, g.y1, g.x2, g.y2});
      pair_w.push_back(s.weight);
    }
    out.num_matched += static_cast<int64_t>(m.pred_idx.size());
    out.num_unmatched_gt += static_cast<int64_t>(s.ground_truth.size() - m.gt_idx.size());
    for (size_t i = 0; i < s.objects.size(); ++i) {
      if (used[i]) continue;
      ++out.num_unmatched_pred;
      const int64_t open = s.objects[i].open_pos;
      COORDEXP_CHECK_ARG(open >= 1 && open < T, "object open position", "in [1, " + std::to_string(T) + ")",
                         std::to_string(open));
      unmatched_rows.push_back(b * T + open - 1);
      unmatched_w.push_back(s.weight);
    }
  }
  if (geometry) {
    auto pw = torch::tensor(pair_w, fopts);
    auto pred = pred_boxes.index_select(0, as_long(pred_rows, device));                           // [P, 4]
    auto gt = torch::tensor(gt_vals, torch::kDouble).to(fopts.dtype()).to(device).view({-1, 4});  // [P, 4]
    out.terms["l1"] = weighted_mean(box_l1_loss(pred, gt), pw);
    out.terms["giou"] = weighted_mean(box_giou_loss(pred, gt), pw);
    out.denominators["l1"] = out.denominators["giou"] = std::accumulate(pair_w.begin(), pair_w.end(), 0.0);
    out.weights["l1"] = config_.coord_weight * config_.l1_weight;
    out.weights["giou"] = config_.coord_weight * config_.giou_weight;
  }
  if (config_.unmatched == UnmatchedPolicy::kUnlikelihood) {
    // normalised by the number of predicted objects, so the term is a rate, not a count
    std::vector<double> all_w;
    for (const auto& s : batch.samples) all_w.insert(all_w.end(), s.objects.size(), s.weight);
    auto h = hidden_flat.index_select(0, as_long(unmatched_rows, device));
    auto starts = torch::full({static_cast<int64_t>(unmatched_rows.size())}, structure_.obj_start,
                              torch::TensorOptions().dtype(torch::kLong).device(device));
    auto ul = token_unlikelihood(lm_logits(h), starts);
    const double denom = std::max(1e-12, std::accumulate(all_w.begin(), all_w.end(), 0.0));
    out.terms["unmatched"] = (ul * torch::tensor(unmatched_w, fopts)).sum() / denom;
    out.denominators["unmatched"] = denom;
    out.weights["unmatched"] = config_.unmatched_weight;
  }

  out.total = torch::zeros({}, fopts);
  for (const auto& [name, value] : out.terms) out.total = out.total + out.weights[name] * value;
  return out;
}

MatchResult match_objects(const torch::Tensor& pred, const std::vector<std::vector<TokenId>>& pred_desc,
                          const std::vector<int64_t>& source_index,
                          const std::vector<DescribedBox>& ground_truth, const CriterionConfig& config,
                          const TextEmbedder* embedder) {
  torch::NoGradGuard no_grad;
  MatchResult r;
  const int64_t n = pred.size(0), m = static_cast<int64_t>(ground_truth.size());
  if (n == 0 || m == 0) return r;
  std::vector<double> gt_vals;
  for (const auto& g : ground_truth) gt_vals.insert(gt_vals.end(), {g.box.x1, g.box.y1, g.box.x2, g.box.y2});
  auto gt = torch::tensor(gt_vals, torch::kDouble).view({m, 4});  // [M, 4]
  if (config.matching == MatchingMode::kIndex) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t src = source_index[i];
      const int64_t j = src >= 0 ? src : i;
      if (j < m) {
        r.pred_idx.push_back(i);
        r.gt_idx.push_back(j);
      }
    }
  } else {
    auto cost =
        config.match_geo_weight * box_pair_cost(pred, gt, config.l1_weight, config.giou_weight);  // [N, M]
    if (config.match_sem_weight > 0) {
      COORDEXP_CHECK_ARG(embedder != nullptr, "embedder", "a text embedder when match_sem_weight > 0",
                         "null");
      std::vector<std::vector<TokenId>> gt_desc;
      for (const auto& g : ground_truth) gt_desc.push_back(g.desc_ids);
      auto dist = cosine_distance_matrix(embedder->embed(pred_desc), embedder->embed(gt_desc));  // [N, M]
      cost = cost + config.match_sem_weight * dist.to(torch::kDouble).cpu();
    }
    cost = cost.contiguous();
    const Assignment a = linear_sum_assignment({cost.data_ptr<double>(), static_cast<size_t>(n * m)}, n, m);
    r.pred_idx = a.rows;
    r.gt_idx = a.cols;
  }
  if (config.match_min_iou > 0) {
    auto iou = box_iou_pairwise(pred, gt);  // [N, M]
    MatchResult kept;
    for (size_t k = 0; k < r.pred_idx.size(); ++k) {
      if (iou[r.pred_idx[k]][r.gt_idx[k]].item<double>() >= config.match_min_iou) {
        kept.pred_idx.push_back(r.pred_idx[k]);
        kept.gt_idx.push_back(r.gt_idx[k]);
      }
    }
    r = std::move(kept);
  }
  return r;
}

std::vector<MatchResult> SetCriterion::match(const CriterionBatch& batch, const torch::Tensor& pred_boxes,
                                             const std::vector<int64_t>& first_object,
                                             const TextEmbedder* embedder) const {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(batch.samples.size());
  std::vector<MatchResult> out(B);
  const bool semantic = config_.matching == MatchingMode::kHungarian && config_.match_sem_weight > 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = batch.samples[b];
    if (s.fixed_match) {
      out[b] = *s.fixed_match;
      continue;
    }
    const int64_t n = static_cast<int64_t>(s.objects.size());
    if (n == 0 || s.ground_truth.empty()) continue;
    auto pred = pred_boxes.narrow(0, first_object[b], n).to(torch::kDouble).cpu();  // [N, 4]
    std::vector<std::vector<TokenId>> pred_desc(n);
    std::vector<int64_t> source(n);
    for (int64_t i = 0; i < n; ++i) {
      source[i] = s.objects[i].source_index;
      const auto& pos = s.objects[i].desc_pos;
      if (!semantic || pos.empty()) continue;
      if (s.desc_from_sequence) {
        for (int64_t p : pos) pred_desc[i].push_back(batch.tokens[b][p].item<int64_t>());
      } else {  // teacher forcing: what the model would have written there
        auto rows = (torch::tensor(pos, torch::kLong) - 1).to(batch.hidden.device());
        auto h = batch.hidden[b].index_select(0, rows);  // [L, D]
        auto z = torch::matmul(h, batch.lm_head_weight.t());
        if (batch.lm_head_bias.defined()) z = z + batch.lm_head_bias;
        auto ids = z.argmax(1).cpu();
        pred_desc[i].assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
      }
    }
    out[b] = match_objects(pred, pred_desc, source, s.ground_truth, config_, embedder);
  }
  return out;
}

}  // namespace coordexp
