// Row scans of the assignment solver (see row_scan.hpp). The AVX2 form keeps per-lane minima with their keys
// in vector registers (two independent sets, eight columns a step, so the loop is not bound by the latency of
// one compare-and-blend chain) and merges the lanes by the same key order at the end; columns past the last
// multiple of eight go through the portable code, which applies the same rule.
#include "row_scan.hpp"

#include <initializer_list>
#include <limits>

namespace coordexp::row_scan {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scalar relaxation of columns [begin, cols), continuing the running result r (columns increase).
void relax_tail(const double* row, int64_t step, double h, const double* price, const double* pen,
                double* dist, int64_t* pred, int64_t begin, int64_t cols, bool first, RelaxResult& r) {
  for (int64_t j = begin; j < cols; ++j) {
    const double x = row[j] - price[j] - h;
    const bool better = first || x < dist[j];
    const double dj = better ? x : dist[j];
    dist[j] = dj;
    pred[j] = better ? step : pred[j];
    r.first_col = dj < r.lowest ? j : r.first_col;
    r.last_col = dj <= r.lowest && dj < kInf ? j : r.last_col;
    r.lowest = dj < r.lowest ? dj : r.lowest;
    const double df = dj + pen[j];
    r.lowest_free = df < r.lowest_free ? df : r.lowest_free;
  }
}

RelaxResult relax_row_portable(const double* row, int64_t step, double h, const double* price,
                               const double* pen, double* dist, int64_t* pred, int64_t cols, bool first) {
  RelaxResult r{kInf, kInf, -1, -1};
  relax_tail(row, step, h, price, pen, dist, pred, 0, cols, first, r);
  return r;
}

int64_t first_reached_portable(const double* dist, const int64_t* pred, double value, int64_t cols) {
  int64_t best = -1, best_step = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const bool take = dist[j] == value && (best < 0 || pred[j] < best_step);
    best = take ? j : best;
    best_step = take ? pred[j] : best_step;
  }
  return best;
}

TwoBest two_best_portable(const double* row, const double* price, int64_t cols) {
  return two_best_short(row, price, cols);
}

// Column minima of columns [begin, cols), one column at a time (the running minimum stays in a register).
void column_minima_tail(const double* c, int64_t rows, int64_t cols, int64_t begin, double* colmin,
                        int64_t* argmin) {
  for (int64_t j = begin; j < cols; ++j) {
    double m = c[j];
    int64_t am = 0;
    for (int64_t i = 1; i < rows; ++i) {
      const double x = c[i * cols + j];
      am = x < m ? i : am;
      m = x < m ? x : m;
    }
    colmin[j] = m;
    argmin[j] = am;
  }
}

void column_minima_portable(const double* c, int64_t rows, int64_t cols, double* colmin, int64_t* argmin) {
  if (cols <= 64) {
    column_minima_tail(c, rows, cols, 0, colmin, argmin);
    return;
  }
  for (int64_t j = 0; j < cols; ++j) {  // row by row, the cost rows streamed in order
    colmin[j] = c[j];
    argmin[j] = 0;
  }
  for (int64_t i = 1; i < rows; ++i) {
    const double* row = c + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const bool lower = row[j] < colmin[j];
      colmin[j] = lower ? row[j] : colmin[j];
      argmin[j] = lower ? i : argmin[j];
    }
  }
}

bool all_valid_portable(const double* p, int64_t n, double rejected) {
  bool ok = true;
  for (int64_t k = 0; k < n; ++k) ok &= p[k] == p[k] && p[k] != rejected;
  return ok;
}

const Kernels kPortable{relax_row_portable,     first_reached_portable, two_best_portable,
                        column_minima_portable, all_valid_portable,     "portable"};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define COORDEXP_ROW_SCAN_AVX2 1

using d4 = double __attribute__((vector_size(32)));
using i4 = int64_t __attribute__((vector_size(32)));

#define COORDEXP_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

