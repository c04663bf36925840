// The solver's row scans (src/matching/row_scan.hpp, an internal header): the AVX2 form must return exactly
// what the portable form returns, on every length (vector blocks and scalar tails), with ties, +inf costs,
// settled columns (price -inf) and NaN, so that the CPU never changes an assignment. Skipped where the CPU
// has no AVX2 (then only the portable form runs).
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "../../src/matching/row_scan.hpp"

namespace coordexp::row_scan {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Costs with many ties and some +inf, prices with some -inf (settled columns).
struct Row {
  std::vector<double> cost, price, penalty, dist;
  std::vector<int64_t> pred;
};

Row random_row(int64_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> level(0, 6), coin(0, 9);
  Row r{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n), std::vector<double>(n),
        std::vector<int64_t>(n)};
  for (int64_t j = 0; j < n; ++j) {
    r.cost[j] = coin(rng) == 0 ? kInf : level(rng) * 0.5;
    r.price[j] = coin(rng) == 0 ? -kInf : -level(rng) * 0.25;
    r.penalty[j] = coin(rng) < 3 ? 0 : kInf;
    r.dist[j] = coin(rng) == 0 ? kInf : level(rng) * 0.5;
    r.pred[j] = level(rng);
  }
  return r;
}

class RowScanParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (&best_kernels() == &portable_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
  }
  const Kernels& fast_ = best_kernels();
  const Kernels& ref_ = portable_kernels();
};

TEST_F(RowScanParity, RelaxRow) {
  std::mt19937_64 rng(31);
  for (int64_t n = 0; n < 70; ++n) {
    for (int trial = 0; trial < 40; ++trial) {
      const Row r = random_row(n, rng);
      for (bool first : {false, true}) {
        Row a = r, b = r;
        const RelaxResult x = fast_.relax_row(a.cost.data(), 9, 0.25, a.price.data(), a.penalty.data(),
                                              a.dist.data(), a.pred.data(), n, first);
        const RelaxResult y = ref_.relax_row(b.cost.data(), 9, 0.25, b.price.data(), b.penalty.data(),
                                             b.dist.data(), b.pred.data(), n, first);
        EXPECT_EQ(x.lowest, y.lowest) << n;
        EXPECT_EQ(x.lowest_free, y.lowest_free) << n;
        if (y.lowest < kInf) {
          EXPECT_EQ(x.first_col, y.first_col) << n;
          EXPECT_EQ(x.last_col, y.last_col) << n;
        }
        EXPECT_EQ(a.dist, b.dist) << n;
        EXPECT_EQ(a.pred, b.pred) << n;
        if (y.lowest < kInf && x.first_col != x.last_col) {
          EXPECT_EQ(fast_.first_reached(a.dist.data(), a.pred.data(), y.lowest, n),
                    ref_.first_reached(b.dist.data(), b.pred.data(), y.lowest, n))
              << n;
        }
      }
    }
  }
}

TEST_F(RowScanParity, TwoBestAndColumnMinima) {
  std::mt19937_64 rng(32);
  for (int64_t n = 0; n < 90; ++n) {
    for (int trial = 0; trial < 40; ++trial) {
      Row r = random_row(n, rng);
      for (auto& p : r.price) p = p == -kInf ? 0 : p;  // the reductions run with finite prices
      const TwoBest x = fast_.two_best(r.cost.data(), r.price.data(), n);
      const TwoBest y = ref_.two_best(r.cost.data(), r.price.data(), n);
      EXPECT_EQ(x.first, y.first) << n;
      EXPECT_EQ(x.second, y.second) << n;
      EXPECT_EQ(x.first_col, y.first_col) << n;
      EXPECT_EQ(x.second_col, y.second_col) << n;
      if (n == 0) continue;
      const int64_t rows = 1 + trial % 5, cols = n;  // a [rows x cols] matrix of tied costs and +inf
      std::vector<double> c;
      for (int64_t i = 0; i < rows; ++i) {
        const Row row = random_row(cols, rng);
        c.insert(c.end(), row.cost.begin(), row.cost.end());
      }
      std::vector<double> ma(cols), mb(cols);
      std::vector<int64_t> aa(cols), ab(cols);
      fast_.column_minima(c.data(), rows, cols, ma.data(), aa.data());
      ref_.column_minima(c.data(), rows, cols, mb.data(), ab.data());
      EXPECT_EQ(ma, mb) << n;
      EXPECT_EQ(aa, ab) << n;
    }
  }
}

TEST_F(RowScanParity, AllValid) {
  for (int64_t n = 0; n < 40; ++n) {
    std::vector<double> p(n, 1.0);
    EXPECT_TRUE(fast_.all_valid(p.data(), n, -kInf));
    for (int64_t k = 0; k < n; ++k) {
      for (double bad : {std::numeric_limits<double>::quiet_NaN(), -kInf}) {
        p[k] = bad;
        EXPECT_FALSE(fast_.all_valid(p.data(), n, -kInf)) << n << " " << k;
        EXPECT_FALSE(ref_.all_valid(p.data(), n, -kInf)) << n << " " << k;
        p[k] = kInf;  // the allowed infinity
        EXPECT_TRUE(fast_.all_valid(p.data(), n, -kInf)) << n << " " << k;
        p[k] = 1.0;
      }
    }
  }
}

}  // namespace
}  // namespace coordexp::row_scan
