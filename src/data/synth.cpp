// OpenShapes scene sampling and rendering (see synth.hpp). One image: a muted textured background, clutter
// marks, then objects drawn in placement order with cairo, then per-pixel sensor noise. Occlusion is
// tracked on a per-pixel owner map (pixel centres) so the visible-extent guarantee is checked exactly.
#include "coordexp/data/synth.hpp"

#include <cairo.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <numbers>
#include <thread>

#include "coordexp/data/synth_random.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

using CairoSurface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using CairoContext = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

struct Rgbd {
  double r, g, b;  // 0..1
};

Rgbd to_rgbd(RgbColor c) {
  return {c.r / 255.0, c.g / 255.0, c.b / 255.0};
}
double clamp01(double v) {
  return std::clamp(v, 0.0, 1.0);
}
// Rounds a 0..255 value (clamped) to a byte; std::lround was a third of the image time.
std::uint8_t to_byte(double v) {
  return static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0) + 0.5);
}
Rgbd scaled(Rgbd c, double f) {
  return {clamp01(c.r * f), clamp01(c.g * f), clamp01(c.b * f)};
}

Rgbd hsv_to_rgb(double h, double s, double v) {
  double c = v * s, hp = std::fmod(h, 1.0) * 6.0, x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1)), m = v - c;
  Rgbd o{0, 0, 0};
  if (hp < 1)
    o = {c, x, 0};
  else if (hp < 2)
    o = {x, c, 0};
  else if (hp < 3)
    o = {0, c, x};
  else if (hp < 4)
    o = {0, x, c};
  else if (hp < 5)
    o = {x, 0, c};
  else
    o = {c, 0, x};
  return {o.r + m, o.g + m, o.b + m};
}

// Integer pixel bounds of covered pixel centres, inclusive.
struct PixelBounds {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  void add(int x, int y) {
    x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
  }
};

struct PlacedObject {
  SynthObject object;
  PixelBounds full;  // bounds of the object's own pixel centres (clipped to the image)
  int full_pixels = 0;
};

// Samples object placements; the owner map records which object each pixel centre shows.
class SceneBuilder {
 public:
  SceneBuilder(const SynthConfig& cfg, int width, int height, double max_shrink)
      : cfg_(cfg),
        w_(width),
        h_(height),
        max_shrink_(max_shrink),
        owner_(width * height, -1),
        candidate_(width * height, 0) {}

  // Tries to place `shape`; returns false (and changes nothing) if a rule would be broken.
  bool try_place(const ShapeGeometry& shape, const BoxXYXY& clipped) {
    const int px0 = std::max(0, static_cast<int>(std::floor(clipped.x1)));
    const int py0 = std::max(0, static_cast<int>(std::floor(clipped.y1)));
    const int px1 = std::min(w_ - 1, static_cast<int>(std::ceil(clipped.x2)) - 1);
    const int py1 = std::min(h_ - 1, static_cast<int>(std::ceil(clipped.y2)) - 1);
    mask_.clear();
    PixelBounds bounds;
    for (int y = py0; y <= py1; ++y)
      for (int x = px0; x <= px1; ++x)
        if (shape_contains(shape, x + 0.5, y + 0.5)) mask_.push_back(y * w_ + x), bounds.add(x, y);
    if (mask_.size() < kMinObjectPixels) return false;

    taken_.assign(placed_.size(), 0);
    for (int p : mask_) {
      candidate_[p] = 1;
      if (owner_[p] >= 0) ++taken_[owner_[p]];
    }
    bool ok = true;
    for (std::size_t j = 0; j < placed_.size() && ok; ++j) {
      if (taken_[j] == 0) continue;
      const PlacedObject& o = placed_[j];
      if (o.object.visible_pixels - taken_[j] < cfg_.min_visible_fraction * o.full_pixels)
        ok = false;
      else
        ok = extent_kept(static_cast<int>(j));
    }
    for (int p : mask_) candidate_[p] = 0;
    if (!ok) return false;

    const int id = static_cast<int>(placed_.size());
    for (std::size_t j = 0; j < placed_.size(); ++j) placed_[j].object.visible_pixels -= taken_[j];
    for (int p : mask_) owner_[p] = static_cast<std::int16_t>(id);
    PlacedObject o;
    o.object.shape = shape;
    o.object.box = clipped;
    o.object.visible_pixels = static_cast<int>(mask_.size());
    o.full = bounds;
    o.full_pixels = static_cast<int>(mask_.size());
    placed_.push_back(std::move(o));
    return true;
  }

  std::vector<PlacedObject>& placed() { return placed_; }

