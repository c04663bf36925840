"""CoordExp and the box losses as PyTorch operations (coordexp's C++ kernels, autograd included).

    import coordexp.torch as cxt
    c_hat = cxt.coord_expectation(hidden, lm_head.weight[coord_first:coord_first + K], tau=1.0)  # [P] in [0, 1]
    c_hat = cxt.coord_expectation_from_logits(coord_logits, tau=1.0)                               # [P, K] -> [P]
    l1 = cxt.box_l1_loss(pred_xyxy, target_xyxy); giou = cxt.box_giou_loss(pred_xyxy, target_xyxy)  # [N]

coord_expectation multiplies only the K coordinate rows of the LM head: gradients reach the hidden states and
those rows, and no [P, V] logits buffer is ever made. Tensors must be float32 or float64 on the CPU (this
build has no CUDA); a NaN or infinite logit raises ValueError naming the position.
"""
import torch

from . import _coordexp_torch as _ops

__all__ = ["coord_expectation", "coord_expectation_from_logits", "box_l1_loss", "box_giou_loss",
           "box_pair_cost"]


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
