// The set criterion (see set_criterion.hpp): text CE, auxiliary coordinate CE, CoordExp boxes, matching,
// L1 + GIoU on matched pairs, unlikelihood on unmatched predictions, each term its own function (DETR's
// get_loss). Every term is a weighted mean whose weights are the samples' weights, so Monte Carlo orderings
// average exactly. The terms are computed in a fixed order (text CE, coordinate CE, boxes, unlikelihood):
// the order in which they read the hidden states is the order in which backward sums their gradients.
#include "coordexp/loss/set_criterion.hpp"

#include <torch/torch.h>

#include <cmath>
#include <numeric>

#include "coordexp/geometry/box_ops_torch.hpp"
#include "coordexp/loss/box_loss.hpp"
#include "coordexp/loss/coord_expectation.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/step_profile.hpp"

namespace coordexp {

UnmatchedPolicy parse_unmatched_policy(const std::string& name) {
  if (name == "ignore") return UnmatchedPolicy::kIgnore;
  if (name == "unlikelihood") return UnmatchedPolicy::kUnlikelihood;
  throw_input_error("unmatched", "one of ignore, unlikelihood", "\"" + name + "\"");
}

MatcherConfig CriterionConfig::matcher() const {
  return MatcherConfig{matching, l1_weight, giou_weight, match_geo_weight, match_sem_weight, match_min_iou};
}

SetCriterion::SetCriterion(CriterionConfig config, CoordVocab vocab, StructureTokens structure)
    : config_(config), vocab_(vocab), structure_(structure) {
  COORDEXP_CHECK_ARG(std::isfinite(config.tau) && config.tau > 0, "tau", "a finite temperature > 0",
                     std::to_string(config.tau));
  COORDEXP_CHECK_ARG(std::isfinite(config.coord_soft_sigma) && config.coord_soft_sigma > 0,
                     "coord_soft_sigma", "a finite width > 0 (bins)",
                     std::to_string(config.coord_soft_sigma));
  for (auto [name, w] : {std::pair{"coord_weight", config.coord_weight},
                         {"l1_weight", config.l1_weight},
                         {"giou_weight", config.giou_weight},
                         {"coord_ce_weight", config.coord_ce_weight},
                         {"coord_soft_ce_weight", config.coord_soft_ce_weight},
                         {"coord_gate_weight", config.coord_gate_weight},
                         {"coord_w1_weight", config.coord_w1_weight},
                         {"match_geo_weight", config.match_geo_weight},
                         {"match_sem_weight", config.match_sem_weight},
                         {"unmatched_weight", config.unmatched_weight}})
    COORDEXP_CHECK_ARG(std::isfinite(w) && w >= 0, name, "a finite weight >= 0", std::to_string(w));
}

LossSchedule SetCriterion::coordinate_ramp(int64_t ramp_steps) {
  return LossSchedule{ramp_steps, {"coord_ce", "coord_soft_ce", "coord_gate", "coord_w1", "l1", "giou"}};
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

double sum(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

}  // namespace

struct SetCriterion::Context {
  const CriterionBatch& batch;
  int64_t B = 0, T = 0, D = 0, N = 0;
  torch::TensorOptions fopts;
  torch::Tensor hidden_flat;          // [B*T, D]
  torch::Tensor weight_of_row;        // [B*T] the sample weight of each row
  std::vector<int64_t> coord_rows;    // [4N] hidden rows predicting each coordinate token, in (sample,
                                      // object, x1 y1 x2 y2) order
  std::vector<int64_t> first_object;  // [B + 1] index of each sample's first object
  torch::Tensor h_coord;              // [4N, D], gathered after the text CE has read hidden_flat
  torch::Tensor greedy_of_row;        // [B*T] int64: the head's argmax at the rows the text CE read, else -1
                                      // (the teacher-forced descriptions of the semantic matching cost)

  explicit Context(const CriterionBatch& b);
  torch::Device device() const { return hidden_flat.device(); }
  torch::Tensor lm_logits(const torch::Tensor& h) const {
    return batch.lm_head.logits(h);
  }  // [P, D] -> [P, V]
};

SetCriterion::Context::Context(const CriterionBatch& b) : batch(b) {
  const auto& hidden = b.hidden;
  COORDEXP_CHECK_ARG(hidden.dim() == 3, "batch.hidden", "[B, T, D]", c10::str(hidden.sizes()));
  B = hidden.size(0), T = hidden.size(1), D = hidden.size(2);
  COORDEXP_CHECK_ARG(static_cast<int64_t>(b.samples.size()) == B, "batch.samples",
                     std::to_string(B) + " samples", std::to_string(b.samples.size()));
  COORDEXP_CHECK_ARG(b.tokens.sizes() == torch::IntArrayRef({B, T}) && b.roles.sizes() == b.tokens.sizes(),
                     "batch.tokens/roles", "[B, T] = " + c10::str(torch::IntArrayRef({B, T})),
                     c10::str(b.tokens.sizes()) + " / " + c10::str(b.roles.sizes()));
  fopts = hidden.options();
  hidden_flat = hidden.reshape({B * T, D});
  std::vector<double> sample_weight(B);
  for (int64_t i = 0; i < B; ++i) {
    sample_weight[i] = b.samples[i].weight;
    COORDEXP_CHECK_ARG(std::isfinite(sample_weight[i]) && sample_weight[i] >= 0, "sample weight",
                       "finite and >= 0", std::to_string(sample_weight[i]));
  }
  weight_of_row = torch::tensor(sample_weight, fopts).repeat_interleave(T);
  first_object.assign(B + 1, 0);
  for (int64_t i = 0; i < B; ++i) {
    const auto& s = b.samples[i];
    first_object[i + 1] = first_object[i] + static_cast<int64_t>(s.objects.size());
    for (const auto& obj : s.objects) {
      for (int64_t p : obj.coord_pos) {
        COORDEXP_CHECK_ARG(p >= 1 && p < T, "object coordinate position", "in [1, " + std::to_string(T) + ")",
                           std::to_string(p));
        coord_rows.push_back(i * T + p - 1);
      }
    }
  }
  N = first_object[B];
}

// The rows of the token CE: description tokens and (with ce_on_structure) structure tokens, each with the
// token itself as a hard target. `rows` receives their hidden rows.
HeadCEGroup SetCriterion::text_ce_rows(const Context& c, torch::Tensor& rows) const {
  const int64_t B = c.B, T = c.T;
  auto roles = c.batch.roles.to(torch::kInt).reshape({B * T});
  auto mask = roles == static_cast<int>(TokenRole::kDescription);
  if (config_.ce_on_structure) mask = mask | (roles == static_cast<int>(TokenRole::kStructure));
  auto tok_idx = mask.nonzero().squeeze(1);                    // token positions t >= 1
  tok_idx = tok_idx.masked_select(tok_idx.remainder(T) != 0);  // token 0 has no predicting state
  rows = tok_idx - 1;
  auto targets = c.batch.tokens.reshape({B * T}).index_select(0, tok_idx);
  auto w = c.weight_of_row.index_select(0, tok_idx);
  return {c.hidden_flat.index_select(0, rows), torch::stack({targets, targets}, 1),
          torch::stack({torch::ones_like(w), torch::zeros_like(w)}, 1), w};
}

// The rows of the auxiliary CE at coordinate positions, toward the ground truth each object was encoded
// from: the two-bin target at the exact coordinate, the hard target at the bin actually written. Generated
// objects (no source) have no teacher-forced target.
HeadCEGroup SetCriterion::coord_ce_rows(const Context& c) const {
  std::vector<int64_t> rows;
  std::vector<double> targets, weights;
  for (int64_t b = 0; b < c.B; ++b) {
    const auto& s = c.batch.samples[b];
    for (size_t i = 0; i < s.objects.size(); ++i) {
      const int64_t src = s.objects[i].source_index;
      if (src < 0) continue;
      COORDEXP_CHECK_ARG(src < static_cast<int64_t>(s.ground_truth.size()), "object source_index",
                         "an index into ground_truth", std::to_string(src));
      const BoxXYXY& g = s.ground_truth[src].box;
      const double vals[4] = {g.x1, g.y1, g.x2, g.y2};
      for (int k = 0; k < 4; ++k) {
        rows.push_back((c.first_object[b] + static_cast<int64_t>(i)) * 4 + k);
        targets.push_back(config_.coord_ce_target == CoordTarget::kTwoBin
                              ? vals[k]
                              : vocab_.dequantize(s.objects[i].bins[k]));
        weights.push_back(s.weight);
      }
    }
  }
  const TwoIdTargets t =
      coord_bin_targets(torch::tensor(targets, torch::kDouble), vocab_, config_.coord_ce_target);
  return {c.h_coord.index_select(0, as_long(rows, c.device())), t.ids.to(c.device()),
          t.weights.to(c.device()), torch::tensor(weights, c.fopts)};
}

// The distribution terms at the coordinate CE's rows, toward the same targets (the two-bin target's exact
// coordinate, or the bin written): over the K coordinate columns of the head, and the full head for the gate.
void SetCriterion::add_distribution_terms(const Context& c, const HeadCEGroup& rows,
                                          LossTerms& losses) const {
  const int64_t K = vocab_.num_bins();
  // the target coordinate of each row: the weighted mean of its two target bins
  const auto bins = (rows.ids - vocab_.first_id()).to(torch::kDouble);
  const auto target = ((rows.targets.to(torch::kDouble) * bins).sum(1) / (K - 1)).to(c.fopts.dtype());
  auto coord_w = c.batch.lm_head.rows(vocab_.first_id(), K);
  auto coord_b = c.batch.lm_head.bias_rows(vocab_.first_id(), K);
  auto z = torch::matmul(rows.hidden, coord_w.t().to(rows.hidden.scalar_type()));  // [R, K]
  if (coord_b.defined()) z = z + coord_b;
  const double denom = rows.weights.sum().item<double>();
  if (config_.coord_soft_ce_weight > 0)
    losses.add("coord_soft_ce",
               weighted_mean(coord_gaussian_ce(z, target, config_.coord_soft_sigma), rows.weights), denom,
               config_.coord_soft_ce_weight);
  if (config_.coord_w1_weight > 0)
    losses.add("coord_w1", weighted_mean(coord_wasserstein1(z, target), rows.weights), denom,
               config_.coord_w1_weight);
  if (config_.coord_gate_weight > 0)
    losses.add("coord_gate", weighted_mean(coord_gate(c.lm_logits(rows.hidden), vocab_), rows.weights), denom,
               config_.coord_gate_weight);
}

// The token CE and (with coord_ce) the coordinate CE, through the head together (head_cross_entropy). The
// head's argmax at the token CE's rows is kept when the semantic matching cost reads the model's own
// descriptions.
void SetCriterion::add_head_terms(Context& c, LossTerms& losses) const {
  torch::Tensor text_rows;
  std::vector<HeadCEGroup> groups{text_ce_rows(c, text_rows)};
  const bool distribution =
      config_.coord_soft_ce_weight > 0 || config_.coord_gate_weight > 0 || config_.coord_w1_weight > 0;
  if (config_.coord_ce || distribution) {
    HeadCEGroup coord = coord_ce_rows(c);
    if (distribution) add_distribution_terms(c, coord, losses);
    if (config_.coord_ce) groups.push_back(std::move(coord));
  }
  const bool greedy = config_.matching == MatchingMode::kHungarian && config_.match_sem_weight > 0;
  const HeadCrossEntropy ce = head_cross_entropy(groups, c.batch.lm_head, greedy);
  if (greedy) {
    c.greedy_of_row =
        torch::full({c.B * c.T}, -1, torch::TensorOptions().dtype(torch::kLong).device(c.device()));
    c.greedy_of_row.index_put_({text_rows}, ce.argmax.narrow(0, 0, text_rows.size(0)));
  }
  losses.add("text_ce", ce.losses[0], groups[0].weights.sum().item<double>(), 1.0);
  if (config_.coord_ce)
    losses.add("coord_ce", ce.losses[1], groups[1].weights.sum().item<double>(), config_.coord_ce_weight);
}

// The CoordExp boxes [N, 4], made legal; detached when no geometric loss trains them (they still serve the
// matching and the unlikelihood term), zeros when nothing reads them.
torch::Tensor SetCriterion::predicted_boxes(const Context& c) const {
  const bool geometry = config_.coord_weight > 0;
  if (!geometry && config_.matching != MatchingMode::kHungarian &&
      config_.unmatched == UnmatchedPolicy::kIgnore)
    return torch::zeros({c.N, 4}, c.fopts);
  const int64_t K = vocab_.num_bins();
  auto coord_w = c.batch.lm_head.rows(vocab_.first_id(), K);  // [K, D]: never a slice of a [V, D] gradient
  auto coord_b = c.batch.lm_head.bias_rows(vocab_.first_id(), K);  // when the added rows are held apart
  torch::Tensor expected =
      geometry ? coord_expectation(c.h_coord, coord_w, coord_b, config_.tau)
               : coord_expectation(c.h_coord.detach(), coord_w.detach(),
                                   coord_b.defined() ? coord_b.detach() : coord_b, config_.tau);
  return legalize_boxes(expected.view({c.N, 4}));
}

// Each sample's pairs: fixed ones (rollouts), else the matcher's on the detached boxes. The semantic cost
// reads the sequence's description tokens (rollouts) or, in teacher forcing, the model's argmax there.
std::vector<MatchResult> SetCriterion::match(const Context& c, const torch::Tensor& pred_boxes,
                                             const TextEmbedder* embedder) const {
  PhaseTimer timer("matching");
  torch::NoGradGuard no_grad;
  const auto& batch = c.batch;
  std::vector<MatchResult> out(c.B);
  const MatcherConfig matcher = config_.matcher();
  const bool semantic = matcher.matching == MatchingMode::kHungarian && matcher.sem_weight > 0;
  std::vector<MatchInputs> inputs;
  std::vector<int64_t> matched;  // the sample of each input
  for (int64_t b = 0; b < c.B; ++b) {
    const auto& s = batch.samples[b];
    if (s.fixed_match) {
      out[b] = *s.fixed_match;
      continue;
    }
    const int64_t n = static_cast<int64_t>(s.objects.size());
    if (n == 0 || s.ground_truth.empty()) continue;
    auto pred = pred_boxes.narrow(0, c.first_object[b], n).to(torch::kDouble).cpu();  // [N, 4]
    std::vector<std::vector<TokenId>> pred_desc(n);
    std::vector<int64_t> source(n);
    for (int64_t i = 0; i < n; ++i) {
      source[i] = s.objects[i].source_index;
      const auto& pos = s.objects[i].desc_pos;
      if (!semantic || pos.empty()) continue;
      if (s.desc_from_sequence) {
        for (int64_t p : pos) pred_desc[i].push_back(batch.tokens[b][p].item<int64_t>());
      } else {
        auto rows = (torch::tensor(pos, torch::kLong) - 1).to(batch.hidden.device());
        auto ids = c.greedy_of_row.defined() ? c.greedy_of_row.index_select(0, rows + b * c.T).cpu()
                                             : torch::Tensor();
        if (!ids.defined() || (ids < 0).any().item<bool>())  // rows the text CE did not read
          ids = c.lm_logits(batch.hidden[b].index_select(0, rows)).argmax(1).cpu();  // [L]
        pred_desc[i].assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
      }
    }
    inputs.push_back({pred, std::move(pred_desc), std::move(source), &s.ground_truth});
    matched.push_back(b);
  }
  // The assignments of the whole batch solved together (on more threads only when the matrices are large
  // enough to repay them; LibTorch's threads are idle meanwhile).
  std::vector<MatchResult> results = match_objects_batch(inputs, matcher, embedder, 0);
  for (size_t k = 0; k < matched.size(); ++k) out[matched[k]] = std::move(results[k]);
  return out;
}

// The matched pairs and the unmatched predictions of the batch, in (sample, pair) order, with the counts.
SetCriterion::Pairs SetCriterion::collect_pairs(const Context& c, CriterionOutput& out) const {
  Pairs p;
  for (int64_t b = 0; b < c.B; ++b) {
    const auto& s = c.batch.samples[b];
    const auto& m = out.matches[b];
    std::vector<char> used(s.objects.size(), 0);
    for (size_t k = 0; k < m.pred_idx.size(); ++k) {
      used[m.pred_idx[k]] = 1;
      p.pred_rows.push_back(c.first_object[b] + m.pred_idx[k]);
      const BoxXYXY& g = s.ground_truth[m.gt_idx[k]].box;
      p.gt_values.insert(p.gt_values.end(), {g.x1, g.y1, g.x2, g.y2});
      p.pair_weights.push_back(s.weight);
    }
    out.num_matched += static_cast<int64_t>(m.pred_idx.size());
    out.num_unmatched_gt += static_cast<int64_t>(s.ground_truth.size() - m.gt_idx.size());
    for (size_t i = 0; i < s.objects.size(); ++i) {
      if (used[i]) continue;
      ++out.num_unmatched_pred;
      const int64_t open = s.objects[i].open_pos;
      COORDEXP_CHECK_ARG(open >= 1 && open < c.T, "object open position",
                         "in [1, " + std::to_string(c.T) + ")", std::to_string(open));
      p.unmatched_rows.push_back(b * c.T + open - 1);
      p.unmatched_weights.push_back(s.weight);
    }
  }
  return p;
}

// L1 and GIoU between matched CoordExp boxes and their ground truth, averaged over matched pairs (DETR).
void SetCriterion::add_box_terms(const Context& c, const torch::Tensor& pred_boxes, const Pairs& p,
                                 LossTerms& losses) const {
  auto pw = torch::tensor(p.pair_weights, c.fopts);
  auto pred = pred_boxes.index_select(0, as_long(p.pred_rows, c.device()));  // [P, 4]
  auto gt =
      torch::tensor(p.gt_values, torch::kDouble).to(c.fopts.dtype()).to(c.device()).view({-1, 4});  // [P, 4]
  const double pairs = sum(p.pair_weights);
  losses.add("l1", weighted_mean(box_l1_loss(pred, gt), pw), pairs, config_.coord_weight * config_.l1_weight);
  losses.add("giou", weighted_mean(box_giou_loss(pred, gt), pw), pairs,
             config_.coord_weight * config_.giou_weight);
}

// -log(1 - p(<obj_start>)) at the position that opened each unmatched prediction, normalised by the number of
// predicted objects, so the term is a rate, not a count.
void SetCriterion::add_unmatched(const Context& c, const Pairs& p, LossTerms& losses) const {
  std::vector<double> all_w;
  for (const auto& s : c.batch.samples) all_w.insert(all_w.end(), s.objects.size(), s.weight);
  auto h = c.hidden_flat.index_select(0, as_long(p.unmatched_rows, c.device()));
  auto starts = torch::full({static_cast<int64_t>(p.unmatched_rows.size())}, structure_.obj_start,
                            torch::TensorOptions().dtype(torch::kLong).device(c.device()));
  auto ul = token_unlikelihood(c.lm_logits(h), starts);
  const double denom = std::max(1e-12, sum(all_w));
  losses.add("unmatched", (ul * torch::tensor(p.unmatched_weights, c.fopts)).sum() / denom, denom,
             config_.unmatched_weight);
}

CriterionOutput SetCriterion::operator()(const CriterionBatch& batch, const TextEmbedder* embedder) const {
  Context c(batch);
  CriterionOutput out;
  c.h_coord = c.hidden_flat.index_select(0, as_long(c.coord_rows, c.device()));  // [4N, D]
  add_head_terms(c, out.losses);
  const torch::Tensor pred_boxes = predicted_boxes(c);  // [N, 4]
  out.pred_boxes = pred_boxes.detach();
  out.matches = match(c, out.pred_boxes, embedder);
  const Pairs pairs = collect_pairs(c, out);
  if (config_.coord_weight > 0) add_box_terms(c, pred_boxes, pairs, out.losses);
  if (config_.unmatched == UnmatchedPolicy::kUnlikelihood) add_unmatched(c, pairs, out.losses);
  return out;
}

}  // namespace coordexp
