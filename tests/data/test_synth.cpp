// OpenShapes generator tests: determinism (same seed -> same pixels, JSON and files, whatever the thread
// count; another seed differs), the box contract (inside the image, tight to the drawn shape, still tight
// under occlusion), the held-out split rules, COCO JSON fields, descriptions and synonyms, config checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "coordexp/data/synth.hpp"
#include "coordexp/data/synth_writer.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

SynthConfig small_config() {
  SynthConfig c;
  c.num_train = 24, c.num_val = 8, c.num_novel = 8, c.num_dense = 4;
  c.num_threads = 2;
  return c;
}

// Flat background, exact colours, no clutter or noise: the colour of a pixel tells which object covers it.
SynthConfig clean_config() {
  SynthConfig c = small_config();
  c.noise_sigma = 0, c.background_texture = false, c.max_clutter = 0, c.colour_jitter = 0, c.shading = 0;
  return c;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Share of colour `obj` in pixel colour `c` over background `bg` (projection onto bg -> obj).
double coverage(RgbColor c, RgbColor obj, RgbColor bg) {
  const double d[3] = {double(obj.r) - bg.r, double(obj.g) - bg.g, double(obj.b) - bg.b};
  const double v[3] = {double(c.r) - bg.r, double(c.g) - bg.g, double(c.b) - bg.b};
  const double dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  if (dd < 1) return 0;
  return (v[0] * d[0] + v[1] * d[1] + v[2] * d[2]) / dd;
}

RgbColor most_common_colour(const ImageRGB8& im) {
  std::map<std::uint32_t, int> counts;
  for (int y = 0; y < im.height(); ++y)
    for (int x = 0; x < im.width(); ++x) {
      RgbColor c = im.at(x, y);
      ++counts[(c.r << 16) | (c.g << 8) | c.b];
    }
  auto best =
      std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; });
  return {std::uint8_t(best->first >> 16), std::uint8_t(best->first >> 8), std::uint8_t(best->first)};
}

// Largest coverage of `obj` over the pixels of the band [x0, x1) x [y0, y1) (clamped to the image).
double max_coverage(const ImageRGB8& im, int x0, int y0, int x1, int y1, RgbColor obj, RgbColor bg) {
  double best = -1;
  for (int y = std::max(0, y0); y < std::min(im.height(), y1); ++y)
    for (int x = std::max(0, x0); x < std::min(im.width(), x1); ++x)
      best = std::max(best, coverage(im.at(x, y), obj, bg));
  return best;
}

TEST(SynthRandom, EngineIsTheStandardMt19937_64) {
  SynthRng rng(5489);  // the standard's default seed; [rand.predef] fixes the 10000th output
  std::uint64_t v = 0;
  for (int i = 0; i < 10000; ++i) v = rng.next_u64();
  EXPECT_EQ(v, 9981545732273789042ull);
}

TEST(SynthRandom, HelpersStayInRangeAndRepeat) {
  SynthRng a(42), b(42);
  std::set<int> seen;
  for (int i = 0; i < 5000; ++i) {
    double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    int k = a.uniform_int(-2, 3);
    ASSERT_GE(k, -2);
    ASSERT_LE(k, 3);
    seen.insert(k);
    double l = a.log_uniform(10, 64);
    ASSERT_GE(l, 10.0);
    ASSERT_LT(l, 64.0);
    ASSERT_TRUE(std::isfinite(a.normal()));
  }
  EXPECT_EQ(seen.size(), 6u);
  SynthRng c(42);
  EXPECT_EQ(c.uniform(), b.uniform());
  EXPECT_NE(derive_seed(1, 2, 3), derive_seed(1, 2, 4));
  EXPECT_NE(derive_seed(1, 2, 3), derive_seed(2, 2, 3));
}

