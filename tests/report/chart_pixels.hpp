// Test helpers that read a rendered chart back from its pixels alone: the plot frame, tick marks, the
// legend box and its swatches, a series' curve column by column, and bars. They know the chart's style (ink
// and legend-border colours, where swatches sit in the legend box) but use none of the chart code, so a
// wrong mapping or layout shows up as wrong pixels.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/report/plot_config.hpp"

namespace coordexp::chart_pixels {

constexpr RgbColor kInk{40, 40, 40};              // frame, tick marks, tick labels, legend text, zero line
constexpr RgbColor kLegendBorder{190, 190, 190};  // the legend box's outline

inline bool is_dark(RgbColor p) {
  return std::max({p.r, p.g, p.b}) < 130;
}

// How much of `colour` a pixel holds when the colour was blended over white: 1 for the pure colour, 0 for
// white and for any pixel that is not such a blend (grid lines, other series, text).
inline double coverage(RgbColor p, RgbColor colour) {
  const int pc[3] = {p.r, p.g, p.b}, cc[3] = {colour.r, colour.g, colour.b};
  int best = 0;  // the channel furthest from white gives the best estimate
  for (int i = 1; i < 3; ++i)
    if (cc[i] < cc[best]) best = i;
  if (cc[best] > 200) return 0;
  const double a = (255.0 - pc[best]) / (255.0 - cc[best]);
  if (a < 0 || a > 1.05) return 0;
  for (int i = 0; i < 3; ++i)
    if (std::fabs(pc[i] - (a * cc[i] + (1 - a) * 255)) > 12) return 0;
  return std::min(a, 1.0);
}

// Pixel rectangle, inclusive on all sides; left < 0 means "not found".
struct PixelBox {
  int left = -1, top = -1, right = -1, bottom = -1;
  bool found() const { return left >= 0; }
  bool contains(int x, int y) const { return found() && x >= left && x <= right && y >= top && y <= bottom; }
};

struct PixelRun {
  int start = 0, length = 0;
};

inline PixelRun longest_run_in_column(const ImageRGB8& im, int x, RgbColor c) {
  PixelRun best, cur;
  for (int y = 0; y < im.height(); ++y) {
    if (im.at(x, y) == c)
      cur = cur.length ? PixelRun{cur.start, cur.length + 1} : PixelRun{y, 1};
    else
      cur = {};
    if (cur.length > best.length) best = cur;
  }
  return best;
}

inline PixelRun longest_run_in_row(const ImageRGB8& im, int y, RgbColor c) {
  PixelRun best, cur;
  for (int x = 0; x < im.width(); ++x) {
    if (im.at(x, y) == c)
      cur = cur.length ? PixelRun{cur.start, cur.length + 1} : PixelRun{x, 1};
    else
      cur = {};
    if (cur.length > best.length) best = cur;
  }
  return best;
}

// The outermost columns holding a vertical run of `c` at least `min_col_run` long, and the outermost rows
// holding a horizontal run at least `min_row_run` long.
inline PixelBox find_outline(const ImageRGB8& im, RgbColor c, int min_col_run, int min_row_run) {
  PixelBox box;
  for (int x = 0; x < im.width(); ++x)
    if (longest_run_in_column(im, x, c).length >= min_col_run) {
      if (box.left < 0) box.left = x;
      box.right = x;
    }
  for (int y = 0; y < im.height(); ++y)
    if (longest_run_in_row(im, y, c).length >= min_row_run) {
      if (box.top < 0) box.top = y;
      box.bottom = y;
    }
  if (box.top < 0 || box.left < 0) return {};
  return box;
}

// The frame around the plot area: the pixel columns of its left (y axis) and right lines and the rows of
// its top and bottom (x axis) lines, found as ink runs over a third of the picture.
inline PixelBox find_plot_frame(const ImageRGB8& im) {
  return find_outline(im, kInk, im.height() / 3, im.width() / 3);
}

// The plot area's mapping from a fraction of the axis range to pixel coordinates (pixel x covers
// [x, x + 1)): the area starts just inside the left and top frame lines and ends at the right and bottom
// ones.
inline double x_fraction_to_px(const PixelBox& frame, double t) {
  return frame.left + 1 + t * (frame.right - frame.left - 1);
}
inline double y_fraction_to_px(const PixelBox& frame, double t) {
  return frame.bottom - t * (frame.bottom - frame.top - 1);
}

// Rows of the y axis's tick marks, or (x_axis) columns of the x axis's: three ink pixels in a line just
// outside the axis line.
inline std::vector<int> tick_marks(const ImageRGB8& im, const PixelBox& frame, bool x_axis) {
  std::vector<int> at;
  const int from = x_axis ? frame.left : frame.top + 1, to = x_axis ? frame.right : frame.bottom - 1;
  for (int i = from; i <= to; ++i) {
    bool tick = true;
    for (int d = 1; d <= 3; ++d)
      tick &= x_axis ? im.at(i, frame.bottom + d) == kInk : im.at(frame.left - d, i) == kInk;
    if (tick) at.push_back(i);
  }
  return at;
}

inline int count_dark(const ImageRGB8& im, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = std::max(0, y0); y <= std::min(im.height() - 1, y1); ++y)
    for (int x = std::max(0, x0); x <= std::min(im.width() - 1, x1); ++x) n += is_dark(im.at(x, y));
  return n;
}

