// Axis-aligned box geometry on plain doubles (no torch): conversions, area, IoU, GIoU, legalisation.
// Boxes named *_xyxy are (x1, y1, x2, y2) corners; *_cxcywh are (centre x, centre y, width, height).
// Degenerate boxes (zero area) give finite values, never NaN: an empty union gives IoU 0 and an empty
// enclosing box gives GIoU = IoU (there is no enclosing area to penalise).
#pragma once

#include <span>
#include <vector>

namespace coordexp {

struct BoxXYXY {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  bool operator==(const BoxXYXY&) const = default;
};

struct BoxCXCYWH {
  double cx = 0, cy = 0, w = 0, h = 0;
};

BoxCXCYWH box_xyxy_to_cxcywh(const BoxXYXY& b);
BoxXYXY box_cxcywh_to_xyxy(const BoxCXCYWH& b);

// Width and height are clamped at 0, so an inverted box has area 0.
double box_area(const BoxXYXY& b);
double box_intersection_area(const BoxXYXY& a, const BoxXYXY& b);
double box_iou(const BoxXYXY& a, const BoxXYXY& b);
double box_giou(const BoxXYXY& a, const BoxXYXY& b);

// Orders corners so x1 <= x2 and y1 <= y2 (min/max), the rule applied to predicted boxes before the loss.
BoxXYXY legalize_box(const BoxXYXY& b);

// Row-major [a.size() x b.size()] matrices.
std::vector<double> box_iou_matrix(std::span<const BoxXYXY> a, std::span<const BoxXYXY> b);
std::vector<double> box_giou_matrix(std::span<const BoxXYXY> a, std::span<const BoxXYXY> b);

// Sum over the four coordinates of |a - b|.
double box_l1_distance(const BoxXYXY& a, const BoxXYXY& b);

}  // namespace coordexp