TEST(SynthShapes, AnalyticBoundsAreTightForEveryKindAndRotation) {
  std::mt19937 gen(3);
  for (int k = 0; k < kNumShapeKinds; ++k) {
    const ShapeKind kind = static_cast<ShapeKind>(k);
    for (int trial = 0; trial < 5; ++trial) {
      const double rot = std::uniform_real_distribution<double>(-1, 1)(gen) * shape_max_rotation(kind);
      ShapeGeometry s = make_shape(kind, 50, 40, 30, rot);
      BoxXYXY b = shape_bounds(s);
      EXPECT_LE(b.x2 - b.x1, 30.0 + 1e-9);
      EXPECT_LE(b.y2 - b.y1, 30.0 + 1e-9);
      // Sample a fine grid: every inside point is in the box, and inside points reach each side.
      double x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9;
      const double step = 0.05;
      for (double y = 20; y <= 60; y += step)
        for (double x = 30; x <= 70; x += step)
          if (shape_contains(s, x, y)) {
            ASSERT_TRUE(x >= b.x1 - 1e-9 && x <= b.x2 + 1e-9 && y >= b.y1 - 1e-9 && y <= b.y2 + 1e-9)
                << shape_kind_name(kind);
            x1 = std::min(x1, x), y1 = std::min(y1, y), x2 = std::max(x2, x), y2 = std::max(y2, y);
          }
      EXPECT_NEAR(x1, b.x1, 0.15) << shape_kind_name(kind);
      EXPECT_NEAR(y1, b.y1, 0.15) << shape_kind_name(kind);
      EXPECT_NEAR(x2, b.x2, 0.15) << shape_kind_name(kind);
      EXPECT_NEAR(y2, b.y2, 0.15) << shape_kind_name(kind);
    }
  }
  // Cut by the image edges: bounds of the inside part, checked the same way.
  for (int k = 0; k < kNumShapeKinds; ++k) {
    const ShapeKind kind = static_cast<ShapeKind>(k);
    for (auto [cx, cy] : {std::pair{3.0, 20.0}, std::pair{38.0, 37.0}, std::pair{-4.0, 41.0},
                          std::pair{45.0, -3.0}, std::pair{20.0, 2.0}}) {
      ShapeGeometry s = make_shape(kind, cx, cy, 24, 0.5 * shape_max_rotation(kind));
      BoxXYXY b = shape_bounds_in_image(s, 40, 40);
      double x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9;
      for (double y = 0; y <= 40; y += 0.05)
        for (double x = 0; x <= 40; x += 0.05)
          if (shape_contains(s, x, y))
            x1 = std::min(x1, x), y1 = std::min(y1, y), x2 = std::max(x2, x), y2 = std::max(y2, y);
      if (x2 < x1) {  // nothing inside (a thin arrow may miss the image): an empty box
        EXPECT_EQ(box_area(b), 0.0) << shape_kind_name(kind) << " at " << cx << "," << cy;
        continue;
      }
      EXPECT_NEAR(x1, b.x1, 0.15) << shape_kind_name(kind) << " at " << cx << "," << cy;
      EXPECT_NEAR(y1, b.y1, 0.15) << shape_kind_name(kind) << " at " << cx << "," << cy;
      EXPECT_NEAR(x2, b.x2, 0.15) << shape_kind_name(kind) << " at " << cx << "," << cy;
      EXPECT_NEAR(y2, b.y2, 0.15) << shape_kind_name(kind) << " at " << cx << "," << cy;
    }
  }
  ShapeGeometry ring = make_shape(ShapeKind::kShapeRing, 0, 0, 20, 0);
  EXPECT_FALSE(shape_contains(ring, 0, 0));  // the hole
  EXPECT_TRUE(shape_contains(ring, 9, 0));
  EXPECT_EQ(parse_shape_kind("star"), ShapeKind::kShapeStar);
  EXPECT_THROW(parse_shape_kind("blob"), InputError);
}

