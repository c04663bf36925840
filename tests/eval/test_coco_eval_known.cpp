// Hand-computed COCO bbox results, written as literals: each test works out the PR curve by hand and
// pins one pycocotools behaviour (stable ties, image order, crowd, id 0, maxDets, area bounds, ...).
#include <gtest/gtest.h>

#include <cfloat>

#include "eval_test_util.hpp"

namespace coordexp {
namespace {

using test::CaseBuilder;
constexpr double kTol = 1e-12;
// Stat positions in COCOeval.stats.
enum { AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl };

void expect_stats(const std::array<double, 12>& got, const std::array<double, 12>& want) {
  for (size_t i = 0; i < 12; ++i) EXPECT_NEAR(got[i], want[i], kTol) << "stat " << i;
}

TEST(CocoEvalKnown, PerfectDetectionOfOneSmallBox) {
  auto r =
      CaseBuilder().image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9).run();
  expect_stats(r.summary.stats, {1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1});
}

TEST(CocoEvalKnown, FalsePositiveRankedFirstHalvesPrecision) {
  // Sorted: FP, TP -> rc = [0, 1], pr = [0, .5], envelope [.5, .5]: every recall point reads 0.5.
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(1, 1, 1, {0, 0, 10, 10})
               .det(1, 1, {50, 50, 10, 10}, .9)
               .det(1, 1, {0, 0, 10, 10}, .8)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 0.5, kTol);
  EXPECT_NEAR(r.summary.stats[AR1], 0.0, kTol);  // the single kept detection is the miss
  EXPECT_NEAR(r.summary.stats[AR10], 1.0, kTol);
}

TEST(CocoEvalKnown, IouOf077MatchesSixOfTenThresholds) {
  // IoU = 77 / 100: matched at 0.50 ... 0.75, missed at 0.80 ... 0.95.
  auto r =
      CaseBuilder().image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 7.7}, .9).run();
  EXPECT_NEAR(r.summary.stats[AP], 0.6, kTol);
  EXPECT_NEAR(r.summary.stats[AP50], 1.0, kTol);
  EXPECT_NEAR(r.summary.stats[AP75], 1.0, kTol);
  EXPECT_NEAR(r.summary.stats[AR100], 0.6, kTol);
}

TEST(CocoEvalKnown, CrowdRegionAbsorbsManyDetectionsWhichAreIgnored) {
  // d1, d2 lie inside the crowd region (IoU = intersection / detection area = 1 although their IoU is
  // tiny) and outrank the hit d3: they are ignored, so the hit has precision 1. The miss d4 comes last.
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(1, 1, 1, {0, 0, 10, 10})
               .box(2, 1, 1, {50, 50, 100, 100}, -1, true)
               .det(1, 1, {60, 60, 10, 10}, .95)
               .det(1, 1, {70, 70, 10, 10}, .94)
               .det(1, 1, {0, 0, 10, 10}, .9)
               .det(1, 1, {300, 300, 10, 10}, .6)
               .run();
  expect_stats(r.summary.stats, {1, 1, 1, 1, -1, -1, 0, 1, 1, 1, -1, -1});
  // The same boxes without the crowd flag: two false positives first -> precision 1/3 at the hit, and
  // the large box (area 10000) is never found.
  auto plain = CaseBuilder()
                   .image(1)
                   .category(1)
                   .box(1, 1, 1, {0, 0, 10, 10})
                   .box(2, 1, 1, {50, 50, 100, 100})
                   .det(1, 1, {60, 60, 10, 10}, .95)
                   .det(1, 1, {70, 70, 10, 10}, .94)
                   .det(1, 1, {0, 0, 10, 10}, .9)
                   .run();
  EXPECT_NEAR(plain.summary.stats[APs], 1.0 / (3.0 + DBL_EPSILON), kTol);
  EXPECT_NEAR(plain.summary.stats[APl], 0.0, kTol);
  EXPECT_NEAR(plain.summary.stats[AR100], 0.5, kTol);
}

