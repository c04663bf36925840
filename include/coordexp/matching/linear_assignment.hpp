// Exact minimum-cost one-to-one assignment (the rectangular linear sum assignment problem), the Hungarian
// step of set matching. Pure C++, no gradients. Same optimum as scipy.optimize.linear_sum_assignment:
// min(N, M) pairs, every row (if N <= M) or every column (if N > M) assigned, returned sorted by row.
// Contract: NaN and -inf entries are rejected with an InputError; +inf marks a forbidden pair; a matrix
// with no finite full assignment is rejected as infeasible. O(min(N,M)^2 * max(N,M)) time.
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

// cost is row-major [num_rows x num_cols]. maximize flips the objective.
Assignment linear_sum_assignment(std::span<const double> cost, int64_t num_rows, int64_t num_cols,
                                 bool maximize = false);

}  // namespace coordexp
