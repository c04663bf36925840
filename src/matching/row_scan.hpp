// The passes over cost rows that take nearly all of linear_sum_assignment's time (the shortest-path row scan,
// the top two of a row for row reduction, column minima, the input check), each in a portable and an AVX2
// form (chosen once from the CPU) that return identical results: both compute the same IEEE sums and break
// ties by the same key, so the choice of form never changes an assignment (tests/matching/test_row_scan.cpp).
#pragma once

#include <cstdint>
#include <limits>

namespace coordexp::row_scan {

// relax_row: for every column j, x = row[j] - price[j] - h; where x < dist[j] (or always, when first) dist[j]
// becomes x and pred[j] becomes `step` (the search step that scans this row). Returns the smallest dist with
// the first and the last column that have it, and the smallest dist + free_penalty[j] (free_penalty is 0 for
// a free column and +inf otherwise).
struct RelaxResult {
  double lowest;
  double lowest_free;
  int64_t first_col;  // -1 when every dist is +inf
  int64_t last_col;
};

// first_reached: among the columns with dist[j] == value, the one with the smallest pred, then lowest index.
using FirstReachedFn = int64_t (*)(const double* dist, const int64_t* pred, double value, int64_t cols);

// two_best: the smallest and second-smallest row[j] - price[j] with their columns, ordered by (value,
// column).
struct TwoBest {
  double first;
  double second;
  int64_t first_col;  // -1 when every entry is +inf
  int64_t second_col;
};

using RelaxFn = RelaxResult (*)(const double* row, int64_t step, double h, const double* price,
                                const double* free_penalty, double* dist, int64_t* pred, int64_t cols,
                                bool first);
using TwoBestFn = TwoBest (*)(const double* row, const double* price, int64_t cols);
// column_minima: for each column j of the row-major [rows x cols] matrix c, colmin[j] = the smallest c[i][j]
// and argmin[j] = the first row i that has it.
using ColumnMinimaFn = void (*)(const double* c, int64_t rows, int64_t cols, double* colmin, int64_t* argmin);
// all_valid: no entry of p[0..n) is NaN or equal to `rejected` (an infinity).
using AllValidFn = bool (*)(const double* p, int64_t n, double rejected);

struct Kernels {
  RelaxFn relax_row;
  FirstReachedFn first_reached;
  TwoBestFn two_best;
  ColumnMinimaFn column_minima;
  AllValidFn all_valid;
  const char* name;
};

const Kernels& portable_kernels();
// The AVX2 form where the CPU has it (x86-64 with GCC or Clang), else the portable one.
const Kernels& best_kernels();

// Rows shorter than this go through two_best_short in every form: merging vector lanes would cost more than
// it saves, and the solver calls it inline (no call through the table) on small matrices.
constexpr int64_t kShortRow = 32;

// The portable two_best, inline.
inline TwoBest two_best_short(const double* row, const double* price, int64_t cols) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  TwoBest b{kInf, kInf, -1, -1};
  for (int64_t j = 0; j < cols; ++j) {  // strict comparisons: the lowest column wins a tie
    const double t = row[j] - price[j];
    const bool lt1 = t < b.first, lt2 = t < b.second;
    b.second_col = lt1 ? b.first_col : (lt2 ? j : b.second_col);
    b.second = lt1 ? b.first : (lt2 ? t : b.second);
    b.first_col = lt1 ? j : b.first_col;
    b.first = lt1 ? t : b.first;
  }
  return b;
}

}  // namespace coordexp::row_scan