TEST(CocoEvalKnown, ScoreTiesKeepFileOrder) {
  // All scores equal: stable order is file order FP, TP, TP -> pr = [0, 1/2, 2/(3+eps)], envelope 2/3.
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(1, 1, 1, {0, 0, 10, 10})
               .box(2, 1, 1, {100, 100, 10, 10})
               .det(1, 1, {50, 50, 10, 10}, .5)
               .det(1, 1, {0, 0, 10, 10}, .5)
               .det(1, 1, {100, 100, 10, 10}, .5)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 2.0 / 3.0, kTol);
  auto miss_last = CaseBuilder()
                       .image(1)
                       .category(1)
                       .box(1, 1, 1, {0, 0, 10, 10})
                       .box(2, 1, 1, {100, 100, 10, 10})
                       .det(1, 1, {0, 0, 10, 10}, .5)
                       .det(1, 1, {100, 100, 10, 10}, .5)
                       .det(1, 1, {50, 50, 10, 10}, .5)
                       .run();
  EXPECT_NEAR(miss_last.summary.stats[AP], 1.0, kTol);
}

TEST(CocoEvalKnown, TiesAcrossImagesFollowSortedImageIds) {
  // Image 7 is listed and detected first, but image 3 sorts first: its miss precedes the hit -> AP 0.5.
  auto r = CaseBuilder()
               .image(7)
               .image(3)
               .category(1)
               .box(1, 7, 1, {0, 0, 10, 10})
               .det(7, 1, {0, 0, 10, 10}, .5)
               .det(3, 1, {0, 0, 10, 10}, .5)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 0.5, kTol);
}

TEST(CocoEvalKnown, AnnotationIdZeroNeverCountsAsTruePositive) {
  // dtMatches stores the GT id, and 0 reads as "unmatched": the perfect detection is a false positive.
  auto r =
      CaseBuilder().image(1).category(1).box(0, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9).run();
  EXPECT_NEAR(r.summary.stats[AP], 0.0, kTol);
  EXPECT_NEAR(r.summary.stats[AR100], 0.0, kTol);
}

TEST(CocoEvalKnown, MaxDetsCapsDetectionsPerImage) {
  CaseBuilder c;
  c.image(1).category(1).box(1, 1, 1, {0, 0, 10, 10});
  for (int i = 0; i < 10; ++i) c.det(1, 1, {200.0 + 20 * i, 200, 10, 10}, 0.9 - 0.01 * i);
  c.det(1, 1, {0, 0, 10, 10}, 0.1);  // the hit is the 11th detection
  auto r = c.run();
  EXPECT_NEAR(r.summary.stats[AR1], 0.0, kTol);
  EXPECT_NEAR(r.summary.stats[AR10], 0.0, kTol);
  EXPECT_NEAR(r.summary.stats[AR100], 1.0, kTol);
  // Precision at 1/11: pr = [0 x 10, 1/(11+eps)] -> AP = 1/11 (up to eps).
  EXPECT_NEAR(r.summary.stats[AP], 1.0 / 11.0, kTol);
}

TEST(CocoEvalKnown, CategoryWithoutGtIsMinusOneAndLeftOutOfMeans) {
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .category(2)
               .box(1, 1, 1, {0, 0, 10, 10})
               .det(1, 1, {0, 0, 10, 10}, .9)
               .det(1, 2, {0, 0, 10, 10}, .9)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 1.0, kTol);
  ASSERT_EQ(r.summary.per_category.size(), 2u);
  EXPECT_NEAR(r.summary.per_category[0].ap, 1.0, kTol);
  EXPECT_EQ(r.summary.per_category[1].ap, -1.0);
}