COORDEXP_AVX2_INLINE d4 load_d4(const double* p) {
  d4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
COORDEXP_AVX2_INLINE i4 load_i4(const int64_t* p) {
  i4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
COORDEXP_AVX2_INLINE void store(double* p, d4 v) {
  __builtin_memcpy(p, &v, sizeof v);
}
COORDEXP_AVX2_INLINE void store(int64_t* p, i4 v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// Offers (value, col) to the running (value, column)-ordered top two; +inf values are never kept.
void offer(TwoBest& b, double value, int64_t col) {
  if (!(value < kInf)) return;
  if (value < b.first || (value == b.first && col < b.first_col)) {
    b.second = b.first;
    b.second_col = b.first_col;
    b.first = value;
    b.first_col = col;
  } else if (value < b.second || (value == b.second && col < b.second_col)) {
    b.second = value;
    b.second_col = col;
  }
}

// Lane minima of one accumulator: smallest dist with its first and last column (doubles, exact below 2^53,
// so that the blends stay in one type), smallest dist + free penalty.
struct Lanes {
  d4 lo, first, last, lo_free;
};

// Relaxes the four columns at j and folds them into the lane minima.
COORDEXP_AVX2_INLINE void relax_block(const double* row, const double* price, const double* pen, double* dist,
                                      int64_t* pred, int64_t j, d4 h, i4 step, bool first, d4 idx, Lanes& a) {
  const d4 x = load_d4(row + j) - load_d4(price + j) - h;
  d4 d = x;
  if (first) {
    store(pred + j, step);
  } else {
    const d4 old = load_d4(dist + j);
    const i4 better = x < old;
    d = better ? x : old;
    store(pred + j, better ? step : load_i4(pred + j));
  }
  store(dist + j, d);
  const i4 lt = d < a.lo, le = d <= a.lo;
  a.first = lt ? idx : a.first;
  a.last = le ? idx : a.last;
  a.lo = lt ? d : a.lo;
  const d4 f = d + load_d4(pen + j);
  a.lo_free = f < a.lo_free ? f : a.lo_free;
}

COORDEXP_AVX2_INLINE void merge_lanes(const Lanes& a, RelaxResult& r) {
  for (int l = 0; l < 4; ++l) {
    const double lo = a.lo[l];
    const int64_t first = static_cast<int64_t>(a.first[l]), last = static_cast<int64_t>(a.last[l]);
    if (lo < r.lowest) {
      r.lowest = lo;
      r.first_col = first;
      r.last_col = last;
    } else if (lo == r.lowest && lo < kInf) {
      r.first_col = first < r.first_col ? first : r.first_col;
      r.last_col = last > r.last_col ? last : r.last_col;
    }
    r.lowest_free = a.lo_free[l] < r.lowest_free ? a.lo_free[l] : r.lowest_free;
  }
}

__attribute__((target("avx2"))) RelaxResult relax_row_avx2(const double* row, int64_t step, double h,
                                                           const double* price, const double* pen,
                                                           double* dist, int64_t* pred, int64_t cols,
                                                           bool first) {
  const d4 inf = {kInf, kInf, kInf, kInf}, none = {-1, -1, -1, -1}, eight = {8, 8, 8, 8};
  const d4 hv = {h, h, h, h};
  const i4 stepv = {step, step, step, step};
  Lanes a{inf, none, none, inf}, b{inf, none, none, inf};
  d4 idx0 = {0, 1, 2, 3}, idx1 = {4, 5, 6, 7};
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    relax_block(row, price, pen, dist, pred, j, hv, stepv, first, idx0, a);
    relax_block(row, price, pen, dist, pred, j + 4, hv, stepv, first, idx1, b);
    idx0 += eight;
    idx1 += eight;
  }
  RelaxResult r{kInf, kInf, -1, -1};
  merge_lanes(a, r);
  merge_lanes(b, r);
  relax_tail(row, step, h, price, pen, dist, pred, j, cols, first, r);
  return r;
}

// Lane state of first_reached: smallest pred among the columns at the target distance, and its column.
struct Reached {
  i4 step;
  d4 col;
};

COORDEXP_AVX2_INLINE void reached_block(const double* dist, const int64_t* pred, int64_t j, d4 target, d4 idx,
                                        Reached& a) {
  const i4 p = load_i4(pred + j);
  const i4 take = (load_d4(dist + j) == target) & (p < a.step);
  a.step = take ? p : a.step;
  a.col = take ? idx : a.col;
}

__attribute__((target("avx2"))) int64_t first_reached_avx2(const double* dist, const int64_t* pred,
                                                           double value, int64_t cols) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const d4 target = {value, value, value, value}, none = {-1, -1, -1, -1}, eight = {8, 8, 8, 8};
  Reached a{{kMax, kMax, kMax, kMax}, none}, b = a;
  d4 idx0 = {0, 1, 2, 3}, idx1 = {4, 5, 6, 7};
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    reached_block(dist, pred, j, target, idx0, a);
    reached_block(dist, pred, j + 4, target, idx1, b);
    idx0 += eight;
    idx1 += eight;
  }
  int64_t best = -1, best_step = kMax;
  for (const Reached* lanes : {&a, &b}) {
    for (int l = 0; l < 4; ++l) {
      const int64_t c = static_cast<int64_t>(lanes->col[l]);
      if (c >= 0 && (lanes->step[l] < best_step || (lanes->step[l] == best_step && c < best))) {
        best = c;
        best_step = lanes->step[l];
      }
    }
  }
  for (; j < cols; ++j) {
    if (dist[j] == value && pred[j] < best_step) {
      best = j;
      best_step = pred[j];
    }
  }
  return best;
}

