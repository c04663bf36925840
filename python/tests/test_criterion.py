"""coordexp.torch.SetCriterion and match_objects: values and gradients against an independent plain-PyTorch +
scipy implementation of the method's terms, gradcheck in float64, the matcher against scipy's optimum, the
edge cases (no objects, no ground truth, index matching, IoU floor) and bad input."""
import os

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment as scipy_lsa

if os.environ.get("COORDEXP_TORCH_OPTIONAL") == "1":
    cxt = pytest.importorskip("coordexp.torch")
else:
    import coordexp.torch as cxt


def random_boxes(n, generator=None):
    xy = torch.rand(n, 2, 2, dtype=torch.float64, generator=generator).sort(dim=1).values  # [n, (lo, hi), (x, y)]
    return torch.cat([xy[:, 0], xy[:, 1]], dim=1)  # x1 y1 x2 y2


def giou_matrix(a, b):
    """GIoU of every pair, written from the definition."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt, rb = torch.max(a[:, None, :2], b[None, :, :2]), torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    hull = (torch.max(a[:, None, 2:], b[None, :, 2:]) - torch.min(a[:, None, :2], b[None, :, :2])).prod(-1)
    iou = inter / union
    return iou - (hull - union) / hull, iou


def reference(hidden, head, gts, counts, targets, K, first, l1w=5.0, giouw=2.0, tau=1.0):
    """The terms as a PyTorch user would write them: full logits, softmax over the K coordinate columns,
    min/max legal boxes, scipy's Hungarian on the pair cost, hard-target CE over the whole vocabulary."""
    logits = hidden @ head.T
    p = torch.softmax(logits[:, first:first + K] / tau, dim=1)
    c = (p @ torch.linspace(0, 1, K, dtype=hidden.dtype)).view(-1, 4)
    boxes = torch.stack([torch.min(c[:, 0], c[:, 2]), torch.min(c[:, 1], c[:, 3]),
                         torch.max(c[:, 0], c[:, 2]), torch.max(c[:, 1], c[:, 3])], dim=1)
    preds, gt_rows, start = [], [], 0
    for b, n in enumerate(counts):
        pb = boxes[start:start + n]
        if n and len(gts[b]):
            cost = l1w * torch.cdist(pb.detach(), gts[b], p=1) + giouw * (1 - giou_matrix(pb.detach(), gts[b])[0])
            r, col = scipy_lsa(cost.numpy())
            preds.append(pb[r])
            gt_rows.append(gts[b][col])
        start += n
    pred, gt = torch.cat(preds), torch.cat(gt_rows)
    l1 = (pred - gt).abs().sum(1).mean()
    giou = (1 - torch.diagonal(giou_matrix(pred, gt)[0])).mean()
    bins = torch.floor(targets.reshape(-1) * (K - 1) + 0.5).long() + first
    ce = -torch.log_softmax(logits, dim=1).gather(1, bins[:, None]).mean()
    return {"coord_ce": ce, "l1": l1, "giou": giou, "loss": ce + l1w * l1 + giouw * giou}


def make_case(seed, counts=(3, 4, 2), gt_counts=(3, 2, 4), V=90, D=12):
    g = torch.Generator().manual_seed(seed)
    n = sum(counts)
    hidden = torch.randn(4 * n, D, dtype=torch.float64, generator=g, requires_grad=True)
    head = torch.randn(V, D, dtype=torch.float64, generator=g, requires_grad=True)
    gts = [random_boxes(m, g) for m in gt_counts]
    targets = torch.rand(n, 4, dtype=torch.float64, generator=g)
    return hidden, head, gts, list(counts), targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_terms_and_gradients_equal_plain_pytorch_with_scipy_matching(seed):
    hidden, head, gts, counts, targets = make_case(seed)
    K, first = 64, 20
    ours = cxt.SetCriterion(num_bins=K, coord_token_first=first)(hidden, head, gts, counts, targets)
    ref = reference(hidden, head, gts, counts, targets, K, first)
    for name in ("coord_ce", "l1", "giou", "loss"):
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-10, atol=1e-12)
    assert ours["num_matched"] == sum(min(n, m) for n, m in zip(counts, map(len, gts)))
    g_ours = torch.autograd.grad(ours["loss"], (hidden, head))
    g_ref = torch.autograd.grad(ref["loss"], (hidden, head))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_gradcheck_float64():
    hidden, head, gts, counts, targets = make_case(3, counts=(2, 1), gt_counts=(2, 2), V=30, D=5)
    crit = cxt.SetCriterion(num_bins=16, coord_token_first=10, coord_ce_target="two_bin", tau=0.8)
    assert torch.autograd.gradcheck(lambda h, w: crit(h, w, gts, counts, targets)["loss"], (hidden, head),
                                    eps=1e-6, atol=1e-7)


def test_two_bin_target_by_hand():
    # One object, K = 5 bins at 0, .25, .5, .75, 1; target 0.6 splits 0.6 / 0.4 between bins 2 and 3.
    torch.manual_seed(4)
    hidden = torch.randn(4, 3, dtype=torch.float64)
    head = torch.randn(5, 3, dtype=torch.float64)
    targets = torch.tensor([[0.6, 0.0, 1.0, 0.25]], dtype=torch.float64)
    out = cxt.SetCriterion(num_bins=5, coord_ce_target="two_bin")(hidden, head, [random_boxes(1)], [1], targets)
    logp = torch.log_softmax(hidden @ head.T, dim=1)
    expected = -(0.6 * logp[0, 2] + 0.4 * logp[0, 3] + logp[1, 0] + logp[2, 4] + logp[3, 1]) / 4
    torch.testing.assert_close(out["coord_ce"], expected, rtol=1e-12, atol=1e-12)


