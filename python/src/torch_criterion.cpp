// coordexp.torch's SetCriterion and match_objects: the method's coordinate terms for a training loop that
// is not coordexp's (transformers, TRL, a plain torch.nn model). Given the final hidden states at the
// coordinate positions (four per object, x1 y1 x2 y2, objects in sequence order, samples one after
// another), the LM head and each sample's ground-truth boxes, it returns the named terms the C++ trainer
// uses: the auxiliary coordinate CE, and L1 + GIoU between the CoordExp boxes and the ground truth matched
// to them (Hungarian on alpha * L1 + beta * (1 - GIoU), or by index). The text CE stays with the caller,
// who already has it (labels=). The terms are the library's own functions (coord_expectation,
// coord_bin_targets with head_cross_entropy, match_objects_batch, box losses, LossTerms), composed as
// SetCriterion composes them; the Python module checks the arguments first.
#include <torch/extension.h>

#include <string>
#include <vector>

#include "coordexp/geometry/box_ops_torch.hpp"
#include "coordexp/loss/box_loss.hpp"
#include "coordexp/loss/coord_expectation.hpp"
#include "coordexp/loss/loss_terms.hpp"
#include "coordexp/loss/set_matcher.hpp"
#include "coordexp/loss/text_loss.hpp"
#include "coordexp/util/error.hpp"

namespace py = pybind11;