// Per-lane top two, (m1, i1) before (m2, i2) by (value, column).
struct TopTwoLanes {
  d4 m1, i1, m2, i2;
};

COORDEXP_AVX2_INLINE void two_best_block(const double* row, const double* price, int64_t j, d4 idx,
                                         TopTwoLanes& a) {
  const d4 t = load_d4(row + j) - load_d4(price + j);
  const i4 lt1 = t < a.m1, lt2 = t < a.m2;
  a.m2 = lt1 ? a.m1 : (lt2 ? t : a.m2);
  a.i2 = lt1 ? a.i1 : (lt2 ? idx : a.i2);
  a.m1 = lt1 ? t : a.m1;
  a.i1 = lt1 ? idx : a.i1;
}

__attribute__((target("avx2"))) TwoBest two_best_avx2(const double* row, const double* price, int64_t cols) {
  if (cols < kShortRow) return two_best_short(row, price, cols);  // merging lanes would cost more
  const d4 inf = {kInf, kInf, kInf, kInf}, none = {-1, -1, -1, -1}, step = {8, 8, 8, 8};
  TopTwoLanes a{inf, none, inf, none}, b{inf, none, inf, none};
  d4 idx0 = {0, 1, 2, 3}, idx1 = {4, 5, 6, 7};
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    two_best_block(row, price, j, idx0, a);
    two_best_block(row, price, j + 4, idx1, b);
    idx0 += step;
    idx1 += step;
  }
  TwoBest best{kInf, kInf, -1, -1};
  for (const TopTwoLanes* lanes : {&a, &b}) {
    for (int l = 0; l < 4; ++l) {
      offer(best, lanes->m1[l], static_cast<int64_t>(lanes->i1[l]));
      offer(best, lanes->m2[l], static_cast<int64_t>(lanes->i2[l]));
    }
  }
  if (j == cols) return best;
  const TwoBest tail = two_best_short(row + j, price + j, cols - j);
  offer(best, tail.first, j + tail.first_col);
  offer(best, tail.second, j + tail.second_col);
  return best;
}

// Column minima of four columns at j, over all rows, kept in registers: on a short row, row-by-row updates
// of colmin in memory would wait on store-to-load forwarding from the row before.
COORDEXP_AVX2_INLINE void column_minima_block(const double* c, int64_t rows, int64_t cols, int64_t j,
                                              double* colmin, int64_t* argmin) {
  d4 m = load_d4(c + j);
  i4 am = {0, 0, 0, 0};
  for (int64_t i = 1; i < rows; ++i) {
    const d4 x = load_d4(c + i * cols + j);
    const i4 lower = x < m, rowv = {i, i, i, i};
    m = lower ? x : m;
    am = lower ? rowv : am;
  }
  store(colmin + j, m);
  store(argmin + j, am);
}

__attribute__((target("avx2"))) void column_minima_avx2(const double* c, int64_t rows, int64_t cols,
                                                        double* colmin, int64_t* argmin) {
  const int64_t vec_cols = cols & ~int64_t{3};
  column_minima_tail(c, rows, cols, vec_cols, colmin, argmin);
  if (cols <= 64) {  // whole columns at a time (the matrix is small, every row is in cache)
    for (int64_t j = 0; j < vec_cols; j += 4) column_minima_block(c, rows, cols, j, colmin, argmin);
  } else {  // row by row, the cost rows streamed in order
    for (int64_t j = 0; j < vec_cols; ++j) {
      colmin[j] = c[j];
      argmin[j] = 0;
    }
    for (int64_t i = 1; i < rows; ++i) {
      const double* row = c + i * cols;
      const i4 rowv = {i, i, i, i};
      for (int64_t j = 0; j < vec_cols; j += 4) {
        const d4 x = load_d4(row + j), m = load_d4(colmin + j);
        const i4 lower = x < m;
        store(colmin + j, lower ? x : m);
        store(argmin + j, lower ? rowv : load_i4(argmin + j));
      }
    }
  }
}

__attribute__((target("avx2"))) bool all_valid_avx2(const double* p, int64_t n, double rejected) {
  const d4 bad = {rejected, rejected, rejected, rejected};
  i4 ok = {-1, -1, -1, -1};
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const d4 x = load_d4(p + k);
    ok &= (x == x) & (x != bad);
  }
  return (ok[0] & ok[1] & ok[2] & ok[3]) != 0 && all_valid_portable(p + k, n - k, rejected);
}

const Kernels kAvx2{relax_row_avx2,     first_reached_avx2, two_best_avx2,
                    column_minima_avx2, all_valid_avx2,     "avx2"};
#endif

}  // namespace

const Kernels& portable_kernels() {
  return kPortable;
}

const Kernels& best_kernels() {
#ifdef COORDEXP_ROW_SCAN_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return kAvx2;
#endif
  return kPortable;
}

}  // namespace coordexp::row_scan
