// The loss table: the total is the weighted sum of the terms; with data-parallel denominators each rank's
// total is its share of the global batch's loss (the sum over two "ranks" equals the loss of the merged
// batch); the schedule ramps exactly the named terms; bad weights and unknown names are errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "coordexp/loss/loss_terms.hpp"
#include "coordexp/loss/set_criterion.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

torch::Tensor scalar(double v) {
  return torch::tensor(v, torch::kDouble);
}

TEST(LossTerms, TotalIsTheWeightedSumAndSkipsEmptyTerms) {
  LossTerms t;
  t.add("text_ce", scalar(2.0), 10, 1.0);
  t.add("l1", scalar(0.5), 4, 5.0);
  t.add("giou", scalar(0.25), 0, 2.0);  // nothing to average: adds nothing
  EXPECT_DOUBLE_EQ(t.total().item<double>(), 2.0 + 5.0 * 0.5);
  EXPECT_TRUE(t.finite());
  EXPECT_EQ(t.denominators().at("l1"), 4);
  EXPECT_NE(t.describe().find("l1=0.5 (w 5)"), std::string::npos) << t.describe();
}

// Two ranks with different token counts: the sum of the rank totals under the global denominators is the
// mean over the merged batch, and the shares of the logged terms sum to the merged term.
TEST(LossTerms, DataParallelSharesSumToTheGlobalBatch) {
  // rank 0: 3 tokens of CE 1, 2, 3; rank 1: 1 token of CE 10
  LossTerms r0, r1;
  r0.add("text_ce", scalar(2.0), 3, 1.0);
  r1.add("text_ce", scalar(10.0), 1, 1.0);
  const std::map<std::string, double> global{{"text_ce", 4}};
  const double merged = (1 + 2 + 3 + 10) / 4.0;
  EXPECT_DOUBLE_EQ(r0.total(global).item<double>() + r1.total(global).item<double>(), merged);
  EXPECT_DOUBLE_EQ(
      r0.shares(global).value("text_ce").item<double>() + r1.shares(global).value("text_ce").item<double>(),
      merged);
  // a rank without any token contributes nothing, not a NaN
  LossTerms empty;
  empty.add("text_ce", scalar(0.0), 0, 1.0);
  EXPECT_EQ(empty.total(global).item<double>(), 0.0);
}

TEST(LossTerms, ScheduleRampsOnlyTheCoordinateTerms) {
  const LossSchedule ramp = SetCriterion::coordinate_ramp(100);
  auto table = [] {
    LossTerms t;
    t.add("text_ce", scalar(1.0), 1, 1.0);
    t.add("coord_ce", scalar(1.0), 1, 1.0);
    t.add("l1", scalar(1.0), 1, 5.0);
    t.add("giou", scalar(1.0), 1, 2.0);
    t.add("grounding", scalar(1.0), 1, 3.0);
    return t;
  };
  for (int64_t step : {0, 25, 99, 100, 500}) {
    LossTerms t = table();
    ramp.apply(t, step);
    const double f = step >= 100 ? 1.0 : step / 100.0;
    EXPECT_DOUBLE_EQ(t.at("text_ce").weight, 1.0);
    EXPECT_DOUBLE_EQ(t.at("grounding").weight, 3.0);
    EXPECT_DOUBLE_EQ(t.at("coord_ce").weight, f);
    EXPECT_DOUBLE_EQ(t.at("l1").weight, 5.0 * f);
    EXPECT_DOUBLE_EQ(t.at("giou").weight, 2.0 * f);
    EXPECT_DOUBLE_EQ(t.total().item<double>(), 1.0 + 3.0 + 8.0 * f);
  }
  LossTerms t = table();
  SetCriterion::coordinate_ramp(0).apply(t, 0);  // no ramp
  EXPECT_DOUBLE_EQ(t.at("l1").weight, 5.0);
}

TEST(LossTerms, BadWeightsUnknownNamesAndNonFiniteTerms) {
  LossTerms t;
  EXPECT_THROW(t.add("l1", scalar(1), 1, -1.0), InputError);
  EXPECT_THROW(t.add("l1", scalar(1), 1, std::nan("")), InputError);
  EXPECT_THROW(t.total(), InputError);  // nothing to sum
  t.add("text_ce", scalar(1), 1, 1.0);
  try {
    t.at("gioux");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("gioux"), std::string::npos) << e.what();
  }
  t.add("l1", scalar(std::nan("")), 0, 1.0);  // skipped by the total, still reported as non-finite
  EXPECT_TRUE(std::isfinite(t.total().item<double>()));
  EXPECT_FALSE(t.finite());
}

TEST(LossTerms, GradientsFlowThroughTheWeights) {
  auto a = torch::tensor(1.5, torch::dtype(torch::kDouble).requires_grad(true));
  auto b = torch::tensor(0.5, torch::dtype(torch::kDouble).requires_grad(true));
  LossTerms t;
  t.add("text_ce", a * a, 2, 1.0);
  t.add("l1", b * 3, 2, 5.0);
  SetCriterion::coordinate_ramp(10).apply(t, 5);  // l1 at half weight
  t.total().backward();
  EXPECT_DOUBLE_EQ(a.grad().item<double>(), 3.0);
  EXPECT_DOUBLE_EQ(b.grad().item<double>(), 5.0 * 0.5 * 3);
}

}  // namespace
}  // namespace coordexp