inline PixelBox find_legend_box(const ImageRGB8& im) {
  return find_outline(im, kLegendBorder, 15, 40);
}

// What the legend shows, read down the column through the middle of its swatches (line swatches span
// 8..30 px from the box's left edge, filled squares 13..25): each run of a pure palette colour is one
// entry, with its palette index and centre row.
struct LegendRead {
  PixelBox box;
  std::vector<int> palette_index;
  std::vector<double> row;
};

inline LegendRead read_legend(const ImageRGB8& im) {
  LegendRead legend;
  legend.box = find_legend_box(im);
  if (!legend.box.found()) return legend;
  const int x = legend.box.left + 19;
  const std::vector<RgbColor>& palette = plot_palette();
  int run_colour = -1, run_start = 0;
  for (int y = legend.box.top + 1; y <= legend.box.bottom; ++y) {  // the border row ends the last run
    int colour = -1;
    for (std::size_t k = 0; k < palette.size() && y < legend.box.bottom; ++k)
      if (im.at(x, y) == palette[k]) colour = static_cast<int>(k);
    if (colour == run_colour) continue;
    if (run_colour >= 0) {
      legend.palette_index.push_back(run_colour);
      legend.row.push_back((run_start + y) / 2.0);  // centre of rows [run_start, y), pixel coordinates
    }
    run_colour = colour, run_start = y;
  }
  return legend;
}

// For each picture column inside the frame, the centre (in pixel coordinates, +0.5) of the pixels that
// hold `colour`, weighted by coverage; NaN where the column has none and outside the frame. Pixels inside
// `skip` (e.g. the legend box) are ignored.
inline std::vector<double> trace_curve(const ImageRGB8& im, RgbColor colour, const PixelBox& frame,
                                       const PixelBox& skip = {}) {
  std::vector<double> rows(im.width(), std::numeric_limits<double>::quiet_NaN());
  for (int x = frame.left + 1; x < frame.right; ++x) {
    double weight = 0, sum = 0;
    for (int y = frame.top + 1; y < frame.bottom; ++y) {
      const double a = coverage(im.at(x, y), colour);
      if (a < 0.35 || skip.contains(x, y)) continue;
      weight += a, sum += a * (y + 0.5);
    }
    if (weight > 0) rows[x] = sum / weight;
  }
  return rows;
}

// The traced curve at a fraction `t` of the x range: the mean over the column there and its neighbours.
inline double curve_at(const std::vector<double>& rows, const PixelBox& frame, double t) {
  const int x = static_cast<int>(std::floor(x_fraction_to_px(frame, t)));
  double sum = 0;
  int n = 0;
  for (int i = x - 1; i <= x + 1; ++i)
    if (i >= 0 && i < static_cast<int>(rows.size()) && !std::isnan(rows[i])) sum += rows[i], ++n;
  return n ? sum / n : std::numeric_limits<double>::quiet_NaN();
}

// A bar: its pixel columns, its pure-colour rows and its top and bottom edges (pixel coordinates, with the
// partly covered rows beyond the pure ones counted by coverage), measured a quarter of the way in from its
// left edge, clear of an error bar at the centre.
struct Bar {
  int first_col = 0, last_col = 0, top_row = 0, bottom_row = 0;
  double top_edge = 0, bottom_edge = 0;
  double centre() const { return (first_col + last_col + 1) / 2.0; }
};

// The bars of one colour inside the frame, left to right: runs of columns holding at least three pixels
// of the pure colour.
inline std::vector<Bar> find_bars(const ImageRGB8& im, RgbColor colour, const PixelBox& frame) {
  auto pure_rows = [&](int x) {
    int n = 0;
    for (int y = frame.top + 1; y < frame.bottom; ++y) n += im.at(x, y) == colour;
    return n;
  };
  std::vector<Bar> bars;
  for (int x = frame.left + 1; x < frame.right; ++x) {
    if (pure_rows(x) < 3) continue;
    int end = x;
    while (end + 1 < frame.right && pure_rows(end + 1) >= 3) ++end;
    Bar bar{x, end, -1, -1};
    const int mx = x + (end - x) / 4;
    for (int y = frame.top + 1; y < frame.bottom; ++y)
      if (im.at(mx, y) == colour) {
        if (bar.top_row < 0) bar.top_row = y;
        bar.bottom_row = y;
      }
    bar.top_edge = bar.top_row - coverage(im.at(mx, bar.top_row - 1), colour);
    bar.bottom_edge = bar.bottom_row + 1 + coverage(im.at(mx, bar.bottom_row + 1), colour);
    if (end - x >= 2) bars.push_back(bar);
    x = end;
  }
  return bars;
}

}  // namespace coordexp::chart_pixels
