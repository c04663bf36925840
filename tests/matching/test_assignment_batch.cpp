// linear_sum_assignment_batch: the same Assignment as one call per matrix, whatever the number of threads,
// for a mix of shapes (empty, wide, tall, square, tied costs, forbidden pairs); the first bad matrix is
// named.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <thread>

#include "coordexp/matching/linear_assignment.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// forbidden: the infinity that marks a forbidden pair (+inf to minimize, -inf to maximize).
std::vector<std::vector<double>> mixed_matrices(std::vector<std::pair<int, int>>& shapes, double forbidden) {
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int> size(0, 40), tied(0, 5);
  std::uniform_real_distribution<double> unif(0, 1);
  std::vector<std::vector<double>> costs;
  for (int k = 0; k < 120; ++k) {
    const int n = k < 60 ? 100 : size(rng), m = k < 60 ? 20 : size(rng);  // DETR-style first, then anything
    std::vector<double> c(n * m);
    for (auto& x : c) x = k % 3 == 0 ? tied(rng) : unif(rng);
    if (k % 7 == 0 && n > 1 && m > 1) c[0] = forbidden;
    shapes.push_back({n, m});
    costs.push_back(std::move(c));
  }
  return costs;
}

TEST(AssignmentBatch, EqualsSingleCallsOnAnyNumberOfThreads) {
  for (bool maximize : {false, true}) {
    std::vector<std::pair<int, int>> shapes;
    const auto costs = mixed_matrices(shapes, maximize ? -kInf : kInf);
    std::vector<CostMatrixView> views;
    for (size_t k = 0; k < costs.size(); ++k) views.push_back({costs[k], shapes[k].first, shapes[k].second});
    std::vector<Assignment> single;
    for (const auto& v : views)
      single.push_back(linear_sum_assignment(v.cost, v.num_rows, v.num_cols, maximize));
    for (int threads : {1, 2, 3, 0}) {
      const std::vector<Assignment> batch = linear_sum_assignment_batch(views, threads, maximize);
      ASSERT_EQ(batch.size(), single.size());
      for (size_t k = 0; k < single.size(); ++k) {
        EXPECT_EQ(batch[k].rows, single[k].rows) << "matrix " << k << ", " << threads << " threads";
        EXPECT_EQ(batch[k].cols, single[k].cols) << "matrix " << k << ", " << threads << " threads";
        EXPECT_EQ(batch[k].total_cost, single[k].total_cost) << "matrix " << k;
      }
    }
  }
  EXPECT_TRUE(linear_sum_assignment_batch({}, 2).empty());
}

// The worker pool is shared by the process: batches from several threads at once still equal single calls.
TEST(AssignmentBatch, ConcurrentBatchesFromSeveralThreads) {
  std::vector<std::pair<int, int>> shapes;
  const auto costs = mixed_matrices(shapes, kInf);
  std::vector<CostMatrixView> views;
  for (size_t k = 0; k < costs.size(); ++k) views.push_back({costs[k], shapes[k].first, shapes[k].second});
  std::vector<Assignment> single;
  for (const auto& v : views) single.push_back(linear_sum_assignment(v.cost, v.num_rows, v.num_cols));
  std::vector<std::vector<Assignment>> results(4);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) results[t] = linear_sum_assignment_batch(views, 1 + t % 3);
    });
  }
  for (auto& c : callers) c.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), single.size());
    for (size_t k = 0; k < single.size(); ++k) EXPECT_EQ(r[k].cols, single[k].cols) << "matrix " << k;
  }
}

TEST(AssignmentBatch, FirstBadMatrixIsNamed) {
  // Large enough (6 x 150 x 150 entries) that two threads are used.
  std::vector<std::vector<double>> costs(6, std::vector<double>(150 * 150, 1.0));
  costs[4][5] = std::numeric_limits<double>::quiet_NaN();
  costs[2][157] = -kInf;
  std::vector<CostMatrixView> views;
  for (const auto& c : costs) views.push_back({c, 150, 150});
  for (int threads : {1, 2}) {
    try {
      linear_sum_assignment_batch(views, threads);
      FAIL() << "bad matrices accepted";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("matrices[2]: ", 0), 0u) << msg;
      EXPECT_NE(msg.find("cost[1][7]"), std::string::npos) << msg;
    }
  }
  costs[2][157] = 1.0;
  costs[4][5] = 1.0;
  std::fill(costs[3].begin() + 150, costs[3].begin() + 300, kInf);  // row 1 of matrix 3: no allowed pair
  EXPECT_THROW(linear_sum_assignment_batch(views, 2), InputError);
}

}  // namespace
}  // namespace coordexp
