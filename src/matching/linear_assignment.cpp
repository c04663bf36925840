// Exact rectangular assignment in the Jonker-Volgenant scheme: an initialisation that settles most rows
// cheaply (column reduction with reduction transfer on square matrices, then augmenting row reduction), then
// one shortest augmenting path per row still free, found by a Dijkstra search over reduced costs
// c(i,j) - u(i) - v(j) >= 0 that scans whole cost rows in order. Wide problems (rows < cols) are solved as
// they are, tall ones transposed. Invariants: every assigned row is tight (its column attains the row's
// minimum reduced cost) and every free column keeps the highest price, so the assignment is optimal when all
// rows are.
#include "coordexp/matching/linear_assignment.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>
#include <thread>

#include "coordexp/util/error.hpp"
#include "row_scan.hpp"
#include "worker_pool.hpp"

namespace coordexp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Row reductions allowed per free row in one pass of augmenting row reduction. Its chains of displaced rows
// work like an auction: cheap on uniform costs, but on geometric or low-rank costs prices creep by tiny
// steps and a chain can run O(n) long (LAPJV's bound, O(n^2) steps a pass, was 3x slower than handing the
// rows to the shortest paths on 500x500 low-rank costs and 7x on 1000x1000 Euclidean distances). Ten per
// row measured best or close on every matrix family of bench/matching_vs_scipy.py (--more included).
constexpr int64_t kReductionStepsPerRow = 10;

// Scratch of one solve, reused by every call on the same thread so that no call allocates in its loops.
struct Workspace {
  std::vector<double> cost;  // [rows x cols] transposed or negated copy, when the input cannot be used as is
  std::vector<double> v;     // [cols] column prices; -inf marks a column settled in the current search
  std::vector<double> dist;  // [cols] tentative shortest-path length of each unsettled column
  std::vector<double> free_penalty;   // [cols] 0 for a free column, +inf for an assigned one
  std::vector<int64_t> pred;          // [cols] search step (index into scanned_rows) that last lowered dist
  std::vector<int64_t> scanned_rows;  // rows scanned in the current search, by step
  std::vector<int64_t> col_for_row;   // [rows] -1 while free
  std::vector<int64_t> row_for_col;   // [cols] -1 while free
  std::vector<int64_t> free_rows;     // rows waiting for a column
  std::vector<int64_t> settled;       // columns settled in the current search, in order
  std::vector<double> settled_dist;   // their path lengths
  std::vector<double> settled_price;  // their prices before the search
  const row_scan::Kernels* kernels = &row_scan::best_kernels();
};

struct Problem {
  const double* c;  // row-major [rows x cols], rows <= cols, no NaN or -inf
  int64_t rows, cols;
  bool transposed;  // rows are the caller's columns
};

[[noreturn]] void throw_infeasible(const Problem& p, int64_t row) {
  throw InputError(std::string("linear_sum_assignment: the cost matrix is infeasible: ") +
                   (p.transposed ? "column " : "row ") + std::to_string(row) +
                   " cannot be assigned without a forbidden (+inf) pair or taking another's only option");
}

// two_best through the kernel table, or inline for short rows (most of the time of small matrices).
row_scan::TwoBest two_best(const Workspace& w, const double* row, int64_t cols) {
  return cols < row_scan::kShortRow ? row_scan::two_best_short(row, w.v.data(), cols)
                                    : w.kernels->two_best(row, w.v.data(), cols);
}

void assign(Workspace& w, int64_t row, int64_t col) {
  w.col_for_row[row] = col;
  w.row_for_col[col] = row;
  w.free_penalty[col] = kInf;
}

