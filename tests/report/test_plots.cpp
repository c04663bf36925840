// Chart tests: line plots, PR curves and bar charts produce valid PNGs of the requested size, draw their
// series in the palette colours, survive awkward data (NaN, log of non-positive values, empty input) and
// reject mismatched lengths with an InputError naming the series.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

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

TEST(LinePlot, LogYSkipsNonPositiveAndNaNBreaksLines) {
  std::vector<PlotSeries> s = loss_series();
  s[0].y[10] = 0.0, s[0].y[20] = -1.0, s[0].y[30] = kNaN, s[1].x[5] = std::numeric_limits<double>::infinity();
  PlotConfig cfg;
  cfg.log_y = true;
  const ImageRGB8 im = render_line_plot(s, cfg);
  EXPECT_EQ(im.width(), 800);
  EXPECT_GT(count_colour(im, plot_palette()[0]), 200);
}

TEST(LinePlot, EmptyAndSinglePointInputsStillDraw) {
  EXPECT_EQ(render_line_plot({}, {}).height(), 500);
  std::vector<PlotSeries> one(1);
  one[0].name = "eval AP";
  one[0].x = {100};
  one[0].y = {0.42};
  const ImageRGB8 im = render_line_plot(one, {});
  EXPECT_GT(count_colour(im, plot_palette()[0]), 10) << "a lone point is drawn as a marker";
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
  try {
    render_line_plot(s, {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("\"lr\""), std::string::npos) << e.what();
  }
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
    curves[0].recall.push_back(r), curves[0].precision.push_back(r < 0.8 ? 1 - 0.4 * r : -1);
    curves[1].recall.push_back(r), curves[1].precision.push_back(r < 0.4 ? 0.7 : -1);
  }
  PlotConfig cfg;
  cfg.width = 500, cfg.height = 500;
  const ImageRGB8 im = through_png_file(render_pr_curves(curves, cfg), "pr.png");
  EXPECT_EQ(im.width(), 500);
  EXPECT_EQ(im.height(), 500);
  EXPECT_GT(count_colour(im, plot_palette()[0]), 150);
  EXPECT_GT(count_colour(im, plot_palette()[1]), 100);
  curves[1].precision.pop_back();
  EXPECT_THROW(render_pr_curves(curves, cfg), InputError);
}

TEST(BarChart, GroupedBarsWithErrorsAndNegativeValues) {
  const std::vector<std::string> groups = {"hard CE", "CoordExp", "CoordExp + CE"};
  std::vector<BarSeries> series = {{"AP", {0.41, 0.33, 0.47}, {0.01, 0.02, 0.015}},
                                   {"AP50", {0.62, kNaN, 0.71}, {}}};
  BarChartConfig cfg;
  cfg.plot.width = 700, cfg.plot.height = 400, cfg.plot.title = "ablation";
  const ImageRGB8 im = through_png_file(render_bar_chart(groups, series, cfg), "bars.png");
  EXPECT_EQ(im.width(), 700);
  EXPECT_EQ(im.height(), 400);
  const int ap_pixels = count_colour(im, plot_palette()[0]),
            ap50_pixels = count_colour(im, plot_palette()[1]);
  EXPECT_GT(ap_pixels, 2000);
  EXPECT_GT(ap50_pixels, 2000);
  EXPECT_LT(ap50_pixels, ap_pixels * 1.5) << "the NaN bar is not drawn";
  series[0].values = {-0.2, 0.1, 0.3};
  EXPECT_NO_THROW(render_bar_chart(groups, series, cfg));
  series[1].errors = {0.1};
  EXPECT_THROW(render_bar_chart(groups, series, cfg), InputError);
  series[1].errors.clear();
  series[1].values.push_back(1.0);
  EXPECT_THROW(render_bar_chart(groups, series, cfg), InputError);
  EXPECT_NO_THROW(render_bar_chart({}, {}, cfg));
}

}  // namespace
}  // namespace coordexp