TEST(SynthVocab, CategoriesAndHeldOutPattern) {
  const std::vector<std::string> held = default_held_out_combinations(10);
  ASSERT_EQ(held.size(), 10u);
  std::map<std::string, int> colour_count, shape_count;
  for (const std::string& h : held) {
    ++colour_count[h.substr(0, h.find(' '))];
    ++shape_count[h.substr(h.find(' ') + 1)];
  }
  EXPECT_EQ(colour_count.size(), 10u);  // each colour held out once
  EXPECT_EQ(shape_count.size(), 10u);   // each shape held out once
  const std::vector<std::string> twenty = default_held_out_combinations(20);
  EXPECT_EQ(std::set<std::string>(twenty.begin(), twenty.end()).size(), 20u);
  EXPECT_THROW(default_held_out_combinations(21), InputError);

  const std::vector<SynthCategory> cats = synth_categories(held);
  ASSERT_EQ(cats.size(), 100u);
  for (std::size_t i = 0; i < cats.size(); ++i) {
    EXPECT_EQ(cats[i].id, static_cast<int>(i) + 1);
    EXPECT_EQ(cats[i].seen, std::find(held.begin(), held.end(), cats[i].name) == held.end());
  }
  EXPECT_EQ(cats[0].name, "red circle");
  EXPECT_THROW(synth_categories({"mauve star"}), InputError);
}

TEST(SynthVocab, EveryPhraseMapsBackToItsCategory) {
  const auto map = synth_phrase_to_category();
  EXPECT_EQ(map.at("red star"), "red star");
  EXPECT_EQ(map.at("crimson star"), "red star");
  EXPECT_EQ(map.at("red five-pointed star"), "red star");
  EXPECT_EQ(map.at("small scarlet pentagram"), "red star");
  const nlohmann::json syn = synth_synonyms_json();
  EXPECT_TRUE(syn["categories"].contains("red star"));
  SynthRng rng(1);
  for (const SynthCategory& cat : synth_categories({})) {
    EXPECT_EQ(describe_synth_object(cat, 30, false, 0.0, rng), cat.name);
    for (int i = 0; i < 10; ++i) {
      const std::string phrase = describe_synth_object(cat, 5 + 5 * i, true, 0.7, rng);
      ASSERT_TRUE(map.count(phrase)) << phrase;
      EXPECT_EQ(map.at(phrase), cat.name) << phrase;
    }
  }
}

TEST(Synth, SameSeedSamePixelsAndJsonOtherSeedDiffers) {
  SynthConfig c = small_config();
  const SynthDataset a = synthesize(c, SynthSplit::kSynthTrain);
  c.num_threads = 1;
  const SynthDataset b = synthesize(c, SynthSplit::kSynthTrain);
  ASSERT_EQ(a.images.size(), 24u);
  for (std::size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].image, b.images[i].image) << i;
    EXPECT_EQ(encode_png(a.images[i].image, 1), encode_png(b.images[i].image, 1)) << i;
  }
  EXPECT_EQ(synth_coco_json(c, a).dump(), synth_coco_json(c, b).dump());
  // One image made on its own equals the same image made inside the whole split.
  EXPECT_EQ(synthesize_image(c, SynthSplit::kSynthTrain, 5).image, a.images[5].image);

  c.seed = 1;
  const SynthDataset other = synthesize(c, SynthSplit::kSynthTrain);
  int differing = 0;
  for (std::size_t i = 0; i < a.images.size(); ++i) differing += other.images[i].image != a.images[i].image;
  EXPECT_EQ(differing, 24);
  EXPECT_NE(synth_coco_json(c, other)["annotations"].dump(), synth_coco_json(c, a)["annotations"].dump());
  // Splits draw from different streams.
  EXPECT_NE(synthesize_image(c, SynthSplit::kSynthVal, 0).image,
            synthesize_image(c, SynthSplit::kSynthTrain, 0).image);
}

