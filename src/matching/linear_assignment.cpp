// Shortest augmenting path solver for rectangular assignment (Jonker-Volgenant family, in the form given by
// Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 2016). Rows are assigned one at
// a time; each step runs a Dijkstra search over reduced costs c(i,j) - u(i) - v(j) >= 0 from the new row to
// the nearest free column, then updates the duals and flips the path. On tied path costs a free column is
// preferred, then the first found; on tied inputs the optimum equals scipy's, the assignment may differ.
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
  std::vector<double> u(rows, 0.0), v(cols, 0.0);  // dual variables
  std::vector<double> path_cost(cols);             // shortest path cost to each column this step
  std::vector<int64_t> path(cols, -1);             // predecessor row of each column on the path
  std::vector<int64_t> row_for_col(cols, -1);
  std::vector<int64_t> remaining(cols);  // columns not yet reached this step
  std::vector<int64_t> seen_rows, seen_cols;
  col_for_row.assign(rows, -1);

  if (rows == cols) {
    // Column reduction (Jonker-Volgenant's initialisation, square problems only: with free columns left
    // over at the end, optimality needs their duals at 0). v_j = min_i c_ij keeps u + v <= c feasible, and
    // each column's minimum row, if still free, is assigned at once with a tight reduced cost. Most rows of a
    // random matrix are settled here, so far fewer shortest-path searches run.
    std::vector<int64_t> argmin(cols, 0);
    std::fill(v.begin(), v.end(), kInf);
    for (int64_t i = 0; i < rows; ++i) {
      const double* ci = c + i * cols;
      for (int64_t j = 0; j < cols; ++j) {
        const bool lower = ci[j] < v[j];
        v[j] = lower ? ci[j] : v[j];
        argmin[j] = lower ? i : argmin[j];
      }
    }
    for (int64_t j = cols - 1; j >= 0; --j) {
      if (v[j] == kInf)
        v[j] = 0;  // a column with no finite entry: infeasible, found by the search below
      else if (col_for_row[argmin[j]] == -1) {
        col_for_row[argmin[j]] = j;
        row_for_col[j] = argmin[j];
      }
    }
  }

  for (int64_t cur_row = 0; cur_row < rows; ++cur_row) {
    if (col_for_row[cur_row] != -1) continue;  // settled by column reduction
    std::fill(path_cost.begin(), path_cost.end(), kInf);
    seen_rows.clear();
    seen_cols.clear();
    for (int64_t k = 0; k < cols; ++k) remaining[k] = k;
    int64_t num_remaining = cols;
    double min_val = 0;
    int64_t i = cur_row;
    int64_t sink = -1;
    while (sink == -1) {
      seen_rows.push_back(i);
      const double* ci = c + i * cols;
      const double base = min_val - u[i];
      int64_t best = -1;
      double lowest = kInf;
      // Relax every unreached column from row i and keep the nearest; written without branches (cmov)
      // because the comparisons are unpredictable. Ties prefer a free column: reaching one ends the search.
      for (int64_t k = 0; k < num_remaining; ++k) {
        const int64_t j = remaining[k];
        const double r = base + ci[j] - v[j];
        const double old = path_cost[j];
        const bool better = r < old;
        const double pc = better ? r : old;
        path_cost[j] = pc;
        path[j] = better ? i : path[j];
        const bool take = (pc < lowest) | ((pc == lowest) & (row_for_col[j] == -1));
        lowest = take ? pc : lowest;
        best = take ? k : best;
      }
      min_val = lowest;
      if (min_val == kInf) {
        throw InputError("linear_sum_assignment: the cost matrix is infeasible: row " +
                         std::to_string(cur_row) + " has no finite-cost path to a free column " +
                         "(+inf marks forbidden pairs)");
      }
      const int64_t j = remaining[best];
      if (row_for_col[j] == -1)
        sink = j;
      else
        i = row_for_col[j];
      seen_cols.push_back(j);
      remaining[best] = remaining[--num_remaining];
    }
    // Dual update keeps reduced costs non-negative and tight along the shortest-path tree.
    u[cur_row] += min_val;
    for (int64_t r : seen_rows)
      if (r != cur_row) u[r] += min_val - path_cost[col_for_row[r]];
    for (int64_t j : seen_cols) v[j] -= min_val - path_cost[j];
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
    throw_input_error(
        "linear_sum_assignment: cost",
        "a row-major matrix of " + std::to_string(num_rows) + " x " + std::to_string(num_cols) + " entries",
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
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return col_for_row[a] < col_for_row[b]; });
    for (int64_t k = 0; k < rows; ++k) {
      out.rows[k] = col_for_row[order[k]];
      out.cols[k] = order[k];
    }
  }
  for (size_t k = 0; k < out.rows.size(); ++k) out.total_cost += cost[out.rows[k] * num_cols + out.cols[k]];
  return out;
}

}  // namespace coordexp
