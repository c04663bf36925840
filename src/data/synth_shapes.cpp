// Shape geometry for OpenShapes (see synth_shapes.hpp): unit outlines (circumradius 1, centred, y down),
// scaled, rotated and translated into pixels; bounds from the vertices, which is exact for polygons.
#include "coordexp/data/synth_shapes.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr std::array<std::string_view, kNumShapeKinds> kShapeNames = {
    "circle", "square", "triangle", "star", "hexagon", "cross", "ring", "diamond", "pentagon", "arrow"};

constexpr double kRingHoleRatio = 0.55;   // inner / outer radius: a clearly visible band
constexpr double kStarInnerRatio = 0.45;  // fatter than the geometric 0.382 so small stars stay star-like
constexpr double kCrossArmHalfWidth = 0.34;
constexpr double kDiamondHalfWidth = 0.62;  // a rhombus taller than wide, never a turned square

std::vector<ShapePoint> regular_polygon(int n, double start_angle) {
  std::vector<ShapePoint> pts(n);
  for (int k = 0; k < n; ++k) {
    double a = start_angle + 2.0 * kPi * k / n;
    pts[k] = {std::cos(a), std::sin(a)};
  }
  return pts;
}

std::vector<ShapePoint> unit_outline(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::kShapeSquare:
      return regular_polygon(4, kPi / 4);
    case ShapeKind::kShapeTriangle:
      return regular_polygon(3, -kPi / 2);
    case ShapeKind::kShapeHexagon:
      return regular_polygon(6, 0);
    case ShapeKind::kShapePentagon:
      return regular_polygon(5, -kPi / 2);
    case ShapeKind::kShapeStar: {
      std::vector<ShapePoint> pts(10);
      for (int k = 0; k < 10; ++k) {
        double r = (k % 2 == 0) ? 1.0 : kStarInnerRatio;
        double a = -kPi / 2 + kPi * k / 5;
        pts[k] = {r * std::cos(a), r * std::sin(a)};
      }
      return pts;
    }
    case ShapeKind::kShapeCross: {
      // Arm ends at distance 1 along the axes would put corners outside the unit circle; scale them in.
      const double a = kCrossArmHalfWidth, e = std::sqrt(1.0 - a * a);
      return {{-a, -e}, {a, -e}, {a, -a}, {e, -a}, {e, a},   {a, a},
              {a, e},   {-a, e}, {-a, a}, {-e, a}, {-e, -a}, {-a, -a}};
    }
    case ShapeKind::kShapeDiamond:
      return {{0, -1}, {kDiamondHalfWidth, 0}, {0, 1}, {-kDiamondHalfWidth, 0}};
    case ShapeKind::kShapeArrow:
      return {{-0.97, -0.24}, {0.15, -0.24}, {0.15, -0.66}, {1.0, 0.0},
              {0.15, 0.66},   {0.15, 0.24},  {-0.97, 0.24}};
    case ShapeKind::kShapeCircle:
    case ShapeKind::kShapeRing:
      return {};
  }
  return {};
}

}  // namespace

std::string_view shape_kind_name(ShapeKind kind) {
  return kShapeNames.at(static_cast<int>(kind));
}

ShapeKind parse_shape_kind(std::string_view name) {
  for (int k = 0; k < kNumShapeKinds; ++k)
    if (kShapeNames[k] == name) return static_cast<ShapeKind>(k);
  throw_input_error("shape name",
                    "one of circle, square, triangle, star, hexagon, cross, ring, diamond, "
                    "pentagon, arrow",
                    std::string("\"").append(name).append("\""));
}

double shape_max_rotation(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::kShapeCircle:
    case ShapeKind::kShapeRing:
      return 0.0;
    case ShapeKind::kShapeSquare:
      return 15.0 * kPi / 180;
    case ShapeKind::kShapeDiamond:
      return 10.0 * kPi / 180;
    case ShapeKind::kShapeTriangle:
      return 20.0 * kPi / 180;
    case ShapeKind::kShapeCross:
      return 20.0 * kPi / 180;
    case ShapeKind::kShapeStar:
      return kPi / 5;  // the star repeats every 72 degrees
    case ShapeKind::kShapeHexagon:
      return kPi / 6;  // repeats every 60 degrees
    case ShapeKind::kShapePentagon:
      return kPi / 5;  // repeats every 72 degrees
    case ShapeKind::kShapeArrow:
      return kPi;  // an arrow may point anywhere
  }
  return 0.0;
}

