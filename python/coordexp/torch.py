"""CoordExp and the box losses as PyTorch operations (coordexp's C++ kernels, autograd included).

    import coordexp.torch as cxt
    c_hat = cxt.coord_expectation(hidden, lm_head.weight[coord_first:coord_first + K], tau=1.0)  # [P] in [0, 1]
    c_hat = cxt.coord_expectation_from_logits(coord_logits, tau=1.0)                               # [P, K] -> [P]
    l1 = cxt.box_l1_loss(pred_xyxy, target_xyxy); giou = cxt.box_giou_loss(pred_xyxy, target_xyxy)  # [N]
    criterion = cxt.SetCriterion(num_bins=1000, coord_token_first=151_665)    # the method's coordinate terms
    out = criterion(coord_hidden, lm_head.weight, gt_boxes, objects_per_sample, coord_targets)
    loss = text_ce + out["loss"]                                              # out["l1"], out["giou"], ...
    pairs = cxt.match_objects(pred_boxes, gt_boxes)                           # [(pred_idx, gt_idx)] per sample

coord_expectation multiplies only the K coordinate rows of the LM head: gradients reach the hidden states and
those rows, and no [P, V] logits buffer is ever made. Tensors must be float32 or float64 on the CPU (this
build has no CUDA); a NaN or infinite logit raises ValueError naming the position.
"""
import torch

from . import _coordexp_torch as _ops

__all__ = ["coord_expectation", "coord_expectation_from_logits", "box_l1_loss", "box_giou_loss",
           "box_pair_cost", "SetCriterion", "match_objects"]


def _check(t, name, dims, last=None):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(f"{name}: a tensor on {t.device}; coordexp's PyTorch operations run on the CPU")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected float32 or float64, got {t.dtype}")
    if t.dim() != dims:
        raise ValueError(f"{name}: expected {dims} dimension(s), got shape {tuple(t.shape)}")
    if last is not None and t.shape[-1] != last:
        raise ValueError(f"{name}: expected the last dimension to be {last}, got shape {tuple(t.shape)}")


def _check_tau(tau):
    if not isinstance(tau, (int, float)) or not tau > 0 or tau == float("inf"):
        raise ValueError(f"tau: expected a finite number > 0, got {tau!r}")


def coord_expectation(hidden, coord_weight, coord_bias=None, tau=1.0):
    """c_hat[p] = sum_k phi(k) softmax((hidden[p] @ coord_weight.T + coord_bias) / tau)[k], phi(k) = k/(K-1).

    hidden [P, D], coord_weight [K, D] (a slice of the LM head works), coord_bias [K] or None -> [P]."""
    _check(hidden, "hidden", 2)
    _check(coord_weight, "coord_weight", 2, hidden.shape[1])
    if coord_weight.shape[0] < 2:
        raise ValueError(f"coord_weight: expected at least 2 coordinate rows, got shape {tuple(coord_weight.shape)}")
    if coord_bias is not None:
        _check(coord_bias, "coord_bias", 1, coord_weight.shape[0])
    if coord_weight.dtype != hidden.dtype or (coord_bias is not None and coord_bias.dtype != hidden.dtype):
        raise TypeError("hidden, coord_weight and coord_bias: expected one dtype")
    _check_tau(tau)
    return _ops.coord_expectation(hidden, coord_weight, coord_bias, float(tau))


def coord_expectation_from_logits(coord_logits, tau=1.0):
    """The expectation from given coordinate logits [P, K] -> [P]."""
    _check(coord_logits, "coord_logits", 2)
    if coord_logits.shape[1] < 2:
        raise ValueError(f"coord_logits: expected at least 2 bins, got shape {tuple(coord_logits.shape)}")
    _check_tau(tau)
    return _ops.coord_expectation_from_logits(coord_logits, float(tau))


def _pairs(pred, target, name_pred="pred", name_target="target"):
    _check(pred, name_pred, 2, 4)
    _check(target, name_target, 2, 4)
    if pred.dtype != target.dtype:
        raise TypeError(f"{name_pred} and {name_target}: expected one dtype, got {pred.dtype} and {target.dtype}")