 private:
  static constexpr std::size_t kMinObjectPixels = 8;  // below this a shape's kind cannot be seen

  // Whether object j's visible pixels, minus the candidate's, still reach within max_shrink of its sides.
  bool extent_kept(int j) const {
    const PixelBounds& f = placed_[j].full;
    PixelBounds v;
    for (int y = f.y0; y <= f.y1; ++y)
      for (int x = f.x0; x <= f.x1; ++x) {
        int p = y * w_ + x;
        if (owner_[p] == j && !candidate_[p]) v.add(x, y);
      }
    if (v.x1 < 0) return false;
    return v.x0 - f.x0 <= max_shrink_ && v.y0 - f.y0 <= max_shrink_ && f.x1 - v.x1 <= max_shrink_ &&
           f.y1 - v.y1 <= max_shrink_;
  }

  const SynthConfig& cfg_;
  int w_, h_;
  double max_shrink_;
  std::vector<std::int16_t> owner_;      // index of the top object at each pixel centre, -1 none
  std::vector<std::uint8_t> candidate_;  // scratch: 1 where the candidate covers
  std::vector<int> mask_;
  std::vector<int> taken_;
  std::vector<PlacedObject> placed_;
};

double round_centi(double v) {
  return std::round(v * 100.0) / 100.0;
}

// Writes the background straight into the surface's pixels (cairo's radial gradients cost ~1 ms per
// image): a muted base colour (low saturation, mid value, so every object colour, white and black
// included, stands out), a linear brightness gradient and two octaves of smooth value noise per channel.
void paint_background(cairo_surface_t* surface, const SynthConfig& cfg, SynthRng& rng) {
  const Rgbd base = hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.25), rng.uniform(0.38, 0.68));
  const int w = cairo_image_surface_get_width(surface), h = cairo_image_surface_get_height(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);

  const bool texture = cfg.background_texture;
  const double angle = rng.uniform(0, 2 * std::numbers::pi), slope = texture ? rng.uniform(0.0, 0.18) : 0.0;
  const double dx = std::cos(angle) / (0.5 * std::hypot(w, h)),
               dy = std::sin(angle) / (0.5 * std::hypot(w, h));
  // Value-noise lattices: octave o has cells of cell[o] pixels and amplitude amp[o] (0..1 colour units).
  struct Octave {
    double cell, amp;
    int gw, gh;
    std::vector<double> v;  // [gh][gw][3]
  };
  std::vector<Octave> octaves;
  if (texture) {
    const double coarse = rng.uniform(24, 56), amp = rng.uniform(0.04, 0.12);
    for (auto [cell, a] : {std::pair{coarse, amp}, std::pair{coarse / 3, amp / 3}}) {
      Octave o{cell, a, static_cast<int>(w / cell) + 2, static_cast<int>(h / cell) + 2, {}};
      o.v.resize(static_cast<std::size_t>(o.gw) * o.gh * 3);
      for (double& x : o.v) x = rng.uniform(-a, a);
      octaves.push_back(std::move(o));
    }
  }
  auto smooth = [](double t) { return t * t * (3 - 2 * t); };
  // Separable interpolation: per octave, column taps once; per row, the lattice interpolated in y once.
  struct Taps {
    std::vector<int> i;
    std::vector<double> t;
    std::vector<double> row;  // [gw][3], the lattice interpolated at the current y
  };
  std::vector<Taps> taps(octaves.size());
  for (std::size_t k = 0; k < octaves.size(); ++k) {
    taps[k].i.resize(w), taps[k].t.resize(w), taps[k].row.resize(static_cast<std::size_t>(octaves[k].gw) * 3);
    for (int x = 0; x < w; ++x) {
      const double gx = x / octaves[k].cell;
      taps[k].i[x] = static_cast<int>(gx);
      taps[k].t[x] = smooth(gx - taps[k].i[x]);
    }
  }
  std::vector<double> line(static_cast<std::size_t>(w) * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double f = 1 + slope * ((x - w / 2.0) * dx + (y - h / 2.0) * dy);
      line[3 * x] = base.r * f, line[3 * x + 1] = base.g * f, line[3 * x + 2] = base.b * f;
    }
    for (std::size_t k = 0; k < octaves.size(); ++k) {
      const Octave& o = octaves[k];
      Taps& tp = taps[k];
      const double gy = y / o.cell;
      const int iy = static_cast<int>(gy);
      const double ty = smooth(gy - iy);
      const double* r0 = &o.v[static_cast<std::size_t>(iy) * o.gw * 3];
      const double* r1 = r0 + static_cast<std::size_t>(o.gw) * 3;
      for (int j = 0; j < o.gw * 3; ++j) tp.row[j] = r0[j] * (1 - ty) + r1[j] * ty;
      for (int x = 0; x < w; ++x) {
        const double* a = &tp.row[3 * tp.i[x]];
        const double tx = tp.t[x];
        for (int ch = 0; ch < 3; ++ch) line[3 * x + ch] += a[ch] + (a[3 + ch] - a[ch]) * tx;
      }
    }
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    auto byte = [](double v) { return static_cast<std::uint32_t>(clamp01(v) * 255 + 0.5); };
    for (int x = 0; x < w; ++x)
      row[x] = (byte(line[3 * x]) << 16) | (byte(line[3 * x + 1]) << 8) | byte(line[3 * x + 2]);
  }
  cairo_surface_mark_dirty(surface);
}