TEST(CocoEvalKnown, ClassAgnosticPoolsCategoriesPerImage) {
  // Two GT boxes of categories 1 and 2; the detections carry each other's label. With categories: no
  // true positive and a full-precision FP for each category (AP 0). Pooled (useCats = 0): both boxes
  // are found, AP 1; a detection of a category absent from the GT stays dropped; the caps count
  // detections per image over all categories (AR@1 = 1/2).
  auto builder = CaseBuilder()
                     .image(1)
                     .category(1)
                     .category(2)
                     .box(1, 1, 1, {0, 0, 10, 10})
                     .box(2, 1, 2, {50, 50, 20, 20})
                     .det(1, 2, {0, 0, 10, 10}, .9)
                     .det(1, 1, {50, 50, 20, 20}, .8)
                     .det(1, 7, {80, 80, 5, 5}, .95);
  const auto with_cats = builder.run();
  EXPECT_NEAR(with_cats.summary.stats[AP], 0.0, kTol);
  CocoEvalOptions agnostic;
  agnostic.params.use_cats = false;
  const auto pooled = builder.run(agnostic);
  expect_stats(pooled.summary.stats, {1, 1, 1, 1, -1, -1, 0.5, 1, 1, 1, -1, -1});
  ASSERT_EQ(pooled.summary.per_category.size(), 1u);
  EXPECT_EQ(pooled.summary.per_category[0].category_id, -1);
  EXPECT_NEAR(pooled.summary.per_category[0].ap, 1.0, kTol);
  EXPECT_EQ(pooled.summary.counts.dt_dropped_unknown_category, 1);
  // the one-call form the trainer and the ablation tool use gives the same numbers
  const auto direct = summarize_coco_class_agnostic(parse_coco_dataset(builder.gt.dump(), "gt.json"),
                                                    parse_detection_results(builder.dt.dump(), "dt.json"));
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(direct.stats[i], pooled.summary.stats[i]) << "stat " << i;
  // a label alternative repeats a written box under another label: pooled, it would be a false positive
  // at a higher score than the second box (AP50 0.83); the one-call form leaves it out
  auto with_alt = builder;
  with_alt.det(1, 1, {0, 0, 10, 10}, .85);
  with_alt.dt.back()["label_rank"] = 1;
  const auto alt_pooled = with_alt.run(agnostic);
  EXPECT_LT(alt_pooled.summary.stats[1], 0.9);
  const auto alt_direct =
      summarize_coco_class_agnostic(parse_coco_dataset(with_alt.gt.dump(), "gt.json"),
                                    parse_detection_results(with_alt.dt.dump(), "dt.json"));
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(alt_direct.stats[i], pooled.summary.stats[i]) << "stat " << i;
}

TEST(CocoEvalKnown, DetectionsOnUnknownCategoriesAreDropped) {
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(1, 1, 1, {0, 0, 10, 10})
               .det(1, 99, {0, 0, 10, 10}, .95)
               .det(1, 1, {0, 0, 10, 10}, .9)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 1.0, kTol);
  EXPECT_EQ(r.summary.counts.dt_dropped_unknown_category, 1);
  EXPECT_EQ(r.summary.counts.dt_used, 1);
}

TEST(CocoEvalKnown, AreaBoundsAreInclusive) {
  // area 1024 = 32^2 is both small and medium.
  auto r =
      CaseBuilder().image(1).category(1).box(1, 1, 1, {0, 0, 32, 32}).det(1, 1, {0, 0, 32, 32}, .9).run();
  EXPECT_NEAR(r.summary.stats[APs], 1.0, kTol);
  EXPECT_NEAR(r.summary.stats[APm], 1.0, kTol);
  EXPECT_EQ(r.summary.stats[APl], -1.0);
}

TEST(CocoEvalKnown, GtAreaComesFromTheAreaFieldNotTheBox) {
  // A 10x10 box whose "area" says 5000 is medium; the matched detection (area 100) counts there.
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(1, 1, 1, {0, 0, 10, 10}, 5000)
               .det(1, 1, {0, 0, 10, 10}, .9)
               .run();
  EXPECT_EQ(r.summary.stats[APs], -1.0);
  EXPECT_NEAR(r.summary.stats[APm], 1.0, kTol);
}

TEST(CocoEvalKnown, EmptyResultsGiveZerosWhereGtExists) {
  auto r = CaseBuilder().image(1).image(2).category(1).box(1, 1, 1, {0, 0, 10, 10}).run();
  expect_stats(r.summary.stats, {0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1});
}

TEST(CocoEvalKnown, NoGtAtAllGivesMinusOneEverywhere) {
  auto r = CaseBuilder().image(1).category(1).det(1, 1, {0, 0, 10, 10}, .9).run();
  for (double s : r.summary.stats) EXPECT_EQ(s, -1.0);
}

