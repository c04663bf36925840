// Greedy one-to-one F1: hand-computed counts.
#include <gtest/gtest.h>

#include "coordexp/eval/detection_f1.hpp"
#include "eval_test_util.hpp"

namespace coordexp {
namespace {

TEST(DetectionF1, CountsTruePositivesFalsePositivesAndMisses) {
  test::CaseBuilder c;
  c.image(1)
      .category(1)
      .category(2)
      .box(1, 1, 1, {0, 0, 10, 10})
      .box(2, 1, 1, {100, 100, 10, 10})
      .box(3, 1, 2, {50, 50, 10, 10})
      .det(1, 1, {0, 0, 10, 10}, 1)      // TP
      .det(1, 1, {0, 0, 10, 10}, 1)      // duplicate: FP (one-to-one)
      .det(1, 1, {0, 0, 10, 7.7}, 1)     // IoU .77 with box 1 (taken): FP
      .det(1, 2, {100, 100, 10, 10}, 1)  // wrong category: FP
      ;
  const auto g = parse_coco_dataset(c.gt.dump(), "gt.json");
  const auto d = parse_detection_results(c.dt.dump(), "dt.json");
  const auto r = evaluate_detection_f1(g, d);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].true_positives, 1);
  EXPECT_EQ(r[0].false_positives, 3);
  EXPECT_EQ(r[0].false_negatives, 2);
  EXPECT_DOUBLE_EQ(r[0].precision, 0.25);
  EXPECT_DOUBLE_EQ(r[0].recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r[0].f1, 2 * 0.25 / 3.0 / (0.25 + 1.0 / 3.0));
  DetectionF1Options agnostic;
  agnostic.class_aware = false;
  const auto ra = evaluate_detection_f1(g, d, agnostic);
  EXPECT_EQ(ra[0].true_positives, 2);  // the wrong-category box now finds box 2
}

TEST(DetectionF1, CrowdRegionsIgnoreDetectionsAndAreNotMisses) {
  test::CaseBuilder c;
  c.image(1).category(1).box(1, 1, 1, {0, 0, 100, 100}, -1, true).det(1, 1, {10, 10, 5, 5}, 1);
  const auto r = evaluate_detection_f1(parse_coco_dataset(c.gt.dump(), "gt.json"),
                                       parse_detection_results(c.dt.dump(), "dt.json"));
  EXPECT_EQ(r[0].ignored, 1);
  EXPECT_EQ(r[0].false_positives, 0);
  EXPECT_EQ(r[0].false_negatives, 0);
  EXPECT_EQ(r[0].f1, 0.0);
}

TEST(DetectionF1, StricterThresholdTurnsLooseBoxesIntoErrors) {
  test::CaseBuilder c;
  c.image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 7.7}, 1);
  DetectionF1Options options;
  options.iou_thresholds = {0.5, 0.8};
  const auto r = evaluate_detection_f1(parse_coco_dataset(c.gt.dump(), "gt.json"),
                                       parse_detection_results(c.dt.dump(), "dt.json"), options);
  EXPECT_EQ(r[0].f1, 1.0);  // IoU .77 >= .5
  EXPECT_EQ(r[1].f1, 0.0);  // IoU .77 < .8: one FP and one miss
  EXPECT_EQ(r[1].false_positives, 1);
  EXPECT_EQ(r[1].false_negatives, 1);
}

}  // namespace
}  // namespace coordexp