namespace coordexp::python {
namespace {

struct CriterionArgs {
  int64_t num_bins = 0, coord_token_first = 0;
  double l1_weight = 5, giou_weight = 2, coord_weight = 1, coord_ce_weight = 1, tau = 1, min_iou = 0;
  std::string coord_ce_target = "hard", matching = "hungarian";
  int threads = 0;
  MatcherConfig matcher() const {
    return MatcherConfig{parse_matching_mode(matching), l1_weight, giou_weight, 1.0, 0.0, min_iou};
  }
};

std::vector<DescribedBox> described(const torch::Tensor& boxes) {  // [M, 4] -> boxes without descriptions
  auto b = boxes.to(torch::kDouble).contiguous();
  const double* d = b.data_ptr<double>();
  std::vector<DescribedBox> out(b.size(0));
  for (size_t j = 0; j < out.size(); ++j, d += 4) out[j].box = {d[0], d[1], d[2], d[3]};
  return out;
}

// Each sample's pairs between `pred` [N, 4] (rows of sample b start at first[b]) and gt_boxes[b].
std::vector<MatchResult> match_all(const torch::Tensor& pred, const std::vector<int64_t>& first,
                                   const std::vector<torch::Tensor>& gt_boxes, const CriterionArgs& a) {
  std::vector<std::vector<DescribedBox>> gts(gt_boxes.size());
  std::vector<MatchInputs> inputs(gt_boxes.size());
  auto pred_d = pred.detach().to(torch::kDouble).cpu();
  for (size_t b = 0; b < gt_boxes.size(); ++b) {
    gts[b] = described(gt_boxes[b]);
    const int64_t n = first[b + 1] - first[b];
    std::vector<int64_t> source(n);
    for (int64_t i = 0; i < n; ++i) source[i] = i;  // index matching: object i <-> ground truth i
    inputs[b] = {pred_d.narrow(0, first[b], n), std::vector<std::vector<TokenId>>(n), std::move(source),
                 &gts[b]};
  }
  return match_objects_batch(inputs, a.matcher(), nullptr, a.threads);
}

torch::Tensor to_long(const std::vector<int64_t>& v) {
  return torch::tensor(v, torch::kLong);
}

struct Output {
  LossTerms terms;
  std::vector<MatchResult> matches;
  torch::Tensor pred_boxes;
  int64_t num_matched = 0;
};

Output criterion(const torch::Tensor& hidden, const torch::Tensor& head_weight,
                 const torch::Tensor& head_bias, const std::vector<torch::Tensor>& gt_boxes,
                 const std::vector<int64_t>& objects_per_sample, const torch::Tensor& coord_targets,
                 const CriterionArgs& a) {
  const CoordVocab vocab(static_cast<int>(a.num_bins), a.coord_token_first);
  std::vector<int64_t> first{0};
  for (int64_t n : objects_per_sample) first.push_back(first.back() + n);
  const int64_t N = first.back();
  Output out;
  if (coord_targets.defined() && a.coord_ce_weight > 0) {  // the auxiliary CE over the whole head, fused
    const TwoIdTargets t =
        coord_bin_targets(coord_targets.reshape({-1}), vocab, parse_coord_target(a.coord_ce_target));
    const HeadCEGroup rows{hidden, t.ids.to(hidden.device()), t.weights.to(hidden.device()),
                           torch::ones({hidden.size(0)}, hidden.options())};
    const HeadCrossEntropy ce = head_cross_entropy({rows}, TokenTable{head_weight, {}, head_bias});
    out.terms.add("coord_ce", ce.losses[0], static_cast<double>(4 * N), a.coord_ce_weight);
  }
  auto rows_w = head_weight.narrow(0, a.coord_token_first, a.num_bins);
  auto rows_b = head_bias.defined() ? head_bias.narrow(0, a.coord_token_first, a.num_bins) : head_bias;
  auto expected = a.coord_weight > 0 ? coord_expectation(hidden, rows_w, rows_b, a.tau)
                                     : coord_expectation(hidden.detach(), rows_w.detach(),
                                                         rows_b.defined() ? rows_b.detach() : rows_b, a.tau);
  auto boxes = legalize_boxes(expected.view({N, 4}));  // [N, 4]
  out.pred_boxes = boxes.detach();
  out.matches = match_all(boxes, first, gt_boxes, a);
  std::vector<int64_t> rows;
  std::vector<torch::Tensor> targets;
  for (size_t b = 0; b < gt_boxes.size(); ++b) {
    const MatchResult& m = out.matches[b];
    for (int64_t i : m.pred_idx) rows.push_back(first[b] + i);
    targets.push_back(gt_boxes[b].to(boxes.scalar_type()).index_select(0, to_long(m.gt_idx)));
  }
  out.num_matched = static_cast<int64_t>(rows.size());
  if (a.coord_weight > 0) {
    auto pred = boxes.index_select(0, to_long(rows).to(boxes.device()));
    auto gt =
        (targets.empty() ? torch::zeros({0, 4}, boxes.options()) : torch::cat(targets)).to(boxes.device());
    const bool any = !rows.empty();
    auto l1 = box_l1_loss(pred, gt), giou = box_giou_loss(pred, gt);
    const double pairs = static_cast<double>(rows.size());
    out.terms.add("l1", any ? l1.mean() : l1.sum(), pairs, a.coord_weight * a.l1_weight);
    out.terms.add("giou", any ? giou.mean() : giou.sum(), pairs, a.coord_weight * a.giou_weight);
  }
  return out;
}

py::list matches_to_python(const std::vector<MatchResult>& matches) {
  py::list out;
  for (const auto& m : matches) out.append(py::make_tuple(to_long(m.pred_idx), to_long(m.gt_idx)));
  return out;
}

py::dict run_criterion(const torch::Tensor& hidden, const torch::Tensor& head_weight,
                       const c10::optional<torch::Tensor>& head_bias,
                       const std::vector<torch::Tensor>& gt_boxes,
                       const std::vector<int64_t>& objects_per_sample,
                       const c10::optional<torch::Tensor>& coord_targets, const CriterionArgs& args) {
  Output out;
  {
    py::gil_scoped_release unlocked;
    out = criterion(hidden, head_weight, head_bias ? *head_bias : torch::Tensor(), gt_boxes,
                    objects_per_sample, coord_targets ? *coord_targets : torch::Tensor(), args);
  }
  py::dict d, weights;
  torch::Tensor total;  // every term, empty ones included (a zero still connected to the graph)
  for (const auto& [name, term] : out.terms.terms()) {
    d[py::str(name)] = term.value;
    weights[py::str(name)] = term.weight;
    total = total.defined() ? total + term.weight * term.value : term.weight * term.value;
  }
  d["loss"] = total.defined() ? total : hidden.sum() * 0;
  d["weights"] = weights;
  d["matches"] = matches_to_python(out.matches);
  d["pred_boxes"] = out.pred_boxes;
  d["num_matched"] = out.num_matched;
  return d;
}

py::list run_matching(const std::vector<torch::Tensor>& pred_boxes,
                      const std::vector<torch::Tensor>& gt_boxes, const CriterionArgs& args) {
  std::vector<MatchResult> matches;
  {
    py::gil_scoped_release unlocked;
    std::vector<int64_t> first{0};
    for (const auto& p : pred_boxes) first.push_back(first.back() + p.size(0));
    auto all =
        pred_boxes.empty() ? torch::zeros({0, 4}, torch::kDouble) : torch::cat(pred_boxes).to(torch::kDouble);
    matches = match_all(all, first, gt_boxes, args);
  }
  return matches_to_python(matches);
}

}  // namespace

void bind_criterion(py::module_& m) {
  py::class_<CriterionArgs>(m, "CriterionArgs")
      .def(py::init<>())
      .def_readwrite("num_bins", &CriterionArgs::num_bins)
      .def_readwrite("coord_token_first", &CriterionArgs::coord_token_first)
      .def_readwrite("l1_weight", &CriterionArgs::l1_weight)
      .def_readwrite("giou_weight", &CriterionArgs::giou_weight)
      .def_readwrite("coord_weight", &CriterionArgs::coord_weight)
      .def_readwrite("coord_ce_weight", &CriterionArgs::coord_ce_weight)
      .def_readwrite("coord_ce_target", &CriterionArgs::coord_ce_target)
      .def_readwrite("tau", &CriterionArgs::tau)
      .def_readwrite("matching", &CriterionArgs::matching)
      .def_readwrite("min_iou", &CriterionArgs::min_iou)
      .def_readwrite("threads", &CriterionArgs::threads);
  m.def("set_criterion", &run_criterion, py::arg("hidden"), py::arg("head_weight"), py::arg("head_bias"),
        py::arg("gt_boxes"), py::arg("objects_per_sample"), py::arg("coord_targets"), py::arg("args"));
  m.def("match_objects", &run_matching, py::arg("pred_boxes"), py::arg("gt_boxes"), py::arg("args"));
}

}  // namespace coordexp::python