def test_index_matching_min_iou_and_empty_samples():
    hidden, head, gts, _, targets = make_case(5, counts=(2, 0, 3), gt_counts=(3, 2, 0))
    counts = [2, 0, 3]
    out = cxt.SetCriterion(num_bins=32, matching="index")(hidden, head, gts, counts, targets)
    pairs = [(p.tolist(), g.tolist()) for p, g in out["matches"]]
    assert pairs == [([0, 1], [0, 1]), ([], []), ([], [])]
    assert out["num_matched"] == 2
    # An IoU floor above every pair's IoU leaves no pair: the box terms are zero and still differentiable.
    out = cxt.SetCriterion(num_bins=32, min_iou=1.0)(hidden, head, gts, counts, None)
    assert out["num_matched"] == 0 and "coord_ce" not in out
    assert out["l1"].item() == 0 and out["loss"].requires_grad


def test_no_objects_at_all():
    head = torch.randn(40, 8, dtype=torch.float64, requires_grad=True)
    hidden = torch.zeros(0, 8, dtype=torch.float64, requires_grad=True)
    out = cxt.SetCriterion(num_bins=32)(hidden, head, [random_boxes(2)], [0], torch.zeros(0, 4, dtype=torch.float64))
    assert out["loss"].item() == 0 and out["num_matched"] == 0
    out["loss"].backward()
    assert torch.count_nonzero(head.grad) == 0


def test_coord_weight_zero_detaches_the_boxes():
    hidden, head, gts, counts, targets = make_case(6)
    out = cxt.SetCriterion(num_bins=32, coord_weight=0.0)(hidden, head, gts, counts, targets)
    assert set(out["weights"]) == {"coord_ce"}
    assert len(out["matches"]) == 3 and out["num_matched"] > 0  # still matched, for logging


@pytest.mark.parametrize("seed", range(5))
def test_match_objects_reaches_scipys_optimum(seed):
    g = torch.Generator().manual_seed(seed)
    preds = [random_boxes(n, g) for n in (5, 9, 1, 0)]
    gts = [random_boxes(m, g) for m in (7, 3, 1, 4)]
    for (r, c), p, t in zip(cxt.match_objects(preds, gts), preds, gts):
        if len(p) == 0:
            assert len(r) == 0
            continue
        cost = (5 * torch.cdist(p, t, p=1) + 2 * (1 - giou_matrix(p, t)[0])).numpy()
        sr, sc = scipy_lsa(cost)
        assert cost[r.numpy(), c.numpy()].sum() == pytest.approx(cost[sr, sc].sum(), rel=1e-12)
        assert len(set(r.tolist())) == len(r) == min(cost.shape)


def test_bad_input_names_the_argument():
    hidden, head, gts, counts, targets = make_case(7)
    crit = cxt.SetCriterion(num_bins=32)
    with pytest.raises(ValueError, match="coord_hidden: expected 4 rows per object"):
        crit(hidden[:-1], head, gts, counts, targets)
    with pytest.raises(ValueError, match="objects_per_sample"):
        crit(hidden, head, gts, counts[:2], targets)
    with pytest.raises(TypeError, match="gt_boxes: expected a list"):
        crit(hidden, head, gts[0], counts, targets)
    bad = [t.clone() for t in gts]
    bad[1][0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"gt_boxes\[1\]: expected finite"):
        crit(hidden, head, bad, counts, targets)
    with pytest.raises(TypeError, match="one dtype"):
        crit(hidden, head.float(), gts, counts, targets)
    with pytest.raises(ValueError, match="lm_head_weight: 90 rows"):
        cxt.SetCriterion(num_bins=80, coord_token_first=20)(hidden, head, gts, counts, targets)
    with pytest.raises(TypeError, match="coord_hidden: a tensor on meta"):
        crit(torch.empty(4, 12, device="meta", dtype=torch.float64), head, gts, counts, targets)
    with pytest.raises(ValueError, match="matching"):
        cxt.SetCriterion(num_bins=32, matching="greedy")
    with pytest.raises(ValueError, match="num_bins"):
        cxt.SetCriterion(num_bins=1)
    nan_hidden = hidden.detach().clone()
    nan_hidden[3, 0] = float("nan")
    with pytest.raises(ValueError):
        crit(nan_hidden, head, gts, counts, None)
    with pytest.raises(ValueError, match="pred_boxes and gt_boxes"):
        cxt.match_objects([random_boxes(2)], gts)


def test_example_training_script_learns():
    """python/examples/train_detector.py: a plain torch.nn decoder trained with SetCriterion, 80 steps."""
    import importlib.util
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "train_detector.py")
    spec = importlib.util.spec_from_file_location("train_detector", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    first, last, ap, ap50 = example.main(["--steps", "80", "--val-images", "16", "--batch", "16"])
    assert last < 0.8 * first
    assert 0 <= ap <= ap50 <= 1