Rgbd clutter_colour(SynthRng& rng) {
  if (rng.bernoulli(0.5)) return to_rgbd(synth_colours()[rng.uniform_int(0, kNumSynthColours - 1)].rgb);
  return hsv_to_rgb(rng.uniform(), rng.uniform(0, 1), rng.uniform(0.1, 1));
}

// Distractor marks that are not objects: too small or too thin to be read as any shape.
void paint_clutter(cairo_t* cr, const SynthConfig& cfg, int w, int h, SynthRng& rng) {
  const int n = rng.uniform_int(0, cfg.max_clutter);
  for (int i = 0; i < n; ++i) {
    Rgbd c = clutter_colour(rng);
    cairo_set_source_rgba(cr, c.r, c.g, c.b, rng.uniform(0.5, 1.0));
    const double x = rng.uniform(0, w), y = rng.uniform(0, h);
    switch (rng.uniform_int(0, 3)) {
      case 0:  // dot
        cairo_arc(cr, x, y, rng.uniform(0.7, 1.8), 0, 2 * std::numbers::pi);
        cairo_fill(cr);
        break;
      case 1: {  // thin straight line
        double a = rng.uniform(0, 2 * std::numbers::pi), len = rng.uniform(4, 22);
        cairo_set_line_width(cr, rng.uniform(0.6, 1.3));
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + len * std::cos(a), y + len * std::sin(a));
        cairo_stroke(cr);
        break;
      }
      case 2: {  // squiggle
        cairo_set_line_width(cr, rng.uniform(0.6, 1.2));
        cairo_move_to(cr, x, y);
        double s = rng.uniform(5, 14);
        cairo_curve_to(cr, x + rng.uniform(-s, s), y + rng.uniform(-s, s), x + rng.uniform(-s, s),
                       y + rng.uniform(-s, s), x + rng.uniform(-s, s), y + rng.uniform(-s, s));
        cairo_stroke(cr);
        break;
      }
      default: {  // speckles
        const int k = rng.uniform_int(3, 7);
        for (int j = 0; j < k; ++j) cairo_rectangle(cr, x + rng.uniform(-4, 4), y + rng.uniform(-4, 4), 1, 1);
        cairo_fill(cr);
        break;
      }
    }
  }
}

void paint_object(cairo_t* cr, const SynthObject& o, double shading, SynthRng& rng) {
  const ShapeGeometry& s = o.shape;
  cairo_new_path(cr);
  if (s.polygon.empty()) {
    cairo_arc(cr, s.cx, s.cy, s.radius, 0, 2 * std::numbers::pi);
    if (s.inner_radius > 0) {
      cairo_new_sub_path(cr);
      cairo_arc_negative(cr, s.cx, s.cy, s.inner_radius, 2 * std::numbers::pi, 0);
    }
  } else {
    cairo_move_to(cr, s.polygon[0].x, s.polygon[0].y);
    for (std::size_t i = 1; i < s.polygon.size(); ++i) cairo_line_to(cr, s.polygon[i].x, s.polygon[i].y);
    cairo_close_path(cr);
  }
  cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
  const Rgbd c = to_rgbd(o.colour);
  const double a = rng.uniform(0, 2 * std::numbers::pi), r = s.size / 2, k = rng.uniform(0, shading);
  cairo_pattern_t* grad = cairo_pattern_create_linear(s.cx - r * std::cos(a), s.cy - r * std::sin(a),
                                                      s.cx + r * std::cos(a), s.cy + r * std::sin(a));
  Rgbd hi = scaled(c, 1 + k), lo = scaled(c, 1 - k);
  cairo_pattern_add_color_stop_rgb(grad, 0, hi.r, hi.g, hi.b);
  cairo_pattern_add_color_stop_rgb(grad, 1, lo.r, lo.g, lo.b);
  cairo_set_source(cr, grad);
  cairo_fill(cr);
  cairo_pattern_destroy(grad);
}

