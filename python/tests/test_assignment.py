"""coordexp.linear_sum_assignment against scipy.optimize.linear_sum_assignment: the same optimal cost on
random, rectangular, tied and forbidden-pair matrices, scipy's return types, and clear errors for bad input."""
import numpy as np
import pytest
import scipy.optimize
import torch

import coordexp


def check_same_optimum(cost, maximize=False):
    rows, cols = coordexp.linear_sum_assignment(cost, maximize=maximize)
    ref_rows, ref_cols = scipy.optimize.linear_sum_assignment(cost, maximize=maximize)
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert len(rows) == len(ref_rows) == min(cost.shape)
    assert np.all(np.diff(rows) > 0)  # sorted by row, each once
    assert len(set(cols.tolist())) == len(cols)
    assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum(), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (10, 30), (30, 10), (100, 100), (64, 300)])
def test_random_matrices_match_scipy(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        check_same_optimum(rng.random(shape))
        check_same_optimum(rng.random(shape), maximize=True)


def test_tied_integer_matrices_match_scipy():
    rng = np.random.default_rng(1)
    for n, m in [(20, 20), (50, 40), (40, 50)]:
        for _ in range(10):
            check_same_optimum(rng.integers(0, 4, size=(n, m)).astype(np.float64))


def test_forbidden_pairs_and_other_inputs():
    cost = np.array([[np.inf, 1.0], [2.0, np.inf], [3.0, 4.0]])
    rows, cols = coordexp.linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == 3.0
    # lists, integer and float32 arrays, CPU tensors (with grad), Fortran order
    for c in ([[4, 1], [2, 3]], np.array([[4, 1], [2, 3]], dtype=np.int32), np.float32([[4, 1], [2, 3]]),
              torch.tensor([[4.0, 1.0], [2.0, 3.0]], requires_grad=True), np.asfortranarray([[4.0, 1.0], [2.0, 3.0]])):
        rows, cols = coordexp.linear_sum_assignment(c)
        assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    rows, cols = coordexp.linear_sum_assignment(np.zeros((0, 3)))
    assert rows.shape == (0,) and cols.shape == (0,)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="2-D"):
        coordexp.linear_sum_assignment(np.zeros(3))
    with pytest.raises(ValueError, match="NaN|nan"):
        coordexp.linear_sum_assignment(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="infeasible"):
        coordexp.linear_sum_assignment(np.array([[np.inf, np.inf], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="cost_matrix"):
        coordexp.linear_sum_assignment(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="complex"):
        coordexp.linear_sum_assignment(np.ones((2, 2), dtype=complex))
    with pytest.raises(TypeError, match="cost_matrix"):
        coordexp.linear_sum_assignment(object())


def test_batch_equals_one_call_each_and_names_the_bad_matrix():
    rng = np.random.default_rng(3)
    costs = [rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) for _ in range(64)]
    batch = coordexp.linear_sum_assignment_batch(costs, threads=2)
    assert len(batch) == len(costs)
    for c, (rows, cols) in zip(costs, batch):
        one_rows, one_cols = coordexp.linear_sum_assignment(c)
        assert np.array_equal(rows, one_rows) and np.array_equal(cols, one_cols)
    costs[7] = np.array([[np.nan]])
    with pytest.raises(ValueError, match=r"matrices\[7\]"):
        coordexp.linear_sum_assignment_batch(costs)
    with pytest.raises(ValueError, match=r"cost_matrices\[1\]"):
        coordexp.linear_sum_assignment_batch([np.zeros((2, 2)), np.zeros(2)])