def box_l1_loss(pred, target):
    """Per-pair L1 distance of xyxy boxes: pred [N, 4], target [N, 4] -> [N]."""
    _pairs(pred, target)
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"pred and target: expected as many boxes, got {pred.shape[0]} and {target.shape[0]}")
    return _ops.box_l1_loss(pred, target)


def box_giou_loss(pred, target):
    """Per-pair 1 - GIoU of xyxy boxes: pred [N, 4], target [N, 4] -> [N]."""
    _pairs(pred, target)
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"pred and target: expected as many boxes, got {pred.shape[0]} and {target.shape[0]}")
    return _ops.box_giou_loss(pred, target)


def box_pair_cost(pred, target, l1_weight=5.0, giou_weight=2.0):
    """The matching cost l1_weight * L1 + giou_weight * (1 - GIoU) of every pair: [N, 4], [M, 4] -> [N, M]."""
    _pairs(pred, target)
    return _ops.box_pair_cost(pred, target, float(l1_weight), float(giou_weight))


def _box_list(boxes, name):
    if not isinstance(boxes, (list, tuple)):
        raise TypeError(f"{name}: expected a list of [M, 4] tensors, one per sample, got {type(boxes).__name__}")
    for b, t in enumerate(boxes):
        _check(t, f"{name}[{b}]", 2, 4)
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}[{b}]: expected finite box coordinates")
    return [t.detach() for t in boxes]


def _args(num_bins, coord_token_first, l1_weight, giou_weight, coord_weight, coord_ce_weight, coord_ce_target, tau,
          matching, min_iou, threads):
    if not isinstance(num_bins, int) or num_bins < 2:
        raise ValueError(f"num_bins: expected an integer >= 2, got {num_bins!r}")
    if not isinstance(coord_token_first, int) or coord_token_first < 0:
        raise ValueError(f"coord_token_first: expected an integer >= 0, got {coord_token_first!r}")
    for name, w in (("l1_weight", l1_weight), ("giou_weight", giou_weight), ("coord_weight", coord_weight),
                    ("coord_ce_weight", coord_ce_weight), ("min_iou", min_iou)):
        if not isinstance(w, (int, float)) or not 0 <= w < float("inf"):
            raise ValueError(f"{name}: expected a finite number >= 0, got {w!r}")
    if coord_ce_target not in ("hard", "two_bin"):
        raise ValueError(f"coord_ce_target: expected 'hard' or 'two_bin', got {coord_ce_target!r}")
    if matching not in ("hungarian", "index"):
        raise ValueError(f"matching: expected 'hungarian' or 'index', got {matching!r}")
    _check_tau(tau)
    a = _ops.CriterionArgs()
    a.num_bins, a.coord_token_first = num_bins, coord_token_first
    a.l1_weight, a.giou_weight, a.coord_weight = float(l1_weight), float(giou_weight), float(coord_weight)
    a.coord_ce_weight, a.coord_ce_target, a.tau = float(coord_ce_weight), coord_ce_target, float(tau)
    a.matching, a.min_iou, a.threads = matching, float(min_iou), int(threads)
    return a


def match_objects(pred_boxes, gt_boxes, l1_weight=5.0, giou_weight=2.0, matching="hungarian", min_iou=0.0,
                  threads=0):
    """The set matcher, batched: pred_boxes and gt_boxes are lists (one entry per sample) of [N_b, 4] and
    [M_b, 4] xyxy tensors. Returns, per sample, (pred_idx, gt_idx) int64 tensors: the minimum-cost one-to-one
    pairs under l1_weight * L1 + giou_weight * (1 - GIoU) (DETR's HungarianMatcher without the class term),
    or object i <-> ground truth i with matching="index"; pairs below min_iou IoU are dropped. The samples'
    assignments are solved together on `threads` threads (0: every core) without the GIL."""
    preds, gts = _box_list(pred_boxes, "pred_boxes"), _box_list(gt_boxes, "gt_boxes")
    if len(preds) != len(gts):
        raise ValueError(f"pred_boxes and gt_boxes: expected one entry per sample each, got {len(preds)} and "
                         f"{len(gts)}")
    a = _args(2, 0, l1_weight, giou_weight, 1.0, 0.0, "hard", 1.0, matching, min_iou, threads)
    return _ops.match_objects(preds, gts, a)