// Approximately Gaussian noise, cheaply: the sum of four uniform bytes (Irwin-Hall, mean 510, standard
// deviation sqrt(4 * (256^2 - 1) / 12) = 147.8) is close to normal and bounded at +-3.5 sigma; one 64-bit
// draw gives two samples. Exact normals cost more than drawing the rest of the image.
class ByteNoise {
 public:
  ByteNoise(SynthRng& rng, double sigma) : rng_(rng), scale_(sigma / 147.8) {}
  double next() {
    if (left_ == 0) bits_ = rng_.next_u64(), left_ = 2;
    const std::uint64_t b = bits_ >> (32 * --left_);
    const int sum = static_cast<int>((b & 255) + ((b >> 8) & 255) + ((b >> 16) & 255) + ((b >> 24) & 255));
    return (sum - 510) * scale_;
  }

 private:
  SynthRng& rng_;
  double scale_;
  std::uint64_t bits_ = 0;
  int left_ = 0;
};

ImageRGB8 surface_to_image(cairo_surface_t* surface, double noise_sigma, SynthRng& rng) {
  cairo_surface_flush(surface);
  const int w = cairo_image_surface_get_width(surface), h = cairo_image_surface_get_height(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  ImageRGB8 out(w, h);
  ByteNoise noise(rng, noise_sigma);
  for (int y = 0; y < h; ++y) {
    const auto* src = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < w; ++x) {
      const std::uint32_t px = src[x];  // CAIRO_FORMAT_RGB24: 0x00RRGGBB in native endianness
      const int rgb[3] = {static_cast<int>((px >> 16) & 255), static_cast<int>((px >> 8) & 255),
                          static_cast<int>(px & 255)};
      for (int ch = 0; ch < 3; ++ch) {
        const double v = noise_sigma > 0 ? rgb[ch] + noise.next() : rgb[ch];
        dst[3 * x + ch] = to_byte(v);
      }
    }
  }
  return out;
}

}  // namespace

SynthImage synthesize_image(const SynthConfig& cfg, SynthSplit split, int index) {
  const int w = cfg.image_width, h = cfg.image_height;
  const std::uint64_t image_seed =
      derive_seed(cfg.seed, static_cast<std::uint64_t>(split) + 1, static_cast<std::uint64_t>(index));
  SynthRng scene_rng(derive_seed(image_seed, 1));
  SynthRng paint_rng(derive_seed(image_seed, 2));
  SynthRng noise_rng(derive_seed(image_seed, 3));

  // Checked and recomputed per image (microseconds) so the function stays self-contained.
  validate_synth_config(cfg);
  const std::vector<SynthCategory> cats = synth_categories(synth_held_out(cfg));
  std::vector<int> seen, unseen;
  for (int i = 0; i < static_cast<int>(cats.size()); ++i) (cats[i].seen ? seen : unseen).push_back(i);
  if (split == SynthSplit::kSynthNovel && unseen.empty())
    throw_input_error("synth config: held_out", "at least one held-out combination for the novel split",
                      "none");

  const bool dense = split == SynthSplit::kSynthDense;
  const int target = dense ? scene_rng.uniform_int(cfg.dense_min_objects, cfg.dense_max_objects)
                           : scene_rng.uniform_int(cfg.min_objects, cfg.max_objects);
  const double min_size = dense ? cfg.dense_min_object_size : cfg.min_object_size;
  const double max_size = dense ? cfg.dense_max_object_size : cfg.max_object_size;

  SceneBuilder scene(cfg, w, h, cfg.max_extent_shrink_px);
  std::vector<int> category_of;
  const int max_attempts = 40 * target;
  for (int attempt = 0; attempt < max_attempts && static_cast<int>(category_of.size()) < target; ++attempt) {
    bool from_unseen = split == SynthSplit::kSynthNovel &&
                       (category_of.empty() || !scene_rng.bernoulli(cfg.novel_seen_fraction));
    const std::vector<int>& pool = from_unseen ? unseen : seen;
    const int cat = pool[scene_rng.uniform_int(0, static_cast<int>(pool.size()) - 1)];
    const ShapeKind kind = cats[cat].shape;
    const double size = scene_rng.log_uniform(min_size, max_size);
    const double max_rot = shape_max_rotation(kind);
    const double rotation = max_rot > 0 ? scene_rng.uniform(-max_rot, max_rot) : 0.0;
    const double cx = scene_rng.uniform(0, w), cy = scene_rng.uniform(0, h);
    ShapeGeometry shape = make_shape(kind, cx, cy, size, rotation);
    const BoxXYXY full = shape_bounds(shape);
    const BoxXYXY clipped = shape_bounds_in_image(shape, w, h);
    if (clipped.x2 - clipped.x1 < cfg.min_box_side_px || clipped.y2 - clipped.y1 < cfg.min_box_side_px)
      continue;
    if (box_area(clipped) < cfg.min_inside_fraction * box_area(full)) continue;
    if (!scene.try_place(shape, clipped)) continue;
    category_of.push_back(cat);
  }

  SynthImage out;
  out.id = index + 1;
  char name[32];
  std::snprintf(name, sizeof name, "%06d.png", index + 1);
  out.file_name = synth_split_name(split) + "/" + name;

  CairoSurface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h), cairo_surface_destroy);
  CairoContext cr(cairo_create(surface.get()), cairo_destroy);
  paint_background(surface.get(), cfg, paint_rng);
  paint_clutter(cr.get(), cfg, w, h, paint_rng);
  std::vector<PlacedObject>& placed = scene.placed();
  for (std::size_t i = 0; i < placed.size(); ++i) {
    SynthObject& o = placed[i].object;
    const SynthCategory& cat = cats[category_of[i]];
    const RgbColor nominal = synth_colours()[cat.colour_index].rgb;
    auto jitter = [&](std::uint8_t v) {
      return to_byte(v + paint_rng.uniform(-cfg.colour_jitter, cfg.colour_jitter));
    };
    o.colour = {jitter(nominal.r), jitter(nominal.g), jitter(nominal.b)};
    o.category_id = cat.id;
    o.box = {round_centi(o.box.x1), round_centi(o.box.y1), round_centi(o.box.x2), round_centi(o.box.y2)};
    o.description = describe_synth_object(cat, std::max(o.box.x2 - o.box.x1, o.box.y2 - o.box.y1),
                                          cfg.describe_size, cfg.synonym_probability, scene_rng);
    paint_object(cr.get(), o, cfg.shading, paint_rng);
    out.objects.push_back(o);
  }
  out.image = surface_to_image(surface.get(), cfg.noise_sigma, noise_rng);
  return out;
}

