"""coordexp.torch: gradients by torch.autograd.gradcheck in float64, the fused CoordExp equal to plain PyTorch
on full-vocabulary logits (values and gradients), box losses against hand-computed values, bad input."""
import os

import pytest
import torch

if os.environ.get("COORDEXP_TORCH_OPTIONAL") == "1":  # a build without LibTorch: skip instead of failing
    cxt = pytest.importorskip("coordexp.torch")
else:
    import coordexp.torch as cxt


def plain_expectation(hidden, head, first, K, tau):
    """What a PyTorch user writes without coordexp: full-V logits, slice, softmax, mean."""
    logits = hidden @ head.T
    p = torch.softmax(logits[:, first:first + K] / tau, dim=1)
    return p @ torch.linspace(0, 1, K, dtype=hidden.dtype)


def test_fused_equals_plain_pytorch_values_and_gradients():
    torch.manual_seed(0)
    P, D, V, first, K = 7, 16, 300, 200, 64
    hidden = torch.randn(P, D, dtype=torch.float64, requires_grad=True)
    head = torch.randn(V, D, dtype=torch.float64, requires_grad=True)
    ours = cxt.coord_expectation(hidden, head[first:first + K], tau=0.7)
    ref = plain_expectation(hidden, head, first, K, 0.7)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g = torch.randn(P, dtype=torch.float64)
    gh, gw = torch.autograd.grad(ours, (hidden, head), g)
    rh, rw = torch.autograd.grad(ref, (hidden, head), g)
    torch.testing.assert_close(gh, rh, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gw, rw, rtol=1e-10, atol=1e-12)  # zero outside the K coordinate rows
    assert gw[:first].abs().max() == 0 and gw[first + K:].abs().max() == 0


def test_gradcheck_in_float64():
    torch.manual_seed(1)
    hidden = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, w, b: cxt.coord_expectation(h, w, b, tau=0.5), (hidden, weight, bias))
    logits = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: cxt.coord_expectation_from_logits(z, tau=2.0), (logits,))
    pred = torch.tensor([[0.1, 0.2, 0.5, 0.6], [0.3, 0.3, 0.9, 0.8]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0.15, 0.1, 0.55, 0.7], [0.0, 0.4, 0.6, 0.9]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: cxt.box_l1_loss(p, target), (pred,))
    assert torch.autograd.gradcheck(lambda p: cxt.box_giou_loss(p, target), (pred,))


def test_box_losses_against_hand_computed_values():
    pred = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    target = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    assert cxt.box_l1_loss(pred, target).item() == pytest.approx(4.0)
    # intersection 1, union 7, enclosing box 9: GIoU = 1/7 - (9 - 7) / 9
    assert cxt.box_giou_loss(pred, target).item() == pytest.approx(1 - (1 / 7 - 2 / 9), rel=1e-6)
    cost = cxt.box_pair_cost(pred, torch.cat([target, pred]), l1_weight=5.0, giou_weight=2.0)
    assert cost.shape == (1, 2)
    assert cost[0, 1].item() == pytest.approx(0.0, abs=1e-6)


def test_bad_input_names_the_argument():
    h = torch.randn(2, 4)
    w = torch.randn(5, 4)
    with pytest.raises(TypeError, match="hidden"):
        cxt.coord_expectation(h.numpy(), w)
    with pytest.raises(TypeError, match="hidden"):
        cxt.coord_expectation(h.to(torch.int64), w)
    with pytest.raises(ValueError, match="coord_weight"):
        cxt.coord_expectation(h, torch.randn(5, 3))
    with pytest.raises(ValueError, match="tau"):
        cxt.coord_expectation(h, w, tau=0.0)
    with pytest.raises(ValueError, match="tau"):
        cxt.coord_expectation(h, w, tau=float("nan"))
    with pytest.raises(ValueError):  # a NaN logit: the library's error, not a silent NaN
        cxt.coord_expectation_from_logits(torch.tensor([[0.0, float("nan")]]), tau=1.0)
    with pytest.raises(ValueError, match="last dimension"):
        cxt.box_l1_loss(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="as many boxes"):
        cxt.box_giou_loss(torch.zeros(2, 4), torch.zeros(3, 4))
