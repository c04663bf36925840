// Chart tests, read back from the pixels (chart_pixels.hpp): line plots, PR curves and bar charts come out
// at the requested size, with the frame's axis lines and labelled tick marks; curves go up and down where
// their data does, peak at the data's argmax, and map equal ratios to equal distances on a log axis;
// legends show each named series' palette colour in series order at the requested corner; PR curves stop
// at their last recall with data (COCO's -1 not drawn); bar heights are proportional to the values, with
// negative bars below the zero line, no bar for NaN and error bars both sides of the bar top. Awkward data
// (NaN, log of non-positive values, empty input) still draws, with a gap in the line at each skipped point,
// and mismatched lengths are InputErrors that name the series.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "chart_pixels.hpp"
#include "coordexp/report/bar_chart.hpp"
#include "coordexp/report/line_plot.hpp"
#include "coordexp/report/pr_curve.hpp"
#include "coordexp/util/error.hpp"

// Under COORDEXP_SANITIZE, LeakSanitizer reports fontconfig's font-pattern cache, which cairo's toy text
// API fills once per process and never frees (not a leak of ours). LSan reads this hook at exit; in
// ordinary builds it is an unused function.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n";
}

namespace coordexp {
namespace {

using namespace chart_pixels;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int count_colour(const ImageRGB8& im, RgbColor c) {
  int n = 0;
  for (int y = 0; y < im.height(); ++y)
    for (int x = 0; x < im.width(); ++x) n += im.at(x, y) == c;
  return n;
}

// Writes and reads back the picture as a PNG file: the saved file is what users see.
ImageRGB8 through_png_file(const ImageRGB8& im, const std::string& name) {
  std::random_device rd;
  const auto path = std::filesystem::temp_directory_path() / ("coordexp_plot_" + std::to_string(rd()) + name);
  save_png(im, path.string());
  ImageRGB8 back = load_png(path.string());
  std::filesystem::remove(path);
  return back;
}

std::vector<PlotSeries> loss_series() {
  std::vector<PlotSeries> s(2);
  s[0].name = "total";
  s[1].name = "coord";
  for (int i = 0; i <= 300; ++i) {
    s[0].x.push_back(i), s[0].y.push_back(3.0 * std::exp(-i / 80.0) + 0.1);
    s[1].x.push_back(i), s[1].y.push_back(1.0 * std::exp(-i / 60.0) + 0.05);
  }
  return s;
}

// The message of the InputError that `render` throws; empty when it throws none.
std::string input_error_message(const std::function<void()>& render) {
  try {
    render();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// A series sampled at x = 0, 1, ..., 100 from `f`.
PlotSeries sampled(const std::string& name, const std::function<double(double)>& f) {
  PlotSeries s;
  s.name = name;
  for (int i = 0; i <= 100; ++i) s.x.push_back(i), s.y.push_back(f(i));
  return s;
}

// Data x at the centre of picture column `col`, on an x axis configured to span 0..100.
double column_to_x(const PixelBox& frame, int col) {
  return 100.0 * (col + 0.5 - (frame.left + 1)) / (frame.right - frame.left - 1);
}

// A sampled series' y at x, linear between samples as the line is drawn.
double sampled_y(const PlotSeries& s, double x) {
  const int i = std::clamp(static_cast<int>(x), 0, 99);
  return s.y[i] + (x - i) * (s.y[i + 1] - s.y[i]);
}

// Where a traced curve of a sampled series goes the wrong way: between columns 8 apart, the curve must go
// up (smaller row) by over a pixel where the data rises, down by over a pixel where it falls, and stay
// within half a pixel where it is flat. Steps within 4 columns of a kink (data x in `kinks`) are skipped.
struct Disagreements {
  int count = 0;
  std::string first;
};

Disagreements direction_disagreements(const std::vector<double>& rows, const PixelBox& frame,
                                      const PlotSeries& s, const std::vector<double>& kinks) {
  constexpr int kStep = 8, kKinkPx = 4;
  const double x_per_px = 100.0 / (frame.right - frame.left - 1);
  Disagreements d;
  for (int c = frame.left + 3; c + kStep <= frame.right - 3; c += 2) {
    const double x0 = column_to_x(frame, c), x1 = column_to_x(frame, c + kStep);
    bool near_kink = false;
    for (double k : kinks) near_kink |= k > x0 - kKinkPx * x_per_px && k < x1 + kKinkPx * x_per_px;
    if (near_kink) continue;
    const double dy = sampled_y(s, x1) - sampled_y(s, x0), drow = rows[c + kStep] - rows[c];
    const bool ok = dy > 1e-9 ? drow < -1 : dy < -1e-9 ? drow > 1 : std::fabs(drow) <= 0.5;
    if (ok) continue;
    if (d.count++ == 0)
      d.first = "x " + std::to_string(x0) + " -> " + std::to_string(x1) + ": data y changes by " +
                std::to_string(dy) + ", curve row by " + std::to_string(drow);
  }
  return d;
}

TEST(LinePlot, PngOfTheRequestedSizeWithSeriesColours) {
  PlotConfig cfg;
  cfg.width = 640, cfg.height = 360, cfg.title = "loss", cfg.x_label = "step", cfg.y_label = "loss";
  const ImageRGB8 im = through_png_file(render_line_plot(loss_series(), cfg), "line.png");
  EXPECT_EQ(im.width(), 640);
  EXPECT_EQ(im.height(), 360);
  EXPECT_GT(count_colour(im, plot_palette()[0]), 200);
  EXPECT_GT(count_colour(im, plot_palette()[1]), 200);
  EXPECT_GT(count_colour(im, {255, 255, 255}), 640 * 360 / 2) << "mostly white background";
}

TEST(LinePlot, AxesFrameThePlotAreaWithLabelledTicks) {
  PlotConfig cfg;
  cfg.width = 640, cfg.height = 360, cfg.title = "loss", cfg.x_label = "step", cfg.y_label = "loss";
  cfg.x_min = 0, cfg.x_max = 300;  // both ends are ticks (step 100 on this width)
  const ImageRGB8 im = render_line_plot(loss_series(), cfg);
  const PixelBox frame = find_plot_frame(im);
  ASSERT_TRUE(frame.found()) << "no long ink lines";
  EXPECT_LT(frame.left, 640 / 4) << "y axis on the left";
  EXPECT_GT(frame.bottom, 360 * 3 / 5) << "x axis at the bottom";
  EXPECT_GT(frame.right, 640 * 3 / 4);
  EXPECT_LT(frame.top, 360 / 4);
  // The axis lines are straight unbroken runs from corner to corner.
  const PixelRun y_axis = longest_run_in_column(im, frame.left, kInk);
  EXPECT_EQ(y_axis.start, frame.top);
  EXPECT_EQ(y_axis.length, frame.bottom - frame.top + 1);
  const PixelRun x_axis = longest_run_in_row(im, frame.bottom, kInk);
  EXPECT_EQ(x_axis.start, frame.left);
  EXPECT_EQ(x_axis.length, frame.right - frame.left + 1);

  // y ticks: evenly spaced marks left of the axis, each with its label's ink further left (labels end
  // about 9 px left of the axis; the rotated axis label sits at the picture's edge, outside this band).
  const std::vector<int> y_ticks = tick_marks(im, frame, false);
  ASSERT_GE(y_ticks.size(), 4u);
  for (std::size_t i = 0; i < y_ticks.size(); ++i) {
    if (i >= 2) {
      EXPECT_NEAR(y_ticks[i] - y_ticks[i - 1], y_ticks[1] - y_ticks[0], 1) << "linear y ticks";
    }
    EXPECT_GT(count_dark(im, frame.left - 30, y_ticks[i] - 6, frame.left - 7, y_ticks[i] + 6), 5)
        << "y tick label at row " << y_ticks[i];
  }
  EXPECT_EQ(count_dark(im, frame.left - 30, frame.top - 20, frame.left - 7, y_ticks.front() - 8) +
                count_dark(im, frame.left - 30, y_ticks.back() + 8, frame.left - 7, frame.bottom),
            0)
      << "no label ink away from the ticks";

  // x ticks at 0, 100, 200, 300: the first and last at the ends of the axis, each labelled below.
  const std::vector<int> x_ticks = tick_marks(im, frame, true);
  ASSERT_EQ(x_ticks.size(), 4u);
  EXPECT_NEAR(x_ticks.front(), frame.left + 1, 1);
  EXPECT_NEAR(x_ticks.back(), frame.right, 1);
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    if (i >= 2) {
      EXPECT_NEAR(x_ticks[i] - x_ticks[i - 1], x_ticks[1] - x_ticks[0], 1) << "linear x ticks";
    }
    EXPECT_GT(count_dark(im, x_ticks[i] - 12, frame.bottom + 7, x_ticks[i] + 12, frame.bottom + 24), 5)
        << "x tick label at column " << x_ticks[i];
  }
  EXPECT_GT(count_dark(im, frame.left, 0, frame.right, frame.top - 2), 20) << "title";
  EXPECT_GT(count_dark(im, frame.left, frame.bottom + 26, frame.right, 359), 20) << "x axis label";
}

TEST(LinePlot, CurveRisesAndFallsWhereTheDataDoes) {
  const std::vector<PlotSeries> s = {
      // 0.3 up to 1 at x = 60, down to 0.5 at 100; 0 until x = 40, up to 0.4 at 100: they never cross.
      sampled("rise then fall", [](double x) { return x <= 60 ? 0.3 + 0.7 * x / 60 : 1 - (x - 60) / 80; }),
      sampled("flat then rise", [](double x) { return x <= 40 ? 0.0 : (x - 40) / 150; })};
  const std::vector<std::vector<double>> kinks = {{60}, {40}};
  PlotConfig cfg;
  cfg.width = 640, cfg.height = 400, cfg.legend = LegendPosition::kLegendNone;
  cfg.x_min = 0, cfg.x_max = 100, cfg.y_min = -0.1, cfg.y_max = 1.1;
  const ImageRGB8 im = render_line_plot(s, cfg);
  const PixelBox frame = find_plot_frame(im);
  ASSERT_TRUE(frame.found());
  for (std::size_t k = 0; k < s.size(); ++k) {
    SCOPED_TRACE(s[k].name);
    const std::vector<double> rows = trace_curve(im, plot_palette()[k], frame);
    const Disagreements d = direction_disagreements(rows, frame, s[k], kinks[k]);
    EXPECT_EQ(d.count, 0) << "first: " << d.first;
    // Every column sits where the configured limits put the data (the x axis spans 0..100, y -0.1..1.1).
    int off = 0;
    for (int c = frame.left + 3; c <= frame.right - 3; ++c) {
      const double y = sampled_y(s[k], column_to_x(frame, c));
      off += !(std::fabs(rows[c] - y_fraction_to_px(frame, (y + 0.1) / 1.2)) <= 2);
    }
    EXPECT_EQ(off, 0) << "columns more than 2 px off the data";
  }
  // The peak (smallest row, averaged over a flat top) is at the data's argmax mapped to pixels.
  const std::vector<double> rows = trace_curve(im, plot_palette()[0], frame);
  double top = 1e9;
  for (double r : rows)
    if (!std::isnan(r)) top = std::min(top, r);
  double sum = 0;
  int n = 0;
  for (int c = 0; c < im.width(); ++c)
    if (rows[c] <= top + 0.5) sum += c + 0.5, ++n;
  const double argmax_x = s[0].x[std::max_element(s[0].y.begin(), s[0].y.end()) - s[0].y.begin()];
  EXPECT_NEAR(sum / n, x_fraction_to_px(frame, argmax_x / 100), 3) << "peak column (x = 60)";
}

TEST(LinePlot, LogYMapsEqualRatiosToEqualDistances) {
  // y = 0.01 * 10^(x / 25): each 25 steps in x multiply y by 10.
  const std::vector<PlotSeries> s = {sampled("", [](double x) { return 0.01 * std::pow(10.0, x / 25); })};
  PlotConfig cfg;
  cfg.log_y = true, cfg.x_min = 0, cfg.x_max = 100;
  const ImageRGB8 im = render_line_plot(s, cfg);
  const PixelBox frame = find_plot_frame(im);
  ASSERT_TRUE(frame.found());
  const std::vector<double> rows = trace_curve(im, plot_palette()[0], frame);
  std::vector<double> at;  // y = 0.025, 0.25, 2.5, 25
  for (double x : {10.0, 35.0, 60.0, 85.0}) at.push_back(curve_at(rows, frame, x / 100));
  const double decade = at[1] - at[0];
  EXPECT_LT(decade, -40) << "rising data goes up the picture";
  EXPECT_NEAR(at[2] - at[1], decade, 1.5) << "0.25 -> 2.5 spans as many pixels as 0.025 -> 0.25";
  EXPECT_NEAR(at[3] - at[2], decade, 1.5) << "2.5 -> 25 spans as many pixels as 0.025 -> 0.25";
  EXPECT_NEAR(curve_at(rows, frame, 0.225) - at[0], decade / 2, 1.5) << "half a decade, half the distance";
}

TEST(LinePlot, LogYSkipsNonPositiveAndNaNBreaksLines) {
  std::vector<PlotSeries> s = loss_series();
  s[0].y[10] = 0.0, s[0].y[20] = -1.0, s[0].y[30] = kNaN, s[1].x[5] = std::numeric_limits<double>::infinity();
  PlotConfig cfg;
  cfg.log_y = true, cfg.legend = LegendPosition::kLegendNone;  // nothing over the curves' left end
  const ImageRGB8 im = render_line_plot(s, cfg);
  EXPECT_EQ(im.width(), 800);
  EXPECT_GT(count_colour(im, plot_palette()[0]), 200);
  const PixelBox frame = find_plot_frame(im);
  ASSERT_TRUE(frame.found());
  const std::vector<double> total = trace_curve(im, plot_palette()[0], frame),
                            coord = trace_curve(im, plot_palette()[1], frame);
  auto column = [&](double x) { return static_cast<int>(std::floor(x_fraction_to_px(frame, x / 300))); };
  for (double x : {10.0, 20.0, 30.0}) {
    EXPECT_TRUE(std::isnan(total[column(x)])) << "the total curve has a gap at the skipped x = " << x;
    EXPECT_FALSE(std::isnan(total[column(x + 5)])) << "and is drawn again at x = " << x + 5;
  }
  EXPECT_TRUE(std::isnan(coord[column(5)])) << "the coord curve has a gap at its infinite x";
  EXPECT_FALSE(std::isnan(coord[column(10)]));
}

TEST(LinePlot, LegendShowsEachNamedSeriesColourInOrder) {
  // Decaying curves stay low on the right, clear of the default top-right legend.
  std::vector<PlotSeries> s = loss_series();
  s.push_back(sampled("box", [](double x) { return 2.0 * std::exp(-x / 40) + 0.2; }));
  s.push_back(sampled("", [](double x) { return 0.3 + 0.001 * x; }));  // unnamed: not in the legend
  PlotConfig cfg;
  cfg.width = 640, cfg.height = 360;
  const ImageRGB8 im = render_line_plot(s, cfg);
  const PixelBox frame = find_plot_frame(im);
  const LegendRead legend = read_legend(im);
  ASSERT_TRUE(frame.found());
  ASSERT_TRUE(legend.box.found());
  EXPECT_NEAR(frame.right - legend.box.right, 10, 2) << "top-right corner, inset 10 px";
  EXPECT_NEAR(legend.box.top - frame.top, 11, 2);
  EXPECT_EQ(legend.palette_index, (std::vector<int>{0, 1, 2})) << "three named series, in order";
  for (std::size_t i = 0; i < legend.row.size(); ++i) {
    const int row = static_cast<int>(legend.row[i]);
    EXPECT_GT(count_dark(im, legend.box.left + 36, row - 4, legend.box.right - 1, row + 4), 10)
        << "the name of entry " << i << " next to its swatch";
    if (i >= 2) {
      EXPECT_NEAR(legend.row[i] - legend.row[i - 1], legend.row[1] - legend.row[0], 1);
    }
  }
  EXPECT_GT(count_colour(im, plot_palette()[3]), 100) << "the unnamed series is drawn, without an entry";
}

TEST(LinePlot, EmptyAndSinglePointInputsStillDraw) {
  const ImageRGB8 empty = render_line_plot({}, {});
  EXPECT_EQ(empty.height(), 500);
  const PixelBox frame = find_plot_frame(empty);
  ASSERT_TRUE(frame.found()) << "the axes are drawn without data";
  const int cx = (frame.left + frame.right) / 2, cy = (frame.top + frame.bottom) / 2;
  int grey = 0;  // "no data" in mid grey at the centre
  for (int y = cy - 15; y <= cy + 15; ++y)
    for (int x = cx - 60; x <= cx + 60; ++x) {
      const RgbColor p = empty.at(x, y);
      grey += p.r == p.g && p.g == p.b && p.r < 200;
    }
  EXPECT_GT(grey, 20) << "a \"no data\" notice";

  std::vector<PlotSeries> one(1);
  one[0].name = "eval AP";
  one[0].x = {100};
  one[0].y = {0.42};
  PlotConfig no_legend;
  no_legend.legend = LegendPosition::kLegendNone;
  const ImageRGB8 im = render_line_plot(one, no_legend);
  const PixelBox f = find_plot_frame(im);
  ASSERT_TRUE(f.found());
  PixelBox dot{im.width(), im.height(), -1, -1};
  int pixels = 0;
  for (int y = 0; y < im.height(); ++y)
    for (int x = 0; x < im.width(); ++x)
      if (coverage(im.at(x, y), plot_palette()[0]) > 0.5) {
        ++pixels;
        dot = {std::min(dot.left, x), std::min(dot.top, y), std::max(dot.right, x), std::max(dot.bottom, y)};
      }
  EXPECT_GT(pixels, 10) << "a lone point is drawn as a marker";
  EXPECT_LE(dot.right - dot.left, 7) << "a dot, not a line";
  EXPECT_LE(dot.bottom - dot.top, 7);
  EXPECT_TRUE(f.contains(dot.left, dot.top) && f.contains(dot.right, dot.bottom)) << "inside the plot area";

  std::vector<PlotSeries> all_nan(1);
  all_nan[0].x = {1, 2};
  all_nan[0].y = {kNaN, kNaN};
  EXPECT_NO_THROW(render_line_plot(all_nan, {}));
}

TEST(LinePlot, MismatchedLengthsNameTheSeries) {
  std::vector<PlotSeries> s(1);
  s[0].name = "lr";
  s[0].x = {1, 2, 3};
  s[0].y = {1, 2};
  const std::string message = input_error_message([&] { render_line_plot(s, {}); });
  EXPECT_NE(message.find("\"lr\""), std::string::npos) << "InputError naming the series: " << message;
  PlotConfig tiny;
  tiny.width = 40, tiny.height = 30;
  EXPECT_THROW(render_line_plot(loss_series(), tiny), InputError);
}

TEST(PrCurve, DrawsEveryCurveAndSkipsCocoMinusOne) {
  std::vector<PrCurve> curves(2);
  curves[0].name = "val";
  curves[0].ap = 0.61;
  curves[1].name = "novel";
  for (int i = 0; i <= 100; ++i) {
    const double r = i / 100.0;
    curves[0].recall.push_back(r), curves[0].precision.push_back(i <= 80 ? 1 - 0.4 * r : -1);
    curves[1].recall.push_back(r), curves[1].precision.push_back(i < 40 ? 0.7 : -1);
  }
  PlotConfig cfg;
  cfg.width = 500, cfg.height = 500;
  const ImageRGB8 im = through_png_file(render_pr_curves(curves, cfg), "pr.png");
  EXPECT_EQ(im.width(), 500);
  EXPECT_EQ(im.height(), 500);
  const PixelBox frame = find_plot_frame(im);
  const LegendRead legend = read_legend(im);
  ASSERT_TRUE(frame.found());
  ASSERT_TRUE(legend.box.found());
  EXPECT_NEAR(legend.box.left - frame.left, 11, 2) << "bottom-left corner by default, inset 10 px";
  EXPECT_NEAR(frame.bottom - legend.box.bottom, 10, 2);
  EXPECT_EQ(legend.palette_index, (std::vector<int>{0, 1}));

  // Recall spans the x axis 0..1; precision 0 is the x axis.
  const std::vector<double> val = trace_curve(im, plot_palette()[0], frame, legend.box),
                            novel = trace_curve(im, plot_palette()[1], frame, legend.box);
  auto last_column = [&](const std::vector<double>& rows) {
    int last = -1;
    for (int c = 0; c < im.width(); ++c)
      if (!std::isnan(rows[c])) last = c;
    return last + 1;  // right edge
  };
  EXPECT_NEAR(last_column(val), x_fraction_to_px(frame, 0.8), 2) << "val ends at recall 0.8";
  EXPECT_NEAR(last_column(novel), x_fraction_to_px(frame, 0.39), 2) << "novel ends at recall 0.39";
  const double val_start = curve_at(val, frame, 0.05), val_end = curve_at(val, frame, 0.75);
  EXPECT_NEAR((frame.bottom - val_end) / (frame.bottom - val_start), 0.70 / 0.98, 0.02)
      << "precision 0.98 at recall 0.05 falls to 0.70 at 0.75";
  EXPECT_NEAR(curve_at(novel, frame, 0.05), curve_at(novel, frame, 0.35), 0.5) << "flat at 0.7";
  EXPECT_NEAR((frame.bottom - curve_at(novel, frame, 0.2)) / (frame.bottom - val_start), 0.70 / 0.98, 0.02);

  curves[1].precision.pop_back();
  const std::string message = input_error_message([&] { render_pr_curves(curves, cfg); });
  EXPECT_NE(message.find("\"novel\""), std::string::npos) << "InputError naming the curve: " << message;
}

struct BarChartCase {
  std::vector<std::string> groups = {"hard CE", "CoordExp", "CoordExp + CE"};
  std::vector<BarSeries> series = {{"AP", {0.4, -0.2, 0.2}, {0.05, 0.0, 0.0}},
                                   {"AP50", {0.6, kNaN, 0.3}, {}}};
  BarChartConfig cfg;
  BarChartCase() { cfg.plot.width = 700, cfg.plot.height = 400, cfg.plot.title = "ablation"; }
};

TEST(BarChart, BarHeightsFollowValuesWithErrorBars) {
  const BarChartCase c;
  const ImageRGB8 im = through_png_file(render_bar_chart(c.groups, c.series, c.cfg), "bars.png");
  EXPECT_EQ(im.width(), 700);
  EXPECT_EQ(im.height(), 400);
  const PixelBox frame = find_plot_frame(im);
  ASSERT_TRUE(frame.found());
  const std::vector<Bar> ap = find_bars(im, plot_palette()[0], frame),
                         ap50 = find_bars(im, plot_palette()[1], frame);
  ASSERT_EQ(ap.size(), 3u);
  ASSERT_EQ(ap50.size(), 2u) << "the NaN value draws no bar";
  const double group_w = (frame.right - frame.left - 1) / 3.0;
  auto group_of = [&](const Bar& b) { return static_cast<int>((b.centre() - frame.left - 1) / group_w); };
  for (int g = 0; g < 3; ++g) EXPECT_EQ(group_of(ap[g]), g);
  EXPECT_EQ(group_of(ap50[0]), 0);
  EXPECT_EQ(group_of(ap50[1]), 2) << "no AP50 bar in the middle group";
  EXPECT_LT(ap[0].last_col, ap50[0].first_col) << "series order within a group";

  // The zero line: the one ink row across the plot area between the frame's top and bottom lines.
  int zero = -1;
  for (int y = frame.top + 1; y < frame.bottom; ++y)
    if (longest_run_in_row(im, y, kInk).length >= (frame.right - frame.left) * 9 / 10) zero = y;
  ASSERT_GT(zero, frame.top + 1);
  for (const Bar* b : {&ap[0], &ap[2], &ap50[0], &ap50[1]}) {
    EXPECT_NEAR(b->bottom_row, zero - 1, 1) << "positive bars stand on the zero line";
    EXPECT_LT(b->top_row, zero - 20);
  }
  EXPECT_NEAR(ap[1].top_row, zero + 1, 1) << "the negative bar hangs from the zero line";
  EXPECT_GT(ap[1].bottom_row, zero + 20);

  // Lengths from the zero line's middle (row zero + 0.5) to the bar's far edge.
  auto length = [&](const Bar& b) {
    return b.top_row < zero ? zero + 0.5 - b.top_edge : b.bottom_edge - zero - 0.5;
  };
  const double px_per_unit = length(ap50[0]) / 0.6;
  EXPECT_NEAR(length(ap[0]), 0.4 * px_per_unit, 1.5) << "0.4 vs 0.6";
  EXPECT_NEAR(length(ap[2]), 0.2 * px_per_unit, 1.5) << "0.2 vs 0.6";
  EXPECT_NEAR(length(ap50[1]), 0.3 * px_per_unit, 1.5) << "0.3 vs 0.6";
  EXPECT_NEAR(length(ap[1]), 0.2 * px_per_unit, 1.5) << "-0.2 as long as 0.2";

  // The error bar of AP = 0.4 +- 0.05: a dark vertical line through the bar's top edge, reaching 0.05 each
  // way plus half its caps' 1.4 px width. The line's 1.4 px width covers at least 0.7 of some column near
  // the bar's centre: take the column where the dark runs up and down from the bar's top are longest (the
  // run up starts above the bar's partly covered edge row, which a line ending there may leave light).
  const int mid = static_cast<int>(ap[0].centre()), bar_top = ap[0].top_row;
  int err_top = bar_top - 1, err_bottom = bar_top;
  for (int x = mid - 2; x <= mid + 2; ++x) {
    int t = bar_top - 1, b = bar_top;
    while (is_dark(im.at(x, t - 1))) --t;
    while (is_dark(im.at(x, b + 1))) ++b;
    if (b - t > err_bottom - err_top) err_top = t, err_bottom = b;
  }
  const double reach = 0.05 * px_per_unit + 0.7;
  EXPECT_NEAR(ap[0].top_edge - err_top, reach, 1.5) << "error bar above the bar top";
  EXPECT_NEAR(err_bottom + 1 - ap[0].top_edge, reach, 1.5) << "error bar below the bar top";
  const int plain_mid = static_cast<int>(ap[2].centre());
  EXPECT_FALSE(is_dark(im.at(plain_mid, ap[2].top_row + 3))) << "no error bar where the error is 0";

  for (int g = 0; g < 3; ++g) {
    const int gx = static_cast<int>(frame.left + 1 + (g + 0.5) * group_w);
    EXPECT_GT(count_dark(im, gx - 20, frame.bottom + 4, gx + 20, frame.bottom + 25), 10)
        << "group label " << c.groups[g] << " under its bars";
  }
}

TEST(BarChart, LegendOutsideRightInSeriesOrder) {
  const BarChartCase c;
  const ImageRGB8 im = render_bar_chart(c.groups, c.series, c.cfg);
  const PixelBox frame = find_plot_frame(im);
  const LegendRead legend = read_legend(im);
  ASSERT_TRUE(frame.found());
  ASSERT_TRUE(legend.box.found());
  EXPECT_NEAR(legend.box.left - frame.right, 10, 2) << "right of the plot area, where no bars are";
  EXPECT_NEAR(legend.box.top, frame.top + 1, 1);
  EXPECT_LT(legend.box.right, 700);
  EXPECT_EQ(legend.palette_index, (std::vector<int>{0, 1}));
  for (std::size_t i = 0; i < legend.row.size(); ++i) {
    const int row = static_cast<int>(legend.row[i]);
    EXPECT_GT(count_dark(im, legend.box.left + 36, row - 4, legend.box.right - 1, row + 4), 10)
        << "the name of entry " << i << " next to its swatch";
  }
  BarChartCase one;
  one.series.pop_back();
  EXPECT_FALSE(read_legend(render_bar_chart(one.groups, one.series, one.cfg)).box.found())
      << "no legend for a single series";
}

TEST(BarChart, MismatchedLengthsNameTheSeries) {
  BarChartCase c;
  c.series[0].values = {-0.2, 0.1, 0.3};
  EXPECT_NO_THROW(render_bar_chart(c.groups, c.series, c.cfg));
  c.series[1].errors = {0.1};
  std::string message = input_error_message([&] { render_bar_chart(c.groups, c.series, c.cfg); });
  EXPECT_NE(message.find("\"AP50\" errors"), std::string::npos)
      << "InputError naming the errors: " << message;
  c.series[1].errors.clear();
  c.series[1].values.push_back(1.0);
  message = input_error_message([&] { render_bar_chart(c.groups, c.series, c.cfg); });
  EXPECT_NE(message.find("\"AP50\""), std::string::npos) << "InputError naming the series: " << message;
  EXPECT_NO_THROW(render_bar_chart({}, {}, c.cfg));
}

}  // namespace
}  // namespace coordexp