TEST(Synth, BoxesLieInsideTheImageWithPositiveSize) {
  SynthConfig c = small_config();
  c.image_width = 96, c.image_height = 80;
  for (SynthSplit split : kAllSynthSplits) {
    const SynthDataset ds = synthesize(c, split);
    for (const SynthImage& im : ds.images) {
      EXPECT_EQ(im.image.width(), 96);
      EXPECT_EQ(im.image.height(), 80);
      EXPECT_FALSE(im.objects.empty());
      for (const SynthObject& o : im.objects) {
        EXPECT_GE(o.box.x1, 0);
        EXPECT_GE(o.box.y1, 0);
        EXPECT_LE(o.box.x2, 96);
        EXPECT_LE(o.box.y2, 80);
        EXPECT_GE(o.box.x2 - o.box.x1, c.min_box_side_px - 0.01);
        EXPECT_GE(o.box.y2 - o.box.y1, c.min_box_side_px - 0.01);
        EXPECT_NEAR(o.box.x1 * 100, std::round(o.box.x1 * 100), 1e-6);  // centi-pixel rounding
      }
    }
  }
}

TEST(Synth, BoxOfAnIsolatedObjectIsTightToItsPixels) {
  SynthConfig c = clean_config();
  c.num_train = 80, c.min_objects = c.max_objects = 1;
  const SynthDataset ds = synthesize(c, SynthSplit::kSynthTrain);
  for (const SynthImage& im : ds.images) {
    ASSERT_EQ(im.objects.size(), 1u);
    const SynthObject& o = im.objects[0];
    const RgbColor bg = most_common_colour(im.image);
    const int x1 = static_cast<int>(std::floor(o.box.x1)), y1 = static_cast<int>(std::floor(o.box.y1));
    const int x2 = static_cast<int>(std::ceil(o.box.x2)), y2 = static_cast<int>(std::ceil(o.box.y2));
    // The object's colour reaches each side: some pixel within 2 px inside each edge is >= 30% covered.
    EXPECT_GE(max_coverage(im.image, x1, y1, x1 + 2, y2, o.colour, bg), 0.3) << im.file_name << " left";
    EXPECT_GE(max_coverage(im.image, x2 - 2, y1, x2, y2, o.colour, bg), 0.3) << im.file_name << " right";
    EXPECT_GE(max_coverage(im.image, x1, y1, x2, y1 + 2, o.colour, bg), 0.3) << im.file_name << " top";
    EXPECT_GE(max_coverage(im.image, x1, y2 - 2, x2, y2, o.colour, bg), 0.3) << im.file_name << " bottom";
    // And nothing of it is drawn outside the box (pixels wholly outside show the background).
    for (int y = 0; y < im.image.height(); ++y)
      for (int x = 0; x < im.image.width(); ++x)
        if (x < x1 || x >= x2 || y < y1 || y >= y2) {
          ASSERT_EQ(im.image.at(x, y), bg) << im.file_name << " " << x << "," << y;
        }
  }
}