ShapeGeometry make_shape(ShapeKind kind, double cx, double cy, double size, double rotation) {
  ShapeGeometry s;
  s.kind = kind;
  s.cx = cx, s.cy = cy, s.size = size, s.rotation = rotation;
  const double r = size / 2;
  s.radius = r;
  if (kind == ShapeKind::kShapeRing) s.inner_radius = r * kRingHoleRatio;
  const double c = std::cos(rotation), sn = std::sin(rotation);
  for (const ShapePoint& p : unit_outline(kind))
    s.polygon.push_back({cx + r * (c * p.x - sn * p.y), cy + r * (sn * p.x + c * p.y)});
  return s;
}

BoxXYXY shape_bounds(const ShapeGeometry& s) {
  if (s.polygon.empty()) return {s.cx - s.radius, s.cy - s.radius, s.cx + s.radius, s.cy + s.radius};
  BoxXYXY b{s.polygon[0].x, s.polygon[0].y, s.polygon[0].x, s.polygon[0].y};
  for (const ShapePoint& p : s.polygon) {
    b.x1 = std::min(b.x1, p.x), b.y1 = std::min(b.y1, p.y);
    b.x2 = std::max(b.x2, p.x), b.y2 = std::max(b.y2, p.y);
  }
  return b;
}

namespace {

// One Sutherland-Hodgman step: keeps the part of `in` where sign * (coord - limit) >= 0 (coord = x or y).
std::vector<ShapePoint> clip_half_plane(const std::vector<ShapePoint>& in, bool use_x, double limit,
                                        double sign) {
  std::vector<ShapePoint> out;
  const std::size_t n = in.size();
  auto side = [&](const ShapePoint& p) { return sign * ((use_x ? p.x : p.y) - limit); };
  for (std::size_t i = 0; i < n; ++i) {
    const ShapePoint& a = in[i];
    const ShapePoint& b = in[(i + 1) % n];
    const double sa = side(a), sb = side(b);
    if (sa >= 0) out.push_back(a);
    if ((sa >= 0) != (sb >= 0)) {
      const double t = sa / (sa - sb);
      out.push_back({a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)});
    }
  }
  return out;
}

}  // namespace

BoxXYXY shape_bounds_in_image(const ShapeGeometry& s, double width, double height) {
  if (s.polygon.empty()) {
    // A disc (a ring's outer disc has the same extents) cut by the rectangle is convex: its extent along
    // one axis is the disc's chord at the nearest admissible value of the other axis, then clamped.
    auto extent = [&](double c_along, double c_across, double across_max, double limit) {
      const double nearest = std::clamp(c_across, 0.0, across_max);
      const double d = nearest - c_across;
      if (d * d > s.radius * s.radius) return std::pair{0.0, 0.0};
      const double half = std::sqrt(s.radius * s.radius - d * d);
      const double lo = std::max(0.0, c_along - half), hi = std::min(limit, c_along + half);
      return lo < hi ? std::pair{lo, hi} : std::pair{0.0, 0.0};
    };
    auto [x1, x2] = extent(s.cx, s.cy, height, width);
    auto [y1, y2] = extent(s.cy, s.cx, width, height);
    if (x1 >= x2 || y1 >= y2) return {};
    return {x1, y1, x2, y2};
  }
  std::vector<ShapePoint> p = s.polygon;
  p = clip_half_plane(p, true, 0.0, 1.0);
  p = clip_half_plane(p, true, width, -1.0);
  p = clip_half_plane(p, false, 0.0, 1.0);
  p = clip_half_plane(p, false, height, -1.0);
  if (p.empty()) return {};
  ShapeGeometry clipped = s;
  clipped.polygon = std::move(p);
  BoxXYXY b = shape_bounds(clipped);
  if (b.x2 <= b.x1 || b.y2 <= b.y1) return {};
  return b;
}

bool shape_contains(const ShapeGeometry& s, double x, double y) {
  if (s.polygon.empty()) {
    double d2 = (x - s.cx) * (x - s.cx) + (y - s.cy) * (y - s.cy);
    return d2 <= s.radius * s.radius && d2 >= s.inner_radius * s.inner_radius;
  }
  bool inside = false;
  const std::size_t n = s.polygon.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const ShapePoint& a = s.polygon[i];
    const ShapePoint& b = s.polygon[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

}  // namespace coordexp