// Column reduction and reduction transfer (square problems only: with columns left free at the end their
// prices must stay equal and highest, which v_j = min_i c_ij breaks). v_j = min_i c_ij keeps every reduced
// cost >= 0, and each column's minimum row, if still free, takes the column at reduced cost 0. A row that
// is the minimum of exactly one column then hands its slack to that column (v_j -= second-smallest reduced
// cost of the row), which gives the row reduction below more room. Leaves the free rows in w.free_rows.
void column_reduction(const Problem& p, Workspace& w) {
  const int64_t n = p.cols;
  std::vector<int64_t>& argmin = w.pred;  // borrowed: the search has not started
  w.kernels->column_minima(p.c, n, n, w.v.data(), argmin.data());
  std::vector<int64_t>& times_min = w.settled;  // borrowed: how many columns each row is the minimum of
  times_min.assign(n, 0);
  for (int64_t j = n - 1; j >= 0; --j) {
    if (w.v[j] == kInf) {
      w.v[j] = 0;  // a column with no finite entry: the searches below find the problem infeasible
      continue;
    }
    const int64_t i = argmin[j];
    if (times_min[i]++ == 0) assign(w, i, j);
  }
  w.free_rows.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (w.col_for_row[i] == -1) {
      w.free_rows.push_back(i);
    } else if (times_min[i] == 1) {
      // The row's reduced costs are >= 0 and 0 at j: the smallest one off j is the second if j comes first.
      const int64_t j = w.col_for_row[i];
      const row_scan::TwoBest b = two_best(w, p.c + i * n, n);
      const double off_j = b.first_col == j ? b.second : b.first;
      if (off_j < kInf) w.v[j] -= off_j;
    }
  }
  w.settled.clear();
}

// One pass of augmenting row reduction over w.free_rows: each free row takes the column of its smallest
// reduced cost and lowers that column's price until the row's second choice is as cheap, so the row stays
// tight; the row it displaces is reduced next. With a tie between the two choices no price can move, and the
// row takes its second choice instead, putting the displaced row back in the queue for the next pass. The
// number of reductions is bounded (like LAPJV's) so that ties cannot cycle. Leaves the rows still free.
void augmenting_row_reduction(const Problem& p, Workspace& w) {
  std::vector<int64_t>& queue = w.free_rows;
  const int64_t num_queued = static_cast<int64_t>(queue.size());
  const int64_t budget = kReductionStepsPerRow * num_queued;
  int64_t next = 0, still_free = 0, steps = 0;
  while (next < num_queued) {
    const int64_t i = queue[next++];
    ++steps;
    const row_scan::TwoBest b = two_best(w, p.c + i * p.cols, p.cols);
    if (b.first_col < 0) throw_infeasible(p, i);
    int64_t j = b.first_col;
    if (b.first == b.second) {  // tied: a free column at the minimum ends the row's turn without displacing
      const double* ci = p.c + i * p.cols;
      int64_t f = 0;
      while (f < p.cols && !(ci[f] - w.v[f] == b.first && w.row_for_col[f] < 0)) ++f;
      if (f < p.cols) {
        assign(w, i, f);
        continue;
      }
    }
    int64_t displaced = w.row_for_col[j];
    const bool lowers = b.first < b.second && b.second < kInf;
    if (steps < budget) {
      if (lowers) {
        w.v[j] -= b.second - b.first;
      } else if (displaced >= 0 && b.first == b.second) {
        j = b.second_col;
        displaced = w.row_for_col[j];
      }
      if (displaced >= 0) {
        if (lowers)
          queue[--next] = displaced;
        else
          queue[still_free++] = displaced;
      }
    } else if (displaced >= 0) {
      queue[still_free++] = displaced;
    }
    if (displaced >= 0) w.col_for_row[displaced] = -1;
    assign(w, i, j);
  }
  queue.resize(still_free);
}

// Relaxes every unsettled column through row i, entered at path length h + its reduced cost, as search step
// w.scanned_rows.size() (pred of the columns it improves).
row_scan::RelaxResult relax_row(const Problem& p, Workspace& w, int64_t i, double h, bool first) {
  const int64_t step = static_cast<int64_t>(w.scanned_rows.size());
  w.scanned_rows.push_back(i);
  return w.kernels->relax_row(p.c + i * p.cols, step, h, w.v.data(), w.free_penalty.data(), w.dist.data(),
                              w.pred.data(), p.cols, first);
}

