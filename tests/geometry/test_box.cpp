// Box geometry on plain doubles: hand-computed values, conversions round-trip, degenerate boxes finite.
#include <gtest/gtest.h>

#include <cmath>

#include "coordexp/geometry/box.hpp"

namespace coordexp {
namespace {

TEST(Box, ConversionsRoundTrip) {
  const BoxXYXY b{0.1, 0.2, 0.5, 0.9};
  const BoxCXCYWH c = box_xyxy_to_cxcywh(b);
  EXPECT_DOUBLE_EQ(c.cx, 0.3);
  EXPECT_DOUBLE_EQ(c.cy, 0.55);
  EXPECT_DOUBLE_EQ(c.w, 0.4);
  EXPECT_DOUBLE_EQ(c.h, 0.7);
  const BoxXYXY back = box_cxcywh_to_xyxy(c);
  EXPECT_NEAR(back.x1, b.x1, 1e-15);
  EXPECT_NEAR(back.y2, b.y2, 1e-15);
}

TEST(Box, IoUAndGIoUHandComputed) {
  const BoxXYXY a{0, 0, 2, 2}, b{1, 1, 3, 3};
  // intersection 1, union 7, hull 9: giou = 1/7 - 2/9
  EXPECT_DOUBLE_EQ(box_iou(a, b), 1.0 / 7);
  EXPECT_DOUBLE_EQ(box_giou(a, b), 1.0 / 7 - 2.0 / 9);
  const BoxXYXY far{4, 0, 5, 1};
  // disjoint: iou 0, hull [0,0,5,2] = 10, union 5
  EXPECT_DOUBLE_EQ(box_iou(a, far), 0);
  EXPECT_DOUBLE_EQ(box_giou(a, far), -0.5);
  EXPECT_DOUBLE_EQ(box_giou(a, a), 1);
}

TEST(Box, DegenerateBoxesAreFinite) {
  const BoxXYXY point{0.5, 0.5, 0.5, 0.5}, line{0.1, 0.5, 0.9, 0.5}, box{0, 0, 1, 1};
  for (const auto& [x, y] :
       {std::pair{point, point}, {point, line}, {line, line}, {point, box}, {line, box}}) {
    EXPECT_TRUE(std::isfinite(box_iou(x, y)));
    EXPECT_TRUE(std::isfinite(box_giou(x, y)));
    EXPECT_GE(box_giou(x, y), -1);
    EXPECT_LE(box_giou(x, y), 1);
  }
  EXPECT_EQ(box_iou(point, point), 0);        // empty union
  EXPECT_EQ(box_giou(point, point), 0);       // empty hull: giou = iou
  EXPECT_EQ(box_giou(point, box), -1 + 1.0);  // hull == box == union: penalty 0, iou 0
}

TEST(Box, LegalizeOrdersCorners) {
  const BoxXYXY b = legalize_box({0.9, 0.1, 0.2, 0.8});
  EXPECT_EQ(b, (BoxXYXY{0.2, 0.1, 0.9, 0.8}));
  EXPECT_EQ(box_area({0.9, 0.1, 0.2, 0.8}), 0);  // an inverted box has no area
}

TEST(Box, MatricesAreRowMajor) {
  const std::vector<BoxXYXY> a{{0, 0, 1, 1}, {0, 0, 2, 2}};
  const std::vector<BoxXYXY> b{{0, 0, 1, 1}, {1, 1, 2, 2}, {5, 5, 6, 6}};
  const auto iou = box_iou_matrix(a, b);
  ASSERT_EQ(iou.size(), 6u);
  EXPECT_DOUBLE_EQ(iou[0 * 3 + 0], 1);
  EXPECT_DOUBLE_EQ(iou[1 * 3 + 0], 0.25);
  EXPECT_DOUBLE_EQ(iou[1 * 3 + 1], 0.25);
  const auto giou = box_giou_matrix(a, b);
  EXPECT_DOUBLE_EQ(giou[0 * 3 + 2], box_giou(a[0], b[2]));
  EXPECT_DOUBLE_EQ(box_l1_distance(a[0], a[1]), 2);
}

}  // namespace
}  // namespace coordexp
