// Shape geometry of the OpenShapes dataset: each shape kind as exact outlines in pixel coordinates, its
// analytic bounding box, and a point-inside test. Pixel (i, j) covers [i, i+1] x [j, j+1]; a shape's size is
// the diameter of its circumscribed circle, so its box is at most size x size. Rendering lives in synth.cpp.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/geometry/box.hpp"

namespace coordexp {

enum class ShapeKind {
  kShapeCircle,
  kShapeSquare,
  kShapeTriangle,
  kShapeStar,
  kShapeHexagon,
  kShapeCross,
  kShapeRing,
  kShapeDiamond,
  kShapePentagon,
  kShapeArrow,
};
inline constexpr int kNumShapeKinds = 10;

// "circle", "square", ... (the word used in category names).
std::string_view shape_kind_name(ShapeKind kind);
// Inverse of shape_kind_name; throws InputError naming the unknown word.
ShapeKind parse_shape_kind(std::string_view name);
// Largest random rotation (radians, symmetric) that keeps the shape recognisable as its kind (a square
// turned 45 degrees would read as a diamond).
double shape_max_rotation(ShapeKind kind);

struct ShapePoint {
  double x = 0, y = 0;
};

// A placed shape. Circles and rings are exact circles (radius / inner_radius); other kinds are one simple
// polygon (possibly concave: star, cross, arrow).
struct ShapeGeometry {
  ShapeKind kind = ShapeKind::kShapeCircle;
  double cx = 0, cy = 0;            // centre, pixels
  double size = 0;                  // circumscribed diameter, pixels
  double rotation = 0;              // radians, clockwise on screen (y points down)
  double radius = 0;                // outer radius (circle, ring)
  double inner_radius = 0;          // hole radius (ring), else 0
  std::vector<ShapePoint> polygon;  // vertices in order (polygon kinds), empty for circles
};

ShapeGeometry make_shape(ShapeKind kind, double cx, double cy, double size, double rotation);
// The exact axis-aligned bounds of the shape's filled area (not clipped to any image).
BoxXYXY shape_bounds(const ShapeGeometry& shape);
// The exact bounds of the part of the shape inside [0, width] x [0, height]: not the same as clipping
// shape_bounds (a star cut by the right edge may lose its lowest tip). All zeros if nothing is inside.
BoxXYXY shape_bounds_in_image(const ShapeGeometry& shape, double width, double height);
// Whether point (x, y) lies inside the filled area (even-odd rule; a ring's hole is outside).
bool shape_contains(const ShapeGeometry& shape, double x, double y);

}  // namespace coordexp