// The column settled next when several share the smallest distance: the one reached first (all of them lie
// between the first and the last column at that distance).
int64_t first_reached(const Workspace& w, const row_scan::RelaxResult& s) {
  const int64_t lo = s.first_col, count = s.last_col - s.first_col + 1;
  return lo + w.kernels->first_reached(w.dist.data() + lo, w.pred.data() + lo, s.lowest, count);
}

// Shortest augmenting path from free row `start` to the nearest free column (Dijkstra over reduced costs),
// then the price update that keeps every reduced cost >= 0 and the augmentation. Settled columns are
// marked by v = -inf so that the scan stays one pass over whole rows; their prices are restored at the end.
// Among columns at the same distance the one reached first is settled first (breadth-first): on tied costs a
// whole level of zero-cost edges is searched for a free column, and first in, first out needs a fraction of
// the row scans that lowest-column-first does (825 against 3,962 on 1000x1000 costs in 0..99, 8,754
// against 24,858 on LAPJV's "hard" 1000x1000 matrices).
void augment_from(const Problem& p, Workspace& w, int64_t start) {
  w.settled.clear();
  w.settled_dist.clear();
  w.settled_price.clear();
  w.scanned_rows.clear();
  row_scan::RelaxResult s = relax_row(p, w, start, 0, /*first=*/true);
  while (true) {
    if (s.lowest == kInf) throw_infeasible(p, start);
    if (s.lowest_free == s.lowest) break;  // a free column is among the nearest: the path ends there
    const int64_t j = s.first_col == s.last_col ? s.first_col : first_reached(w, s);
    w.settled.push_back(j);
    w.settled_dist.push_back(s.lowest);
    w.settled_price.push_back(w.v[j]);
    const int64_t i = w.row_for_col[j];
    const double h = p.c[i * p.cols + j] - w.v[j] - s.lowest;
    w.v[j] = -kInf;
    w.dist[j] = kInf;
    s = relax_row(p, w, i, h, /*first=*/false);
  }
  int64_t sink = 0;
  while (!(w.dist[sink] == s.lowest && w.free_penalty[sink] == 0)) ++sink;
  for (size_t k = 0; k < w.settled.size(); ++k)
    w.v[w.settled[k]] = w.settled_price[k] - (s.lowest - w.settled_dist[k]);
  for (int64_t j = sink;;) {
    const int64_t i = w.scanned_rows[w.pred[j]];
    w.row_for_col[j] = i;
    w.free_penalty[j] = kInf;
    std::swap(w.col_for_row[i], j);
    if (i == start) break;
  }
}

void solve(const Problem& p, Workspace& w) {
  // One loop instead of a fill per array: on small matrices the fills' calls cost more than the solve.
  // dist and pred are written by each search's first row scan before any read.
  for (auto* a : {&w.v, &w.dist, &w.free_penalty}) a->resize(p.cols);
  for (auto* a : {&w.pred, &w.row_for_col}) a->resize(p.cols);
  w.col_for_row.resize(p.rows);
  for (int64_t j = 0; j < p.cols; ++j) {
    w.v[j] = 0;
    w.free_penalty[j] = 0;
    w.row_for_col[j] = -1;
  }
  for (int64_t i = 0; i < p.rows; ++i) w.col_for_row[i] = -1;
  if (p.rows == p.cols) {
    column_reduction(p, w);
  } else {
    w.free_rows.resize(p.rows);
    for (int64_t i = 0; i < p.rows; ++i) w.free_rows[i] = i;
  }
  for (int pass = 0; pass < 2 && !w.free_rows.empty(); ++pass) augmenting_row_reduction(p, w);
  for (int64_t i : w.free_rows) augment_from(p, w, i);
}

