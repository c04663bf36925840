// linear_sum_assignment against brute force (every permutation), against scipy's results, and on the
// edge cases of the contract: rectangular both ways, empty, ties, negative and large values, +inf
// forbidden pairs, NaN and -inf rejected.
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

// Minimum over all injective maps of the smaller side into the larger.
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

void expect_valid(const Assignment& a, int n, int m) {
  ASSERT_EQ(a.rows.size(), static_cast<size_t>(std::min(n, m)));
  ASSERT_EQ(a.cols.size(), a.rows.size());
  EXPECT_TRUE(std::is_sorted(a.rows.begin(), a.rows.end()));
  std::vector<int64_t> r = a.rows, c = a.cols;
  std::sort(c.begin(), c.end());
  EXPECT_EQ(std::adjacent_find(r.begin(), r.end()), r.end());
  EXPECT_EQ(std::adjacent_find(c.begin(), c.end()), c.end());
  for (auto x : a.rows) EXPECT_TRUE(x >= 0 && x < n);
  for (auto x : a.cols) EXPECT_TRUE(x >= 0 && x < m);
}

TEST(LinearAssignment, MatchesBruteForceOnSmallRandomMatrices) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> size(1, 6);
  std::uniform_int_distribution<int> small_int(-3, 3);  // many ties
  std::normal_distribution<double> gauss(0, 100);
  for (int trial = 0; trial < 600; ++trial) {
    const int n = size(rng), m = size(rng);
    std::vector<double> c(n * m);
    for (auto& x : c) x = trial % 2 ? small_int(rng) : gauss(rng);
    const Assignment a = linear_sum_assignment(c, n, m);
    expect_valid(a, n, m);
    EXPECT_NEAR(a.total_cost, brute_force_min(c, n, m), 1e-9) << "trial " << trial << " " << n << "x" << m;
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
}

TEST(LinearAssignment, WrongSizeIsRejected) {
  const std::vector<double> c = {1, 2, 3};
  EXPECT_THROW(linear_sum_assignment(c, 2, 2), InputError);
}

TEST(LinearAssignment, LargeAndNegativeValues) {
  const std::vector<double> c = {1e15, -1e15, 3e14, -2e15, 5, 7, 0, 1e-300, -1e300};
  const Assignment a = linear_sum_assignment(c, 3, 3);
  expect_valid(a, 3, 3);
  EXPECT_DOUBLE_EQ(a.total_cost, brute_force_min(c, 3, 3));
}

TEST(LinearAssignment, AllEqualCostsGiveIdentity) {
  const std::vector<double> c(16, 2.5);
  const Assignment a = linear_sum_assignment(c, 4, 4);
  EXPECT_DOUBLE_EQ(a.total_cost, 10);
  expect_valid(a, 4, 4);
}

// scipy.optimize.linear_sum_assignment, run by the system python on the same matrices, is the reference
// for larger sizes (its assignments, not only its totals, must agree on matrices with a unique optimum).
TEST(LinearAssignment, AgreesWithScipy) {
  const std::string script = std::string(COORDEXP_SOURCE_DIR) + "/tests/matching/ref/scipy_lsa.py";
  const std::string dir = std::string(COORDEXP_BINARY_DIR) + "/tests";
  const std::string in = dir + "/lsa_cases.txt", out = dir + "/lsa_scipy.txt";
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unif(-10, 10);
  struct Case {
    int n, m;
    std::vector<double> c;
  };
  std::vector<Case> cases;
  for (auto [n, m] :
       std::vector<std::pair<int, int>>{{50, 50}, {30, 80}, {80, 30}, {200, 200}, {1, 40}, {40, 1}}) {
    Case k{n, m, std::vector<double>(n * m)};
    for (auto& x : k.c) x = unif(rng);
    cases.push_back(std::move(k));
  }
  {
    std::ofstream f(in);
    f.precision(17);
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
    const Assignment a = linear_sum_assignment(k.c, k.n, k.m);
    EXPECT_NEAR(a.total_cost, total, 1e-9 * std::max(1.0, std::abs(total))) << k.n << "x" << k.m;
    EXPECT_EQ(a.rows, rows) << k.n << "x" << k.m;
    EXPECT_EQ(a.cols, cols) << k.n << "x" << k.m;
  }
}

}  // namespace
}  // namespace coordexp
