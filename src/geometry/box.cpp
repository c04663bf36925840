// Plain-double box geometry; see include/coordexp/geometry/box.hpp for the degenerate-box rules.
#include "coordexp/geometry/box.hpp"

#include <algorithm>
#include <cmath>

namespace coordexp {

BoxCXCYWH box_xyxy_to_cxcywh(const BoxXYXY& b) {
  return {(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, b.x2 - b.x1, b.y2 - b.y1};
}

BoxXYXY box_cxcywh_to_xyxy(const BoxCXCYWH& b) {
  return {b.cx - b.w / 2, b.cy - b.h / 2, b.cx + b.w / 2, b.cy + b.h / 2};
}

double box_area(const BoxXYXY& b) {
  return std::max(0.0, b.x2 - b.x1) * std::max(0.0, b.y2 - b.y1);
}

double box_intersection_area(const BoxXYXY& a, const BoxXYXY& b) {
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  return std::max(0.0, w) * std::max(0.0, h);
}

double box_iou(const BoxXYXY& a, const BoxXYXY& b) {
  const double inter = box_intersection_area(a, b);
  const double uni = box_area(a) + box_area(b) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

double box_giou(const BoxXYXY& a, const BoxXYXY& b) {
  const double inter = box_intersection_area(a, b);
  const double uni = box_area(a) + box_area(b) - inter;
  const double iou = uni > 0 ? inter / uni : 0.0;
  const BoxXYXY hull{std::min(a.x1, b.x1), std::min(a.y1, b.y1), std::max(a.x2, b.x2), std::max(a.y2, b.y2)};
  const double hull_area = box_area(hull);
  return hull_area > 0 ? iou - (hull_area - uni) / hull_area : iou;
}

BoxXYXY legalize_box(const BoxXYXY& b) {
  return {std::min(b.x1, b.x2), std::min(b.y1, b.y2), std::max(b.x1, b.x2), std::max(b.y1, b.y2)};
}

std::vector<double> box_iou_matrix(std::span<const BoxXYXY> a, std::span<const BoxXYXY> b) {
  std::vector<double> out(a.size() * b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j) out[i * b.size() + j] = box_iou(a[i], b[j]);
  return out;
}

std::vector<double> box_giou_matrix(std::span<const BoxXYXY> a, std::span<const BoxXYXY> b) {
  std::vector<double> out(a.size() * b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j) out[i * b.size() + j] = box_giou(a[i], b[j]);
  return out;
}

double box_l1_distance(const BoxXYXY& a, const BoxXYXY& b) {
  return std::abs(a.x1 - b.x1) + std::abs(a.y1 - b.y1) + std::abs(a.x2 - b.x2) + std::abs(a.y2 - b.y2);
}

}  // namespace coordexp