[[noreturn]] void throw_bad_entry(int64_t r, int64_t k, double x, bool maximize) {
  throw_input_error("linear_sum_assignment: cost[" + std::to_string(r) + "][" + std::to_string(k) + "]",
                    maximize ? "a number or -inf (forbidden)" : "a number or +inf (forbidden)",
                    std::isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf"));
}

// The problem with rows <= cols and minimisation, checked for NaN and the wrong infinity. Uses the caller's
// matrix as it is when it already has that form, else a transposed and/or negated copy in w.cost.
Problem prepare(std::span<const double> cost, int64_t num_rows, int64_t num_cols, bool maximize,
                Workspace& w) {
  const double bad_inf = maximize ? kInf : -kInf;
  const double* in = cost.data();
  const int64_t size = num_rows * num_cols;
  if (!w.kernels->all_valid(in, size, bad_inf)) {
    for (int64_t k = 0;; ++k)
      if (in[k] != in[k] || in[k] == bad_inf) throw_bad_entry(k / num_cols, k % num_cols, in[k], maximize);
  }
  const bool transpose = num_rows > num_cols;
  if (!transpose && !maximize) return {in, num_rows, num_cols, false};
  w.cost.resize(size);
  const double sign = maximize ? -1.0 : 1.0;
  if (!transpose) {
    for (int64_t k = 0; k < size; ++k) w.cost[k] = sign * in[k];
    return {w.cost.data(), num_rows, num_cols, false};
  }
  for (int64_t r = 0; r < num_rows; ++r)
    for (int64_t k = 0; k < num_cols; ++k) w.cost[k * num_rows + r] = sign * in[r * num_cols + k];
  return {w.cost.data(), num_cols, num_rows, true};
}

Assignment solve_one(std::span<const double> cost, int64_t num_rows, int64_t num_cols, bool maximize) {
  if (num_rows < 0 || num_cols < 0 || static_cast<size_t>(num_rows * num_cols) != cost.size()) {
    throw_input_error(
        "linear_sum_assignment: cost",
        "a row-major matrix of " + std::to_string(num_rows) + " x " + std::to_string(num_cols) + " entries",
        std::to_string(cost.size()) + " entries");
  }
  Assignment out;
  if (num_rows == 0 || num_cols == 0) return out;
  thread_local Workspace w;
  const Problem p = prepare(cost, num_rows, num_cols, maximize, w);
  solve(p, w);
  if (w.cost.capacity() > (size_t{1} << 16)) std::vector<double>().swap(w.cost);  // keep no large copy

  out.rows.resize(p.rows);
  out.cols.resize(p.rows);
  if (!p.transposed) {
    for (int64_t i = 0; i < p.rows; ++i) {
      out.rows[i] = i;
      out.cols[i] = w.col_for_row[i];
    }
  } else {  // the columns of the transposed problem are the original rows: report them in ascending order
    int64_t k = 0;
    for (int64_t j = 0; j < p.cols; ++j) {
      if (w.row_for_col[j] < 0) continue;
      out.rows[k] = j;
      out.cols[k++] = w.row_for_col[j];
    }
  }
  for (size_t k = 0; k < out.rows.size(); ++k) out.total_cost += cost[out.rows[k] * num_cols + out.cols[k]];
  return out;
}

}  // namespace

Assignment linear_sum_assignment(std::span<const double> cost, int64_t num_rows, int64_t num_cols,
                                 bool maximize) {
  return solve_one(cost, num_rows, num_cols, maximize);
}

std::vector<Assignment> linear_sum_assignment_batch(std::span<const CostMatrixView> matrices, int threads,
                                                    bool maximize) {
  const size_t n = matrices.size();
  std::vector<Assignment> out(n);
  std::vector<std::exception_ptr> errors(n);
  // Each extra thread must have enough entries to repay waking it (microseconds): about 1 ns per entry is
  // solved, so a batch of DETR-sized matrices for a few images stays on the calling thread.
  constexpr size_t kEntriesPerThread = size_t{1} << 15;
  size_t entries = 0;
  for (const auto& m : matrices) entries += m.cost.size();
  size_t workers =
      threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, 1 + entries / kEntriesPerThread);
  worker_pool::run(n, static_cast<int>(workers), [&](size_t k) {
    try {
      out[k] = solve_one(matrices[k].cost, matrices[k].num_rows, matrices[k].num_cols, maximize);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  });
  for (size_t k = 0; k < n; ++k) {
    if (!errors[k]) continue;
    try {
      std::rethrow_exception(errors[k]);
    } catch (const InputError& e) {
      throw InputError("matrices[" + std::to_string(k) + "]: " + e.what());
    }
  }
  return out;
}

}  // namespace coordexp
