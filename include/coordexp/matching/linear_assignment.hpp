// Exact minimum-cost one-to-one assignment (the rectangular linear sum assignment problem), the Hungarian
// step of set matching. Pure C++, no gradients. Same optimum as scipy.optimize.linear_sum_assignment:
// min(N, M) pairs, every row (if N <= M) or every column (if N > M) assigned, returned sorted by row.
// Contract: NaN and -inf entries are rejected with an InputError naming cost[i][j]; +inf marks a forbidden
// pair; a matrix with no finite full assignment is rejected as infeasible. O(min(N,M)^2 * max(N,M)) time.
// The batched form solves many matrices (one image each, DETR-style) on a thread pool; each result is
// identical to solving that matrix alone.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace coordexp {

struct Assignment {
  std::vector<int64_t> rows;  // [min(N,M)] ascending row indices
  std::vector<int64_t> cols;  // [min(N,M)] the column assigned to rows[i]
  double total_cost = 0;      // sum of cost(rows[i], cols[i])
};

// A row-major [num_rows x num_cols] cost matrix owned by the caller.
struct CostMatrixView {
  std::span<const double> cost;  // num_rows * num_cols entries
  int64_t num_rows = 0;
  int64_t num_cols = 0;
};

// cost is row-major [num_rows x num_cols]. maximize flips the objective.
Assignment linear_sum_assignment(std::span<const double> cost, int64_t num_rows, int64_t num_cols,
                                 bool maximize = false);

// One Assignment per matrix, in order, computed on the calling thread and pooled workers (kept between
// calls), up to `threads` in all (<= 0: one per hardware core) and fewer for small batches (each extra thread
// needs about 32k cost entries to repay waking it). A bad matrix throws the error its single call would,
// prefixed with "matrices[k]: " (the lowest such k).
std::vector<Assignment> linear_sum_assignment_batch(std::span<const CostMatrixView> matrices, int threads = 0,
                                                    bool maximize = false);

}  // namespace coordexp
