"""scipy.optimize.linear_sum_assignment's interface on coordexp's solver (src/matching)."""
import numpy as np

from . import _coordexp


def _as_cost(cost, name):
    """`cost` as a C-contiguous float64 matrix: numpy arrays, CPU tensors and nested lists of numbers."""
    device = getattr(cost, "device", None)
    if device is not None and str(device) != "cpu":
        raise TypeError(f"{name}: a tensor on {device}; move it to the CPU first (cost.cpu())")
    if hasattr(cost, "detach"):  # a torch tensor: no autograd graph to carry
        cost = cost.detach()
    try:
        array = np.asarray(cost)
    except Exception as e:  # noqa: BLE001  (an object numpy cannot read)
        raise TypeError(f"{name}: expected a 2-D array of numbers, got {type(cost).__name__}") from e
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{name}: expected a 2-D array of numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name}: complex costs are not supported")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a matrix (2-D array), got {array.ndim} dimension(s) {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float64)


def linear_sum_assignment(cost_matrix, maximize=False):
    """Solve the linear sum assignment problem, as scipy.optimize.linear_sum_assignment.

    cost_matrix: a 2-D array (numpy, a CPU torch tensor or nested lists; any real dtype). Returns
    (row_ind, col_ind), int64 numpy arrays of min(N, M) entries sorted by row, so that
    cost_matrix[row_ind, col_ind].sum() is the minimum (maximum with maximize=True). +inf marks a forbidden
    pair; NaN or -inf entries, and matrices with no finite full assignment, raise ValueError.
    """
    return _coordexp.linear_sum_assignment(_as_cost(cost_matrix, "cost_matrix"), bool(maximize))


def linear_sum_assignment_batch(cost_matrices, maximize=False, threads=0):
    """linear_sum_assignment for every matrix of a list (one image each, DETR-style), solved together on
    up to `threads` threads (0: every core) with the GIL released. Returns a list of (row_ind, col_ind),
    each equal to solving that matrix alone. A bad matrix raises the error its single call would, prefixed
    with "matrices[k]: "."""
    costs = [_as_cost(c, f"cost_matrices[{k}]") for k, c in enumerate(cost_matrices)]
    return _coordexp.linear_sum_assignment_batch(costs, bool(maximize), int(threads))