TEST(Synth, BoxesStayTightUnderOcclusion) {
  SynthConfig c = clean_config();
  c.num_train = 40, c.min_objects = 8, c.max_objects = 14;
  const SynthDataset ds = synthesize(c, SynthSplit::kSynthTrain);
  int checked = 0, occluded = 0;
  for (const SynthImage& im : ds.images) {
    const RgbColor bg = most_common_colour(im.image);
    for (std::size_t i = 0; i < im.objects.size(); ++i) {
      const SynthObject& o = im.objects[i];
      const int x1 = static_cast<int>(std::floor(o.box.x1)), y1 = static_cast<int>(std::floor(o.box.y1));
      const int x2 = static_cast<int>(std::ceil(o.box.x2)), y2 = static_cast<int>(std::ceil(o.box.y2));
      // Each side of the box still shows the object within 2.5 px (1 px allowed shrink + pixel rounding).
      EXPECT_GE(max_coverage(im.image, x1, y1, x1 + 3, y2, o.colour, bg), 0.3) << im.file_name << " #" << i;
      EXPECT_GE(max_coverage(im.image, x2 - 3, y1, x2, y2, o.colour, bg), 0.3) << im.file_name << " #" << i;
      EXPECT_GE(max_coverage(im.image, x1, y1, x2, y1 + 3, o.colour, bg), 0.3) << im.file_name << " #" << i;
      EXPECT_GE(max_coverage(im.image, x1, y2 - 3, x2, y2, o.colour, bg), 0.3) << im.file_name << " #" << i;
      ++checked;
      for (std::size_t j = i + 1; j < im.objects.size(); ++j)
        occluded += box_intersection_area(o.box, im.objects[j].box) > 0;
    }
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(occluded, 20) << "the generator should produce overlapping objects";
}

TEST(Synth, HeldOutCombinationsOnlyInNovel) {
  SynthConfig c = small_config();
  c.num_train = 150, c.num_val = 40, c.num_novel = 40, c.num_dense = 10;
  const std::vector<SynthCategory> cats = synth_categories(synth_held_out(c));
  std::set<int> unseen;
  for (const SynthCategory& k : cats)
    if (!k.seen) unseen.insert(k.id);
  ASSERT_EQ(unseen.size(), 10u);
  std::set<int> train_ids;
  for (SynthSplit split : {SynthSplit::kSynthTrain, SynthSplit::kSynthVal, SynthSplit::kSynthDense})
    for (const SynthImage& im : synthesize(c, split).images)
      for (const SynthObject& o : im.objects) {
        ASSERT_FALSE(unseen.count(o.category_id))
            << synth_split_name(split) << " has held-out " << o.category_id;
        if (split == SynthSplit::kSynthTrain) train_ids.insert(o.category_id);
      }
  EXPECT_EQ(train_ids.size(), 90u) << "every seen combination appears in 150 training images";
  std::set<int> novel_ids;
  for (const SynthImage& im : synthesize(c, SynthSplit::kSynthNovel).images)
    for (const SynthObject& o : im.objects) {
      EXPECT_TRUE(unseen.count(o.category_id));
      novel_ids.insert(o.category_id);
    }
  EXPECT_EQ(novel_ids.size(), 10u);
  // Mixed novel split: every image still has a held-out object, and seen ones appear too.
  c.novel_seen_fraction = 0.5;
  int seen_objects = 0;
  for (const SynthImage& im : synthesize(c, SynthSplit::kSynthNovel).images) {
    EXPECT_TRUE(std::any_of(im.objects.begin(), im.objects.end(),
                            [&](auto& o) { return unseen.count(o.category_id); }));
    for (const SynthObject& o : im.objects) seen_objects += !unseen.count(o.category_id);
  }
  EXPECT_GT(seen_objects, 20);
}

TEST(Synth, DenseSplitHasMoreAndSmallerObjects) {
  SynthConfig c = small_config();
  c.num_train = 30, c.num_dense = 10;
  auto stats = [&](SynthSplit s) {
    double objects = 0, side = 0;
    const SynthDataset ds = synthesize(c, s);
    for (const SynthImage& im : ds.images)
      for (const SynthObject& o : im.objects)
        objects += 1, side += std::max(o.box.x2 - o.box.x1, o.box.y2 - o.box.y1);
    return std::pair{objects / ds.images.size(), side / objects};
  };
  auto [train_count, train_side] = stats(SynthSplit::kSynthTrain);
  auto [dense_count, dense_side] = stats(SynthSplit::kSynthDense);
  EXPECT_GE(dense_count, 20.0);
  EXPECT_LT(train_count, 12.5);
  EXPECT_LT(dense_side, 0.6 * train_side);
}

TEST(Synth, ObjectCountsRespectTheConfig) {
  SynthConfig c = small_config();
  c.num_train = 60, c.min_objects = 2, c.max_objects = 5;
  int min_seen = 100, max_seen = 0;
  for (const SynthImage& im : synthesize(c, SynthSplit::kSynthTrain).images) {
    min_seen = std::min<int>(min_seen, im.objects.size());
    max_seen = std::max<int>(max_seen, im.objects.size());
  }
  EXPECT_GE(min_seen, 2);
  EXPECT_EQ(max_seen, 5);
}

TEST(Synth, CocoJsonHasTheRequiredFields) {
  SynthConfig c = small_config();
  const SynthDataset ds = synthesize(c, SynthSplit::kSynthVal);
  const nlohmann::json j = nlohmann::json::parse(synth_coco_json(c, ds).dump());
  ASSERT_EQ(j["images"].size(), 8u);
  std::set<int> image_ids;
  for (const auto& im : j["images"]) {
    image_ids.insert(im["id"].get<int>());
    EXPECT_EQ(im["width"], 128);
    EXPECT_EQ(im["height"], 128);
    EXPECT_TRUE(im["file_name"].get<std::string>().starts_with("val/"));
  }
  ASSERT_EQ(j["categories"].size(), 100u);
  std::map<int, std::string> names;
  for (const auto& cat : j["categories"]) {
    names[cat["id"].get<int>()] = cat["name"].get<std::string>();
    EXPECT_TRUE(cat["seen"].is_boolean());
    EXPECT_TRUE(cat["supercategory"].is_string());
  }
  int expected_id = 1;
  for (const auto& a : j["annotations"]) {
    EXPECT_EQ(a["id"], expected_id++);
    EXPECT_TRUE(image_ids.count(a["image_id"].get<int>()));
    ASSERT_TRUE(names.count(a["category_id"].get<int>()));
    ASSERT_EQ(a["bbox"].size(), 4u);
    const double w = a["bbox"][2], h = a["bbox"][3];
    EXPECT_GT(w, 0);
    EXPECT_GT(h, 0);
    EXPECT_NEAR(a["area"].get<double>(), w * h, 0.01);
    EXPECT_EQ(a["iscrowd"], 0);
    EXPECT_EQ(a["description"], names[a["category_id"].get<int>()]);  // default: description = category
  }
  EXPECT_GT(expected_id, 8);
}

TEST(SynthWriter, WritesEverySplitDeterministically) {
  std::random_device rd;
  const fs::path root = fs::temp_directory_path() / ("coordexp_synth_test_" + std::to_string(rd()));
  SynthConfig c = small_config();
  c.num_train = 10, c.num_val = 3, c.num_novel = 3, c.num_dense = 2;
  std::map<std::string, int> last_progress;
  SynthWriteSummary s =
      write_synth_dataset(c, (root / "a").string(), [&](SynthSplit sp, int done, int total) {
        last_progress[synth_split_name(sp)] = std::max(last_progress[synth_split_name(sp)], done);
        EXPECT_LE(done, total);
      });
  ASSERT_EQ(s.splits.size(), 4u);
  EXPECT_EQ(last_progress["train"], 10);
  const std::map<std::string, int> expected = {{"train", 10}, {"val", 3}, {"novel", 3}, {"dense", 2}};
  for (const auto& [name, n] : expected) {
    const nlohmann::json j = read_json(root / "a" / (name + ".json"));
    ASSERT_EQ(j["images"].size(), static_cast<std::size_t>(n)) << name;
    for (const auto& im : j["images"]) {
      const ImageRGB8 loaded = load_png((root / "a" / im["file_name"].get<std::string>()).string());
      EXPECT_EQ(loaded.width(), 128);
    }
  }
  // The files hold exactly the in-memory images.
  EXPECT_EQ(load_png((root / "a" / "train" / "000004.png").string()),
            synthesize_image(c, SynthSplit::kSynthTrain, 3).image);
  const nlohmann::json meta = read_json(root / "a" / "dataset.json");
  EXPECT_EQ(meta["splits"]["dense"]["images"], 2);
  EXPECT_EQ(synth_config_from_json(meta["config"], "dataset.json").num_train, 10);
  EXPECT_TRUE(read_json(root / "a" / "synonyms.json")["categories"].contains("blue ring"));

  c.num_threads = 1;  // another thread count, same bytes
  write_synth_dataset(c, (root / "b").string());
  for (const char* f : {"train.json", "novel.json", "train/000007.png", "dense/000002.png"}) {
    std::ifstream fa(root / "a" / f, std::ios::binary), fb(root / "b" / f, std::ios::binary);
    std::string sa((std::istreambuf_iterator<char>(fa)), {}), sb((std::istreambuf_iterator<char>(fb)), {});
    EXPECT_FALSE(sa.empty()) << f;
    EXPECT_EQ(sa, sb) << f;
  }
  fs::remove_all(root);
}

TEST(SynthConfig, ValidationNamesTheField) {
  SynthConfig c;
  c.max_objects = 0;
  try {
    validate_synth_config(c);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("min_objects"), std::string::npos) << e.what();
  }
  c = SynthConfig();
  c.held_out = {"red star", "plaid circle"};
  try {
    validate_synth_config(c);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("held_out[1]"), std::string::npos) << e.what();
  }
  c = SynthConfig();
  c.noise_sigma = -1;
  EXPECT_THROW(validate_synth_config(c), InputError);
  EXPECT_THROW(synthesize(c, SynthSplit::kSynthTrain), InputError);
  c = SynthConfig();
  c.num_held_out = 0, c.num_novel = 0;  // valid without a novel split, but no novel image can be made
  EXPECT_NO_THROW(synthesize_image(c, SynthSplit::kSynthTrain, 0));
  EXPECT_THROW(synthesize_image(c, SynthSplit::kSynthNovel, 0), InputError);
  // An output "directory" that is a file.
  const fs::path file =
      fs::temp_directory_path() / ("coordexp_synth_not_a_dir_" + std::to_string(std::random_device()()));
  std::ofstream(file) << "x";
  c = small_config();
  EXPECT_THROW(write_synth_dataset(c, file.string()), InputError);
  fs::remove(file);
  EXPECT_NO_THROW(validate_synth_config(SynthConfig()));
}

