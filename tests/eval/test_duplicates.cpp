// Duplicate rate on hand-built detections: same image + same label + IoU over the threshold.
#include <gtest/gtest.h>

#include "coordexp/eval/duplicates.hpp"

namespace coordexp {
namespace {

Detection det(int64_t image, const std::string& desc, double x, double y, double w, double h,
              int64_t cat = 1) {
  Detection d;
  d.image_id = image;
  d.category_id = cat;
  d.description = desc;
  d.bbox = {x, y, w, h};
  return d;
}

TEST(DuplicateRate, CountsBothMembersOfEachNearIdenticalPairOfTheSameLabelAndImage) {
  const std::vector<Detection> d = {
      det(1, "red star", 0, 0, 10, 10),    // duplicate of the next (IoU 0.81)
      det(1, "red star", 0, 0, 10, 8.1),   // IoU = 81 / 100
      det(1, "blue star", 0, 0, 10, 10),   // same box, other label: not a duplicate
      det(2, "red star", 0, 0, 10, 10),    // same box, other image: not a duplicate
      det(1, "red star", 50, 50, 10, 10),  // far away
  };
  EXPECT_DOUBLE_EQ(duplicate_rate(d, 0.8), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(duplicate_rate(d, 0.82), 0.0);
  EXPECT_DOUBLE_EQ(duplicate_rate({}, 0.8), 0.0);
}

TEST(DuplicateRate, LeavesLabelAlternativesOut) {
  std::vector<Detection> d = {det(1, "red star", 0, 0, 10, 10), det(1, "red star", 0, 0, 10, 10),
                              det(1, "blue star", 0, 0, 10, 10), det(1, "red star", 50, 50, 10, 10)};
  EXPECT_DOUBLE_EQ(duplicate_rate(d, 0.8), 2.0 / 4.0);
  d[1].label_rank = 1;  // the written "blue star" box again as "red star": by design, not a duplicate
  EXPECT_DOUBLE_EQ(duplicate_rate(d, 0.8), 0.0);
}

TEST(DuplicateRate, FallsBackToTheCategoryWithoutDescriptions) {
  const std::vector<Detection> d = {det(1, "", 0, 0, 10, 10, 3), det(1, "", 0, 0, 10, 10, 3),
                                    det(1, "", 0, 0, 10, 10, 4)};
  EXPECT_DOUBLE_EQ(duplicate_rate(d, 0.8), 2.0 / 3.0);
}

}  // namespace
}  // namespace coordexp
