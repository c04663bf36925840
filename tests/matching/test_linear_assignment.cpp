// linear_sum_assignment against brute force (every permutation), against scipy's results on random, tied and
// structured matrices, and on the edge cases of the contract: rectangular both ways, empty, ties, negative
// and large values, +inf forbidden pairs, rows or columns with no allowed pair, NaN and -inf rejected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include "coordexp/matching/linear_assignment.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Minimum over all injective maps of the smaller side into the larger (+inf if every map uses a +inf pair).
double brute_force_min(const std::vector<double>& c, int n, int m) {
  const bool t = n > m;
  const int small = t ? m : n, big = t ? n : m;
  std::vector<int> cols(big);
  std::iota(cols.begin(), cols.end(), 0);
  double best = kInf;
  do {
    double s = 0;
    for (int i = 0; i < small; ++i) s += t ? c[cols[i] * m + i] : c[i * m + cols[i]];
    best = std::min(best, s);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

void expect_valid(const Assignment& a, const std::vector<double>& c, int n, int m) {
  ASSERT_EQ(a.rows.size(), static_cast<size_t>(std::min(n, m)));
  ASSERT_EQ(a.cols.size(), a.rows.size());
  EXPECT_TRUE(std::is_sorted(a.rows.begin(), a.rows.end()));
  std::vector<int64_t> r = a.rows, k = a.cols;
  std::sort(k.begin(), k.end());
  EXPECT_EQ(std::adjacent_find(r.begin(), r.end()), r.end());
  EXPECT_EQ(std::adjacent_find(k.begin(), k.end()), k.end());
  double total = 0;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    ASSERT_TRUE(a.rows[i] >= 0 && a.rows[i] < n);
    ASSERT_TRUE(a.cols[i] >= 0 && a.cols[i] < m);
    total += c[a.rows[i] * m + a.cols[i]];
  }
  EXPECT_EQ(total, a.total_cost);
}

TEST(LinearAssignment, MatchesBruteForceOnSmallRandomMatrices) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> size(1, 6);
  std::uniform_int_distribution<int> small_int(-3, 3);  // many ties
  std::normal_distribution<double> gauss(0, 100);
  for (int trial = 0; trial < 1500; ++trial) {
    const int n = size(rng), m = size(rng);
    std::vector<double> c(n * m);
    for (auto& x : c) x = trial % 3 == 0 ? gauss(rng) : small_int(rng);
    const Assignment a = linear_sum_assignment(c, n, m);
    expect_valid(a, c, n, m);
    EXPECT_NEAR(a.total_cost, brute_force_min(c, n, m), 1e-9) << "trial " << trial << " " << n << "x" << m;
  }
}

// Random +inf entries: the optimum avoids them, and a matrix whose every full assignment needs one is an
// error.
TEST(LinearAssignment, ForbiddenPairsMatchBruteForce) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int> size(1, 6), small_int(0, 4);
  std::bernoulli_distribution forbidden(0.3);
  int infeasible = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const int n = size(rng), m = size(rng);
    std::vector<double> c(n * m);
    for (auto& x : c) x = forbidden(rng) ? kInf : small_int(rng);
    const double best = brute_force_min(c, n, m);
    if (best == kInf) {
      ++infeasible;
      EXPECT_THROW(linear_sum_assignment(c, n, m), InputError) << "trial " << trial;
      continue;
    }
    const Assignment a = linear_sum_assignment(c, n, m);
    expect_valid(a, c, n, m);
    EXPECT_EQ(a.total_cost, best) << "trial " << trial << " " << n << "x" << m;
  }
  EXPECT_GT(infeasible, 50);  // the infeasible branch was exercised
}

TEST(LinearAssignment, MaximizeMatchesBruteForce) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> size(1, 6), small_int(-2, 2);
  for (int trial = 0; trial < 500; ++trial) {
    const int n = size(rng), m = size(rng);
    std::vector<double> c(n * m), negated(n * m);
    for (int k = 0; k < n * m; ++k) negated[k] = -(c[k] = small_int(rng));
    const Assignment a = linear_sum_assignment(c, n, m, /*maximize=*/true);
    expect_valid(a, c, n, m);
    EXPECT_EQ(a.total_cost, -brute_force_min(negated, n, m)) << "trial " << trial;
  }
}

TEST(LinearAssignment, EmptySides) {
  EXPECT_TRUE(linear_sum_assignment({}, 0, 5).rows.empty());
  EXPECT_TRUE(linear_sum_assignment({}, 4, 0).rows.empty());
  EXPECT_TRUE(linear_sum_assignment({}, 0, 0).rows.empty());
}