TEST(CocoEvalKnown, DuplicateAnnotationIdsResolveToTheLastAnnotation) {
  // Both entries have id 5; COCO.anns keeps the second, so the GT list holds box B twice.
  auto r = CaseBuilder()
               .image(1)
               .category(1)
               .box(5, 1, 1, {0, 0, 10, 10})
               .box(5, 1, 1, {100, 100, 10, 10})
               .det(1, 1, {0, 0, 10, 10}, .9)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 0.0, kTol);
  EXPECT_EQ(r.summary.counts.gt_duplicate_ids, 1);
}

TEST(CocoEvalKnown, IouThresholdsAndRecallPointsAreNumpysLinspace) {
  const auto t = coco_iou_thresholds();
  ASSERT_EQ(t.size(), 10u);
  // repr() of numpy 1.24's values: note 0.8999999999999999, not 0.9.
  const double numpy_values[10] = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95};
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(t[i], numpy_values[i]) << i;
  const auto r = coco_recall_thresholds();
  ASSERT_EQ(r.size(), 101u);
  EXPECT_EQ(r[100], 1.0);
  EXPECT_EQ(r[3], 3 * 0.01);
}

TEST(CocoEvalKnown, BboxIouMatchesMaskApi) {
  EXPECT_DOUBLE_EQ(coco_bbox_iou({0, 0, 10, 10}, {5, 0, 10, 10}, false), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(coco_bbox_iou({0, 0, 10, 10}, {5, 0, 10, 10}, true), 50.0 / 100.0);
  EXPECT_EQ(coco_bbox_iou({0, 0, 0, 10}, {0, 0, 10, 10}, false), 0.0);   // zero width
  EXPECT_EQ(coco_bbox_iou({10, 0, 5, 5}, {0, 0, 10, 10}, false), 0.0);   // touching edges
  EXPECT_EQ(coco_bbox_iou({0, 0, -5, 10}, {0, 0, 10, 10}, false), 0.0);  // negative width
}

TEST(CocoEvalKnown, SummaryTableHasPycocotoolsLayout) {
  auto r =
      CaseBuilder().image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9).run();
  const std::string table = format_coco_summary_table(r.summary, CocoEvalParams{});
  EXPECT_NE(table.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n"),
            std::string::npos)
      << table;
}

TEST(CocoEvalKnown, IgnoreFieldIsOverwrittenByIscrowd) {
  // pycocotools' _prepare sets gt["ignore"] = iscrowd: a non-crowd box flagged "ignore" is a normal box
  // (the hit is a true positive, AP 1), and a crowd box is ignored whatever its flag says.
  CaseBuilder c;
  c.image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9);
  c.gt["annotations"][0]["ignore"] = 1;
  EXPECT_NEAR(c.run().summary.stats[0], 1.0, 1e-12);
  CaseBuilder crowd;
  crowd.image(1).category(1).box(1, 1, 1, {0, 0, 10, 10}, -1, true).det(1, 1, {0, 0, 10, 10}, .9);
  crowd.gt["annotations"][0]["ignore"] = 0;
  EXPECT_EQ(crowd.run().summary.stats[0], -1);
}

TEST(CocoEvalKnown, ThreadCountDoesNotChangeResults) {
  CaseBuilder c;
  c.image(1).image(2);
  for (int k = 1; k <= 5; ++k) {
    c.category(k).box(k, 1, k, {0, 0, 10.0 * k, 10}).box(10 + k, 2, k, {5, 5, 20, 20});
    c.det(1, k, {1, 0, 10.0 * k, 10}, .3 * k).det(2, k, {5, 6, 20, 19}, .2).det(2, k, {0, 0, 5, 5}, .7);
  }
  CocoEvalOptions one, many;
  one.num_threads = 1;
  many.num_threads = 4;
  auto a = c.run(one), b = c.run(many);
  EXPECT_EQ(a.acc.precision, b.acc.precision);
  EXPECT_EQ(a.summary.stats, b.summary.stats);
}

}  // namespace
}  // namespace coordexp