TEST(SynthConfig, JsonRoundTripRejectsUnknownKeysAndWrongTypes) {
  SynthConfig c;
  c.seed = 77, c.num_train = 5, c.held_out = {"red star"}, c.describe_size = true, c.noise_sigma = 2.5;
  const nlohmann::json j = synth_config_to_json(c);
  const SynthConfig back = synth_config_from_json(j, "cfg.json");
  EXPECT_EQ(synth_config_to_json(back), j);
  try {
    synth_config_from_json({{"max_objectz", 3}}, "cfg.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: max_objectz"), std::string::npos) << e.what();
  }
  try {
    synth_config_from_json({{"max_objects", "many"}}, "cfg.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: max_objects"), std::string::npos) << e.what();
  }
  try {
    synth_config_from_json({{"seed", -3}}, "run.json: synth");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("run.json: synth.seed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synth_config_from_json({{"held_out", {1, 2}}}, "cfg.json"), InputError);
  EXPECT_THROW(synth_config_from_json(nlohmann::json::array(), "cfg.json"), InputError);
  EXPECT_EQ(parse_synth_split("novel"), SynthSplit::kSynthNovel);
  EXPECT_THROW(parse_synth_split("test"), InputError);
}

TEST(SynthConfig, ShippedConfigsLoadAndValidate) {
  for (const char* name : {"openshapes_hard.json"}) {
    const std::string path = std::string(COORDEXP_SOURCE_DIR) + "/configs/synth/" + name;
    std::ifstream f(path);
    ASSERT_TRUE(f) << path;
    const SynthConfig c = synth_config_from_json(nlohmann::json::parse(f), path);
    EXPECT_NO_THROW(validate_synth_config(c)) << name;
  }
  // the harder split: smaller objects, more of them, more overlap than the default
  std::ifstream f(std::string(COORDEXP_SOURCE_DIR) + "/configs/synth/openshapes_hard.json");
  const SynthConfig hard = synth_config_from_json(nlohmann::json::parse(f), "hard");
  const SynthConfig base;
  EXPECT_LT(hard.max_object_size, base.max_object_size);
  EXPECT_GT(hard.min_objects, base.min_objects);
  EXPECT_LT(hard.min_visible_fraction, base.min_visible_fraction);
}

}  // namespace
}  // namespace coordexp