SynthDataset synthesize(const SynthConfig& cfg, SynthSplit split) {
  validate_synth_config(cfg);
  SynthDataset ds;
  ds.split = split;
  ds.categories = synth_categories(synth_held_out(cfg));
  const int n = synth_split_size(cfg, split);
  ds.images.resize(n);
  const int threads =
      std::max(1, std::min(n, cfg.num_threads > 0 ? cfg.num_threads
                                                  : static_cast<int>(std::thread::hardware_concurrency())));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr errors[2];  // the first error of the calling thread / of any worker
  std::mutex mu;
  auto work = [&](std::exception_ptr& error) {
    try {
      for (int i = next++; i < n && !failed; i = next++) ds.images[i] = synthesize_image(cfg, split, i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(errors[1]));
  work(errors[0]);
  for (auto& t : pool) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return ds;
}

nlohmann::json synth_coco_json(const SynthConfig& cfg, const SynthDataset& ds) {
  nlohmann::json j;
  j["info"] = {{"description", "OpenShapes: synthetic open-vocabulary detection dataset (coordexp synth)"},
               {"version", "1"},
               {"split", synth_split_name(ds.split)},
               {"seed", cfg.seed}};
  nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
  int ann_id = 1;
  for (const SynthImage& im : ds.images) {
    images.push_back({{"id", im.id},
                      {"file_name", im.file_name},
                      {"width", cfg.image_width},
                      {"height", cfg.image_height}});
    for (const SynthObject& o : im.objects) {
      const double bw = round_centi(o.box.x2 - o.box.x1), bh = round_centi(o.box.y2 - o.box.y1);
      annotations.push_back({{"id", ann_id++},
                             {"image_id", im.id},
                             {"category_id", o.category_id},
                             {"bbox", {o.box.x1, o.box.y1, bw, bh}},
                             {"area", round_centi(bw * bh)},
                             {"iscrowd", 0},
                             {"description", o.description}});
    }
  }
  nlohmann::json cats = nlohmann::json::array();
  for (const SynthCategory& c : ds.categories)
    cats.push_back({{"id", c.id},
                    {"name", c.name},
                    {"supercategory", std::string(shape_kind_name(c.shape))},
                    {"seen", c.seen}});
  j["images"] = std::move(images);
  j["annotations"] = std::move(annotations);
  j["categories"] = std::move(cats);
  return j;
}

}  // namespace coordexp
