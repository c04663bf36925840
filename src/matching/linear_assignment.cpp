// Shortest augmenting path solver for rectangular assignment (Jonker-Volgenant family, in the form given by
// Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 2016). Rows are assigned one at
// a time; each step runs a Dijkstra search over reduced costs c(i,j) - u(i) - v(j) >= 0 from the new row to
// the nearest free column, then updates the duals and flips the path. Ties prefer a free column, then the
// column found last in the scan, which reproduces scipy's choices on tied inputs.
#include "coordexp/matching/linear_assignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Solves for a row-major matrix with rows <= cols. Writes col_for_row[rows].
void solve_wide(const double* c, int64_t rows, int64_t cols, std::vector<int64_t>& col_for_row) {
  std::vector<double> u(rows, 0.0), v(cols, 0.0);     // dual variables
  std::vector<double> path_cost(cols);                 // shortest path cost to each column this step
  std::vector<int64_t> path(cols, -1);                 // predecessor row of each column on the path
  std::vector<int64_t> row_for_col(cols, -1);
  std::vector<int64_t> remaining(cols);                // columns not yet reached this step
  std::vector<char> row_seen(rows), col_seen(cols);
  std::vector<int64_t> seen_rows;
  col_for_row.assign(rows, -1);

  for (int64_t cur_row = 0; cur_row < rows; ++cur_row) {
    std::fill(path_cost.begin(), path_cost.end(), kInf);
    std::fill(row_seen.begin(), row_seen.end(), 0);
    std::fill(col_seen.begin(), col_seen.end(), 0);
    seen_rows.clear();
    // Columns are scanned in reverse order and removed by swap-with-last, as in the reference.
    for (int64_t k = 0; k < cols; ++k) remaining[k] = cols - k - 1;
    int64_t num_remaining = cols;
    double min_val = 0;
    int64_t i = cur_row;
    int64_t sink = -1;
    while (sink == -1) {
      row_seen[i] = 1;
      seen_rows.push_back(i);
      const double* ci = c + i * cols;
      const double base = min_val - u[i];
      int64_t best = -1;
      double lowest = kInf;
      for (int64_t k = 0; k < num_remaining; ++k) {
        const int64_t j = remaining[k];
        const double r = base + ci[j] - v[j];
        if (r < path_cost[j]) {
          path[j] = i;
          path_cost[j] = r;
        }
        if (path_cost[j] < lowest || (path_cost[j] == lowest && row_for_col[j] == -1)) {
          lowest = path_cost[j];
          best = k;
        }
      }
      min_val = lowest;
      if (min_val == kInf) {
        throw InputError("linear_sum_assignment: the cost matrix is infeasible: row " +
                         std::to_string(cur_row) + " has no finite-cost path to a free column " +
                         "(+inf marks forbidden pairs)");
      }
      const int64_t j = remaining[best];
      if (row_for_col[j] == -1) sink = j;
      else i = row_for_col[j];
      col_seen[j] = 1;
      remaining[best] = remaining[--num_remaining];
    }
    // Dual update keeps reduced costs non-negative and tight along the shortest-path tree.
    u[cur_row] += min_val;
    for (int64_t r : seen_rows)
      if (r != cur_row) u[r] += min_val - path_cost[col_for_row[r]];
    for (int64_t j = 0; j < cols; ++j)
      if (col_seen[j]) v[j] -= min_val - path_cost[j];
    // Augment: flip the assignment along the path back to cur_row.
    int64_t j = sink;
    while (true) {
      const int64_t r = path[j];
      row_for_col[j] = r;
      std::swap(col_for_row[r], j);
      if (r == cur_row) break;
    }
  }
}

}  // namespace

Assignment linear_sum_assignment(std::span<const double> cost, int64_t num_rows, int64_t num_cols,
                                 bool maximize) {
  if (num_rows < 0 || num_cols < 0 || static_cast<size_t>(num_rows * num_cols) != cost.size()) {
    throw_input_error("linear_sum_assignment: cost", "a row-major matrix of " + std::to_string(num_rows) +
                                                         " x " + std::to_string(num_cols) + " entries",
                      std::to_string(cost.size()) + " entries");
  }
  Assignment out;
  if (num_rows == 0 || num_cols == 0) return out;

  const bool transpose = num_rows > num_cols;
  const int64_t rows = transpose ? num_cols : num_rows;
  const int64_t cols = transpose ? num_rows : num_cols;
  std::vector<double> c(cost.size());
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t k = 0; k < num_cols; ++k) {
      double x = cost[r * num_cols + k];
      if (std::isnan(x) || x == (maximize ? kInf : -kInf)) {
        throw_input_error("linear_sum_assignment: cost[" + std::to_string(r) + "][" + std::to_string(k) + "]",
                          maximize ? "a number or -inf (forbidden)" : "a number or +inf (forbidden)",
                          std::isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf"));
      }
      if (maximize) x = -x;
      c[transpose ? k * cols + r : r * cols + k] = x;
    }
  }
  std::vector<int64_t> col_for_row;
  solve_wide(c.data(), rows, cols, col_for_row);

  out.rows.resize(rows);
  out.cols.resize(rows);
  if (!transpose) {
    std::iota(out.rows.begin(), out.rows.end(), 0);
    out.cols = col_for_row;
  } else {
    // rows of the transposed problem are original columns; report sorted by original row.
    std::vector<int64_t> order(rows);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return col_for_row[a] < col_for_row[b]; });
    for (int64_t k = 0; k < rows; ++k) {
      out.rows[k] = col_for_row[order[k]];
      out.cols[k] = order[k];
    }
  }
  for (size_t k = 0; k < out.rows.size(); ++k) out.total_cost += cost[out.rows[k] * num_cols + out.cols[k]];
  return out;
}

}  // namespace coordexp