class SetCriterion(torch.nn.Module):
    """The method's coordinate terms for any training loop (DETR's SetCriterion for boxes written as tokens).

    Construct it with the coordinate vocabulary: `num_bins` K tokens with ids coord_token_first ..
    coord_token_first + K - 1 in the LM head. Call it with

    - coord_hidden [4N, D]: the final hidden states (after the final norm) that predict each object's four
      coordinate tokens x1 y1 x2 y2, objects in sequence order, samples one after another;
    - lm_head_weight [V, D] (and lm_head_bias [V] or None): the model's head; only rows of the coordinate
      tokens are multiplied for the expectation, the whole head for the auxiliary CE;
    - gt_boxes: a list of [M_b, 4] normalised xyxy ground-truth boxes, one entry per sample;
    - objects_per_sample: a list of N_b, summing to N;
    - coord_targets [N, 4] or None: the coordinates each object was encoded from (teacher forcing), the
      auxiliary CE's target (coord_ce_target "hard": the nearest bin; "two_bin": Distribution Focal Loss's
      two bins); None skips that term (for example on rollouts).

    Returns a dict: "loss" (the weighted sum: coord_ce_weight * coord_ce + coord_weight * (l1_weight * l1 +
    giou_weight * giou)), the unweighted terms "coord_ce", "l1", "giou" (scalars; L1 and GIoU averaged over
    matched pairs), "weights", "matches" (per sample (pred_idx, gt_idx)), "pred_boxes" [N, 4] (the legal
    CoordExp boxes, detached) and "num_matched". Add your text CE to "loss". Gradients reach coord_hidden
    and the head through the C++ kernels; no [4N, V] buffer is made unless the auxiliary CE is on.
    """

    def __init__(self, num_bins, coord_token_first=0, *, l1_weight=5.0, giou_weight=2.0, coord_weight=1.0,
                 coord_ce_weight=1.0, coord_ce_target="hard", tau=1.0, matching="hungarian", min_iou=0.0,
                 threads=0):
        super().__init__()
        self.args = _args(num_bins, coord_token_first, l1_weight, giou_weight, coord_weight, coord_ce_weight,
                          coord_ce_target, tau, matching, min_iou, threads)

    def forward(self, coord_hidden, lm_head_weight, gt_boxes, objects_per_sample, coord_targets=None,
                lm_head_bias=None):
        a = self.args
        _check(coord_hidden, "coord_hidden", 2)
        _check(lm_head_weight, "lm_head_weight", 2, coord_hidden.shape[1])
        if lm_head_weight.shape[0] < a.coord_token_first + a.num_bins:
            raise ValueError(f"lm_head_weight: {lm_head_weight.shape[0]} rows, but the coordinate tokens are rows "
                             f"{a.coord_token_first}..{a.coord_token_first + a.num_bins - 1}")
        if lm_head_bias is not None:
            _check(lm_head_bias, "lm_head_bias", 1, lm_head_weight.shape[0])
        if lm_head_weight.dtype != coord_hidden.dtype or (lm_head_bias is not None
                                                          and lm_head_bias.dtype != coord_hidden.dtype):
            raise TypeError("coord_hidden, lm_head_weight and lm_head_bias: expected one dtype")
        gts = _box_list(gt_boxes, "gt_boxes")
        counts = list(objects_per_sample)
        if len(counts) != len(gts) or any(not isinstance(n, int) or n < 0 for n in counts):
            raise ValueError(f"objects_per_sample: expected {len(gts)} counts >= 0 (one per entry of gt_boxes), "
                             f"got {counts!r}")
        n = sum(counts)
        if coord_hidden.shape[0] != 4 * n:
            raise ValueError(f"coord_hidden: expected 4 rows per object, 4 * {n} = {4 * n}, got shape "
                             f"{tuple(coord_hidden.shape)}")
        if coord_targets is not None:
            _check(coord_targets, "coord_targets", 2, 4)
            if coord_targets.shape[0] != n or not torch.isfinite(coord_targets).all():
                raise ValueError(f"coord_targets: expected [{n}, 4] finite coordinates, got shape "
                                 f"{tuple(coord_targets.shape)}")
            coord_targets = coord_targets.detach()
        return _ops.set_criterion(coord_hidden, lm_head_weight, lm_head_bias, gts, counts, coord_targets, a)
