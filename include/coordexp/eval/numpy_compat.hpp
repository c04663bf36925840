// The few numpy routines whose floating-point results pycocotools' numbers depend on, replicated
// bit for bit: np.linspace (threshold grids) and np.add.reduce / np.mean over float64 (summary means).
#pragma once

#include <span>
#include <vector>

namespace coordexp {

// np.linspace(start, stop, num, endpoint=True): step = (stop - start) / (num - 1), value i = i * step +
// start, and the last value is exactly `stop` (numpy >= 1.16 arithmetic).
std::vector<double> numpy_linspace(double start, double stop, int num);

// np.add.reduce over a contiguous float64 array: pairwise summation (8-way unrolled, blocks of 128) inside
// chunks of 8192 elements (numpy's buffer size), chunk sums added in order.
double numpy_sum(std::span<const double> values);

// np.mean: numpy_sum(values) / n. Undefined (NaN) for an empty span.
double numpy_mean(std::span<const double> values);

}  // namespace coordexp
