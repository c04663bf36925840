// Recognition of localised detections: hand-counted label and word agreement.
#include <gtest/gtest.h>

#include "coordexp/eval/label_accuracy.hpp"
#include "eval_test_util.hpp"

namespace coordexp {
namespace {

TEST(LabelAccuracy, CountsLabelsAndWordsOfTheDetectionsThatFoundABox) {
  test::CaseBuilder c;
  c.image(1).category(1).category(2).category(3).category(4);
  c.gt["categories"][0]["name"] = "red star";
  c.gt["categories"][1]["name"] = "blue star";
  c.gt["categories"][2]["name"] = "red circle";
  c.gt["categories"][3]["name"] = "small red star";
  c.box(1, 1, 1, {0, 0, 10, 10})                   // A: red star
      .box(2, 1, 3, {50, 50, 10, 10})              // B: red circle
      .box(3, 1, 1, {200, 200, 40, 40}, -1, true)  // a crowd region: never a pairing target
      .det(1, 1, {0, 0, 10, 10}, .9)               // on A, right: both words right
      .det(1, 2, {50, 50, 10, 10}, .9)             // on B as "blue star": both words wrong
      .det(1, 3, {0, 0, 10, 7.7}, .9)              // on A at IoU .77 as "red circle": colour right
      .det(1, 1, {300, 300, 10, 10}, .9)           // on nothing
      .det(1, 4, {0, 0, 10, 10}, .9)               // on A as "small red star": words 1, 2 differ
      .det(1, 1, {200, 200, 40, 40}, .9)           // on the crowd region only: not localised
      .det(2, 1, {0, 0, 10, 10}, .9);              // an image the GT lacks: not counted
  const auto g = parse_coco_dataset(c.gt.dump(), "gt.json");
  const auto d = parse_detection_results(c.dt.dump(), "dt.json");
  const LabelAccuracy a = evaluate_label_accuracy(g, d);
  EXPECT_EQ(a.detections, 6);
  EXPECT_EQ(a.localised, 4);
  EXPECT_EQ(a.label_right, 1);
  EXPECT_DOUBLE_EQ(a.label_accuracy(), 0.25);
  ASSERT_EQ(a.word_compared, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(a.word_right, (std::vector<int64_t>{2, 1}));
  EXPECT_DOUBLE_EQ(a.word_accuracy(0), 0.5);
  EXPECT_DOUBLE_EQ(a.word_accuracy(2), 0.0);  // never compared
  EXPECT_EQ(format_label_accuracy(a),
            "localised 4 of 6 detections (IoU >= 0.5 with a ground-truth box of any category): label right "
            "25.0%; word 1 right 50.0%, word 2 right 25.0%");
  // a stricter threshold drops the IoU .77 detection
  const LabelAccuracy strict = evaluate_label_accuracy(g, d, 0.8);
  EXPECT_EQ(strict.localised, 3);
  EXPECT_EQ(strict.word_right, (std::vector<int64_t>{1, 1}));
}

TEST(LabelAccuracy, CountsTheWrittenLabelOnly) {
  test::CaseBuilder c;
  c.image(1).category(1).category(2);
  c.box(1, 1, 1, {0, 0, 10, 10}).det(1, 2, {0, 0, 10, 10}, .9).det(1, 1, {0, 0, 10, 10}, .5);
  c.dt[1]["label_rank"] = 1;  // the same box under its second label: not what the model wrote
  const LabelAccuracy a = evaluate_label_accuracy(parse_coco_dataset(c.gt.dump(), "gt.json"),
                                                  parse_detection_results(c.dt.dump(), "dt.json"));
  EXPECT_EQ(a.detections, 1);
  EXPECT_EQ(a.localised, 1);
  EXPECT_EQ(a.label_right, 0);
}

TEST(LabelAccuracy, NothingToCountGivesZeros) {
  test::CaseBuilder c;
  c.image(1).category(1);
  const auto g = parse_coco_dataset(c.gt.dump(), "gt.json");
  const auto d = parse_detection_results(c.dt.dump(), "dt.json");
  const LabelAccuracy a = evaluate_label_accuracy(g, d);
  EXPECT_EQ(a.detections, 0);
  EXPECT_EQ(a.localised, 0);
  EXPECT_EQ(a.label_accuracy(), 0.0);
  EXPECT_TRUE(a.word_compared.empty());
}

}  // namespace
}  // namespace coordexp
