// The shared chart frame: layout, ticks, grid, axes, title, legend (see plot_frame.hpp).
#include "plot_frame.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "coordexp/util/error.hpp"

namespace coordexp {

const std::vector<RgbColor>& plot_palette() {
  static const std::vector<RgbColor> palette = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return palette;
}

namespace report_internal {

namespace {

constexpr RgbColor kInk{40, 40, 40};
constexpr RgbColor kGrid{228, 228, 228};
constexpr double kPad = 12.0;
constexpr double kTickLength = 5.0;
constexpr double kRotatedLabelAngle = 35.0 * std::numbers::pi / 180;

double crisp(double v) {
  return std::round(v) + 0.5;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && ticks.size() < 100; k += 1)
    ticks.push_back(std::fabs(k * step) < step * 1e-9 ? 0.0 : k * step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi > lo)) return ticks;
  const int d0 = static_cast<int>(std::floor(std::log10(lo))),
            d1 = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = d1 - d0 <= 3;
  const int stride = std::max(1, (d1 - d0) / 8);  // at most ~8 labelled decades
  for (int d = d0; d <= d1; ++d) {
    if ((d - d0) % stride) continue;
    for (double m : fine ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
      const double v = m * std::pow(10.0, d);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  char buf[32];
  const double a = std::fabs(value);
  if (a != 0 && (a >= 1e5 || a < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.3g", value);
  } else {
    int decimals = 0;
    if (step > 0 && step < 1) {
      decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
      const double scaled = step * std::pow(10.0, decimals);
      if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;  // 0.25-style steps
    }
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), value);
  }
  return buf;
}

PlotFrame::PlotFrame(CairoCanvas& canvas, const PlotConfig& config, double x_lo, double x_hi, double y_lo,
                     double y_hi, std::vector<std::string> x_categories,
                     const std::vector<std::string>& legend_names)
    : canvas_(canvas),
      config_(config),
      x_lo_(x_lo),
      x_hi_(x_hi),
      y_lo_(y_lo),
      y_hi_(y_hi),
      x_categories_(std::move(x_categories)) {
  if (!(x_hi_ > x_lo_)) x_lo_ -= 0.5, x_hi_ = x_lo_ + 1.0;
  if (config_.log_y) {
    if (!(y_lo_ > 0)) y_lo_ = 1e-3;
    if (!(y_hi_ > y_lo_)) y_hi_ = y_lo_ * 10;
  } else if (!(y_hi_ > y_lo_)) {
    y_lo_ -= 0.5, y_hi_ = y_lo_ + 1.0;
  }
  layout(legend_names);
  draw_axes_and_grid();
}

namespace {
constexpr double kSwatch = 22, kSwatchGap = 6, kLegendInner = 8, kLegendInset = 10;
}  // namespace

double PlotFrame::legend_width(const std::vector<std::string>& names) const {
  cairo_t* cr = canvas_.cr();
  select_font(cr, config_.font_size);
  double text_w = 0;
  for (const std::string& n : names) text_w = std::max(text_w, measure_text(cr, n).width);
  return kLegendInner * 2 + kSwatch + kSwatchGap + text_w;
}

void PlotFrame::layout(const std::vector<std::string>& legend_names) {
  cairo_t* cr = canvas_.cr();
  const double f = config_.font_size;
  const int w = canvas_.width(), h = canvas_.height();
  // Tick sets first: their labels decide the margins.
  if (x_categories_.empty()) {
    x_ticks_ = nice_ticks(x_lo_, x_hi_, std::max(2, w / 110));
    x_step_ = x_ticks_.size() > 1 ? x_ticks_[1] - x_ticks_[0] : 1.0;
  }
  if (config_.log_y) {
    y_ticks_ = log_ticks(y_lo_, y_hi_);
  } else {
    y_ticks_ = nice_ticks(y_lo_, y_hi_, std::max(2, h / 70));
    y_step_ = y_ticks_.size() > 1 ? y_ticks_[1] - y_ticks_[0] : 1.0;
  }
  select_font(cr, f);
  double y_label_w = 0;
  for (double t : y_ticks_) y_label_w = std::max(y_label_w, measure_text(cr, y_tick_label(t)).width);
  const TextSize tick_ts = measure_text(cr, "0");
  const double tick_text_h = tick_ts.ascent + tick_ts.descent;

  top_ = kPad + (config_.title.empty() ? f * 0.5 : f * 1.3 * 1.8);
  left_ = kPad + (config_.y_label.empty() ? 0 : f * 1.05 * 1.6) + y_label_w + kTickLength + 4;
  right_ = w - kPad - f;
  if (config_.legend == LegendPosition::kLegendOutsideRight && !legend_names.empty())
    right_ -= legend_width(legend_names) + kLegendInset - f / 2;
  double x_labels_h = tick_text_h;
  if (!x_categories_.empty()) {
    const double group_w = (right_ - left_) / x_categories_.size();
    double widest = 0;
    for (const std::string& c : x_categories_) widest = std::max(widest, measure_text(cr, c).width);
    rotate_x_labels_ = widest > group_w * 0.95;
    if (rotate_x_labels_) x_labels_h = widest * std::sin(kRotatedLabelAngle) + tick_text_h;
  }
  bottom_ = h - kPad - (config_.x_label.empty() ? 0 : f * 1.05 * 1.6) - x_labels_h - kTickLength - 4;
  if (bottom_ - top_ < 20 || right_ - left_ < 20)
    throw_input_error("plot size", "a picture large enough for its labels",
                      std::to_string(w) + "x" + std::to_string(h) + " px");
}

std::string PlotFrame::y_tick_label(double t) const {
  return format_tick(t, config_.log_y ? t : y_step_);
}

double PlotFrame::px(double x) const {
  return left_ + (x - x_lo_) / (x_hi_ - x_lo_) * (right_ - left_);
}

double PlotFrame::py(double y) const {
  double t = config_.log_y ? (std::log10(y) - std::log10(y_lo_)) / (std::log10(y_hi_) - std::log10(y_lo_))
                           : (y - y_lo_) / (y_hi_ - y_lo_);
  return bottom_ - t * (bottom_ - top_);
}

void PlotFrame::draw_axes_and_grid() {
  cairo_t* cr = canvas_.cr();
  const double f = config_.font_size;
  cairo_set_line_width(cr, 1.0);
  if (config_.grid) {
    set_source(cr, kGrid);
    for (double t : y_ticks_) {
      cairo_move_to(cr, left_, crisp(py(t)));
      cairo_line_to(cr, right_, crisp(py(t)));
    }
    for (double t : x_ticks_) {
      cairo_move_to(cr, crisp(px(t)), top_);
      cairo_line_to(cr, crisp(px(t)), bottom_);
    }
    cairo_stroke(cr);
  }
  select_font(cr, f);
  set_source(cr, kInk);
  for (double t : y_ticks_) {
    const double y = crisp(py(t));
    cairo_move_to(cr, left_ - kTickLength, y);
    cairo_line_to(cr, left_, y);
    cairo_stroke(cr);
    draw_text(cr, y_tick_label(t), left_ - kTickLength - 4, y, 1.0, 0.5);
  }
  for (double t : x_ticks_) {
    const double x = crisp(px(t));
    cairo_move_to(cr, x, bottom_);
    cairo_line_to(cr, x, bottom_ + kTickLength);
    cairo_stroke(cr);
    draw_text(cr, format_tick(t, x_step_), x, bottom_ + kTickLength + 3, 0.5, 0.0);
  }
  for (std::size_t i = 0; i < x_categories_.size(); ++i) {
    const double x = px(i + 0.5);
    if (rotate_x_labels_)
      draw_text(cr, x_categories_[i], x, bottom_ + kTickLength + 3, 1.0, 0.0, -kRotatedLabelAngle);
    else
      draw_text(cr, x_categories_[i], x, bottom_ + kTickLength + 3, 0.5, 0.0);
  }
  if (!config_.title.empty()) {
    select_font(cr, f * 1.3, true);
    draw_text(cr, config_.title, (left_ + right_) / 2, kPad, 0.5, 0.0);
  }
  select_font(cr, f * 1.05);
  if (!config_.x_label.empty())
    draw_text(cr, config_.x_label, (left_ + right_) / 2, canvas_.height() - kPad, 0.5, 1.0);
  if (!config_.y_label.empty())
    draw_text(cr, config_.y_label, kPad, (top_ + bottom_) / 2, 0.5, 0.0, -std::numbers::pi / 2);
}

void PlotFrame::begin_marks() {
  cairo_t* cr = canvas_.cr();
  cairo_save(cr);
  cairo_rectangle(cr, left_, top_, right_ - left_, bottom_ - top_);
  cairo_clip(cr);
}

void PlotFrame::end_marks() {
  cairo_t* cr = canvas_.cr();
  cairo_restore(cr);
  set_source(cr, kInk);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, crisp(left_) - 1, crisp(top_) - 1, std::round(right_ - left_) + 1,
                  std::round(bottom_ - top_) + 1);
  cairo_stroke(cr);
}

void PlotFrame::draw_empty_notice() {
  cairo_t* cr = canvas_.cr();
  select_font(cr, config_.font_size * 1.2);
  set_source(cr, {150, 150, 150});
  draw_text(cr, "no data", (left_ + right_) / 2, (top_ + bottom_) / 2, 0.5, 0.5);
}

void PlotFrame::draw_legend(const std::vector<LegendEntry>& entries) {
  if (entries.empty() || config_.legend == LegendPosition::kLegendNone) return;
  cairo_t* cr = canvas_.cr();
  const double f = config_.font_size;
  select_font(cr, f);
  const double swatch = kSwatch, gap = kSwatchGap, row_h = f * 1.45, inner = kLegendInner;
  std::vector<std::string> names;
  for (const LegendEntry& e : entries) names.push_back(e.name);
  const double box_w = legend_width(names), box_h = inner * 2 + row_h * entries.size() - (row_h - f);
  const LegendPosition pos = config_.legend;
  const bool at_right = pos == LegendPosition::kLegendTopRight || pos == LegendPosition::kLegendBottomRight;
  const bool at_top = pos != LegendPosition::kLegendBottomLeft && pos != LegendPosition::kLegendBottomRight;
  double x0 = at_right ? right_ - kLegendInset - box_w : left_ + kLegendInset;
  if (pos == LegendPosition::kLegendOutsideRight) x0 = right_ + kLegendInset;
  const double y0 = at_top ? top_ + (pos == LegendPosition::kLegendOutsideRight ? 0 : kLegendInset)
                           : bottom_ - kLegendInset - box_h;
  select_font(cr, f);
  cairo_rectangle(cr, crisp(x0), crisp(y0), std::round(box_w), std::round(box_h));
  cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
  cairo_fill_preserve(cr);
  set_source(cr, {190, 190, 190});
  cairo_set_line_width(cr, 1.0);
  cairo_stroke(cr);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double cy = y0 + inner + i * row_h + f / 2;
    set_source(cr, entries[i].colour);
    if (entries[i].filled_box) {
      cairo_rectangle(cr, x0 + inner + swatch / 2 - 6, cy - 6, 12, 12);
      cairo_fill(cr);
    } else {
      cairo_set_line_width(cr, 2.5);
      cairo_move_to(cr, x0 + inner, cy);
      cairo_line_to(cr, x0 + inner + swatch, cy);
      cairo_stroke(cr);
    }
    set_source(cr, kInk);
    draw_text(cr, entries[i].name, x0 + inner + swatch + gap, cy, 0.0, 0.5);
  }
}

}  // namespace report_internal
}  // namespace coordexp