TEST(LinearAssignment, TallMatrixReportsSortedOriginalRows) {
  // 3 x 2: rows 2 and 0 are cheapest for columns 0 and 1.
  const std::vector<double> c = {9, 1,  //
                                 5, 5,  //
                                 1, 9};
  const Assignment a = linear_sum_assignment(c, 3, 2);
  EXPECT_EQ(a.rows, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(a.cols, (std::vector<int64_t>{1, 0}));
  EXPECT_DOUBLE_EQ(a.total_cost, 2);
}

TEST(LinearAssignment, MaximizeFlipsObjective) {
  const std::vector<double> c = {1, 5, 3, 4};
  const Assignment a = linear_sum_assignment(c, 2, 2, /*maximize=*/true);
  EXPECT_DOUBLE_EQ(a.total_cost, 8);
  EXPECT_EQ(a.cols, (std::vector<int64_t>{1, 0}));
}

TEST(LinearAssignment, InfinityIsForbidden) {
  const std::vector<double> c = {kInf, 1, 2, kInf};
  const Assignment a = linear_sum_assignment(c, 2, 2);
  EXPECT_EQ(a.cols, (std::vector<int64_t>{1, 0}));
  EXPECT_DOUBLE_EQ(a.total_cost, 3);
}

TEST(LinearAssignment, InfeasibleIsAnError) {
  const std::vector<double> c = {kInf, 1, kInf, 2};  // both rows can only use column 1
  EXPECT_THROW(linear_sum_assignment(c, 2, 2), InputError);
}

// A row (or, for a tall matrix, a column) whose every pair is forbidden has no finite assignment.
TEST(LinearAssignment, AllForbiddenRowOrColumnIsAnError) {
  const std::vector<double> square = {1,    2,    3,     //
                                      kInf, kInf, kInf,  //
                                      4,    5,    6};
  EXPECT_THROW(linear_sum_assignment(square, 3, 3), InputError);
  const std::vector<double> wide = {1,    2,    3,    4,  //
                                    kInf, kInf, kInf, kInf};
  EXPECT_THROW(linear_sum_assignment(wide, 2, 4), InputError);
  const std::vector<double> tall = {1, kInf,  //
                                    2, kInf,  //
                                    3, kInf};
  try {
    linear_sum_assignment(tall, 3, 2);
    FAIL() << "infeasible tall matrix accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("infeasible"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("column 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(linear_sum_assignment(std::vector<double>(12, kInf), 3, 4), InputError);
  // In a tall matrix a forbidden row is simply left out.
  const std::vector<double> tall_ok = {1,    5,     //
                                       kInf, kInf,  //
                                       7,    2};
  const Assignment a = linear_sum_assignment(tall_ok, 3, 2);
  EXPECT_EQ(a.rows, (std::vector<int64_t>{0, 2}));
  EXPECT_DOUBLE_EQ(a.total_cost, 3);
}

TEST(LinearAssignment, NaNAndMinusInfAreRejectedWithTheirPosition) {
  std::vector<double> c = {1, 2, 3, std::nan("")};
  try {
    linear_sum_assignment(c, 2, 2);
    FAIL() << "NaN accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cost[1][1]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
  c[3] = -kInf;
  EXPECT_THROW(linear_sum_assignment(c, 2, 2), InputError);
  // Positions are the caller's, also for a tall matrix (solved transposed) and past the vectorised blocks.
  std::vector<double> tall(19 * 3, 1.0);
  tall[17 * 3 + 2] = -kInf;
  try {
    linear_sum_assignment(tall, 19, 3);
    FAIL() << "-inf accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cost[17][2]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("-inf"), std::string::npos) << e.what();
  }
  // With maximize, +inf is the rejected infinity and -inf the forbidden pair.
  const std::vector<double> m = {1, -kInf, 2, kInf};
  try {
    linear_sum_assignment(m, 2, 2, /*maximize=*/true);
    FAIL() << "+inf accepted when maximizing";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cost[1][1]"), std::string::npos) << e.what();
  }
  const Assignment a = linear_sum_assignment(std::vector<double>{1, -kInf, 2, 5}, 2, 2, /*maximize=*/true);
  EXPECT_EQ(a.cols, (std::vector<int64_t>{0, 1}));
}

TEST(LinearAssignment, WrongSizeIsRejected) {
  const std::vector<double> c = {1, 2, 3};
  EXPECT_THROW(linear_sum_assignment(c, 2, 2), InputError);
}

TEST(LinearAssignment, LargeAndNegativeValues) {
  const std::vector<double> c = {1e15, -1e15, 3e14, -2e15, 5, 7, 0, 1e-300, -1e300};
  const Assignment a = linear_sum_assignment(c, 3, 3);
  expect_valid(a, c, 3, 3);
  EXPECT_DOUBLE_EQ(a.total_cost, brute_force_min(c, 3, 3));
}

TEST(LinearAssignment, AllEqualCostsGiveAFullAssignment) {
  for (auto [n, m] : std::vector<std::pair<int, int>>{{4, 4}, {40, 40}, {7, 30}, {30, 7}}) {
    const std::vector<double> c(n * m, 2.5);
    const Assignment a = linear_sum_assignment(c, n, m);
    expect_valid(a, c, n, m);
    EXPECT_DOUBLE_EQ(a.total_cost, 2.5 * std::min(n, m));
  }
}

// Matrices for the scipy comparison. kind: 0 uniform, L > 0 integers 0..L-1 (ties), -1 Euclidean distances,
// -2 low rank (outer product), -3 LAPJV's "hard" integers (random plus row and column offsets), -4 sparse
// +inf (a fifth of the pairs forbidden).
struct Case {
  int n, m, kind;
  std::vector<double> c;
};

Case make_case(int n, int m, int kind, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unif(-10, 10), unit(0, 1);
  Case k{n, m, kind, std::vector<double>(n * m)};
  std::vector<double> a(2 * std::max(n, m)), b(2 * std::max(n, m));
  for (auto& x : a) x = unit(rng);
  for (auto& x : b) x = unit(rng);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      double& x = k.c[i * m + j];
      if (kind > 0) x = std::uniform_int_distribution<int>(0, kind - 1)(rng);
      if (kind == 0) x = unif(rng);
      if (kind == -1) x = std::hypot(a[2 * i] - b[2 * j], a[2 * i + 1] - b[2 * j + 1]);
      if (kind == -2) x = a[i] * b[j];
      if (kind == -3)
        x = std::uniform_int_distribution<int>(1, 100)(rng) + std::floor(100 * a[i] + 100 * b[j]);
      if (kind == -4) x = unit(rng) < 0.2 ? kInf : unif(rng);
    }
  }
  return k;
}

std::vector<Case> scipy_cases() {
  std::mt19937_64 rng(11);
  std::vector<Case> cases;
  const std::vector<std::pair<int, int>> sizes = {{50, 50}, {30, 80}, {80, 30}, {200, 200}, {1, 40}, {40, 1}};
  for (auto [n, m] : sizes) cases.push_back(make_case(n, m, 0, rng));
  for (int kind : {10, 100, 2, -1, -2, -3}) {
    for (auto [n, m] : std::vector<std::pair<int, int>>{{150, 150}, {60, 170}, {170, 60}, {9, 9}}) {
      cases.push_back(make_case(n, m, kind, rng));
    }
  }
  for (auto [n, m] : std::vector<std::pair<int, int>>{{120, 120}, {40, 130}, {130, 40}}) {
    cases.push_back(make_case(n, m, -4, rng));
  }
  return cases;
}

// scipy.optimize.linear_sum_assignment, run by the system python on the same matrices, is the reference for
// larger sizes: the totals must agree on every matrix, the assignments on those with a unique optimum
// (continuous costs).
TEST(LinearAssignment, AgreesWithScipy) {
  const std::string script = std::string(COORDEXP_SOURCE_DIR) + "/tests/matching/ref/scipy_lsa.py";
  const std::string dir = std::string(COORDEXP_BINARY_DIR) + "/tests";
  const std::string in = dir + "/lsa_cases.txt", out = dir + "/lsa_scipy.txt";
  const std::vector<Case> cases = scipy_cases();
  {
    std::ofstream f(in);
    f.precision(17);  // round-trips every double; +inf is written as "inf", which Python's float() reads
    f << cases.size() << "\n";
    for (auto& k : cases) {
      f << k.n << " " << k.m << "\n";
      for (double x : k.c) f << x << " ";
      f << "\n";
    }
  }
  const std::string cmd = "/usr/bin/python3 " + script + " " + in + " " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0)
      << "the scipy reference failed: " << cmd << " (scripts/setup.sh installs python3-scipy)";
  std::ifstream f(out);
  for (auto& k : cases) {
    int len;
    double total;
    f >> len >> total;
    std::vector<int64_t> rows(len), cols(len);
    for (auto& r : rows) f >> r;
    for (auto& c : cols) f >> c;
    const std::string what =
        std::to_string(k.n) + "x" + std::to_string(k.m) + " kind " + std::to_string(k.kind);
    const Assignment a = linear_sum_assignment(k.c, k.n, k.m);
    expect_valid(a, k.c, k.n, k.m);
    EXPECT_NEAR(a.total_cost, total, 1e-9 * std::max(1.0, std::abs(total))) << what;
    if (k.kind == 0 || k.kind == -4) {
      EXPECT_EQ(a.rows, rows) << what;
      EXPECT_EQ(a.cols, cols) << what;
    }
  }
}

}  // namespace
}  // namespace coordexp
