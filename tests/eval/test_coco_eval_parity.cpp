// Parity with the numpy reference (tests/eval/ref/cocoeval_ref.py): hundreds of random cases plus edge
// cases (no detections, crowd boxes, empty images, >100 detections per image, score ties, categories
// without GT, unknown categories, zero-area boxes, id 0, 64-bit ids, duplicate ids, integer JSON
// numbers). Every stat, per-category AP, recall entry and precision fingerprint must agree to < 1e-12.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_util.hpp"

namespace coordexp {
namespace {

using nlohmann::json;
constexpr double kTol = 1e-12;

struct CaseGenerator {
  std::mt19937_64 rng;
  explicit CaseGenerator(uint64_t seed) : rng(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); }
  bool chance(double p) { return uniform(0, 1) < p; }

  // A number written either as a JSON float or, when `as_int`, as an integer.
  json number(double v, bool as_int) { return as_int ? json(int64_t(std::floor(v))) : json(v); }

  std::pair<json, json> make_case(int style) {
    json gt = {{"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
    json dt = json::array();
    const bool int_boxes = chance(0.3);
    const bool tie_scores = chance(0.3);
    const bool big_ids = chance(0.2);
    const int num_images = style == 1 ? 1 : integer(0, 6);
    const int num_cats = integer(1, 4);
    std::vector<int64_t> images, cats;
    for (int i = 0; i < num_images; ++i) {
      int64_t id = big_ids ? (int64_t(1) << 40) + integer(0, 1 << 20) : integer(0, 50);
      if (chance(0.05)) id = -id;
      images.push_back(id);
      gt["images"].push_back({{"id", id}, {"file_name", "x.jpg"}, {"width", 640}, {"height", 480}});
    }
    for (int k = 0; k < num_cats; ++k) {
      const int64_t id = big_ids ? (int64_t(3) << 33) + k : integer(0, 90);
      cats.push_back(id);
      gt["categories"].push_back({{"id", id}, {"name", "c" + std::to_string(k)}});
    }
    int64_t next_ann = chance(0.2) ? 0 : 1;  // id 0 exercises the dtMatches == 0 quirk
    auto box = [&](double scale) {
      const double w = std::exp(uniform(std::log(1.0), std::log(scale)));
      const double h = std::exp(uniform(std::log(1.0), std::log(scale)));
      return std::array<double, 4>{uniform(0, 300), uniform(0, 300), w, h};
    };
    auto write_box = [&](const std::array<double, 4>& b) {
      return json::array({number(b[0], int_boxes), number(b[1], int_boxes), number(b[2], int_boxes),
                          number(b[3], int_boxes)});
    };
    auto score = [&]() { return tie_scores ? integer(1, 4) / 4.0 : uniform(0, 1); };
    for (int64_t img : images) {
      for (int64_t cat : cats) {
        if (chance(0.25)) continue;  // empty (image, category) pairs and categories without GT
        const int n_gt = style == 1 ? integer(1, 5) : integer(0, 6);
        for (int g = 0; g < n_gt; ++g) {
          auto b = box(chance(0.5) ? 40 : 250);
          if (int_boxes) b = {std::floor(b[0]), std::floor(b[1]), std::floor(b[2]) + 1, std::floor(b[3]) + 1};
          double area = b[2] * b[3];
          if (chance(0.2)) area *= uniform(0.4, 1.2);  // segment area differs from the box
          if (chance(0.05)) area = chance(0.5) ? 1024 : 9216;
          const bool crowd = chance(0.1);
          int64_t id = next_ann++;
          if (chance(0.02) && id > 1) id -= 1;  // a repeated annotation id
          json ann = {{"id", id},           {"image_id", img},
                      {"category_id", cat}, {"bbox", write_box(b)},
                      {"area", area},       {"iscrowd", chance(0.5) ? json(crowd ? 1 : 0) : json(crowd)}};
          if (chance(0.05)) ann["ignore"] = 1;  // overwritten from iscrowd by pycocotools' _prepare
          gt["annotations"].push_back(ann);
          if (chance(0.7)) {  // a detection near this GT box
            const int copies = chance(0.2) ? 2 : 1;
            for (int c = 0; c < copies; ++c) {
              const double j = uniform(0, 0.3);
              std::array<double, 4> d = {b[0] + uniform(-j, j) * b[2], b[1] + uniform(-j, j) * b[3],
                                         b[2] * (1 + uniform(-j, j)), b[3] * (1 + uniform(-j, j))};
              dt.push_back(
                  {{"image_id", img}, {"category_id", cat}, {"bbox", write_box(d)}, {"score", score()}});
            }
          }
        }
        const int n_fp = style == 2 ? integer(100, 160) : integer(0, 4);  // style 2: > 100 per image
        for (int f = 0; f < n_fp; ++f) {
          auto b = box(chance(0.5) ? 40 : 250);
          if (chance(0.05)) b[2] = 0;  // zero-area box
          dt.push_back({{"image_id", img}, {"category_id", cat}, {"bbox", write_box(b)}, {"score", score()}});
        }
      }
      if (chance(0.1))
        dt.push_back({{"image_id", img}, {"category_id", 100000}, {"bbox", {1, 2, 3, 4}}, {"score", 0.99}});
    }
    if (style == 3) dt = json::array();  // no detections at all
    // Shuffle results so file order differs from image order.
    std::vector<json> items(dt.begin(), dt.end());
    std::shuffle(items.begin(), items.end(), rng);
    return {gt, json(items)};
  }
};

void expect_matches_reference(const test::CppEval& got, const json& ref, const std::string& label) {
  ASSERT_FALSE(ref.contains("error")) << label << ": " << ref.dump();
  for (size_t i = 0; i < 12; ++i)
    EXPECT_NEAR(got.summary.stats[i], ref["stats"][i].get<double>(), kTol) << label << " stat " << i;
  const auto& pc = ref["per_category_ap"];
  ASSERT_EQ(pc.size(), got.summary.per_category.size()) << label;
  for (size_t k = 0; k < pc.size(); ++k)
    EXPECT_NEAR(got.summary.per_category[k].ap, pc[k].get<double>(), kTol) << label << " category " << k;
  const auto& rec = ref["recall"];
  ASSERT_EQ(rec.size(), got.acc.recall.size()) << label;
  for (size_t i = 0; i < rec.size(); ++i)
    EXPECT_NEAR(got.acc.recall[i], rec[i].get<double>(), kTol) << label << " recall " << i;
  const auto& acc = got.acc;
  size_t n = 0;
  for (size_t k = 0; k < acc.K; ++k)
    for (size_t a = 0; a < acc.A; ++a)
      for (size_t m = 0; m < acc.M; ++m, ++n) {
        double sum = 0;
        for (size_t t = 0; t < acc.T; ++t)
          for (size_t r = 0; r < acc.R; ++r) sum += acc.precision_at(t, r, k, a, m);
        EXPECT_NEAR(sum / double(acc.T * acc.R), ref["precision_mean_kam"][n].get<double>(), kTol)
            << label << " precision k=" << k << " a=" << a << " m=" << m;
      }
}

// Writes `cases` into a temp dir, runs the reference once on all of them, compares each (class-agnostic,
// pycocotools' useCats = 0, when `use_cats` is false).
void check_cases(const std::vector<std::pair<json, json>>& cases, const std::string& tag,
                 bool use_cats = true) {
  const auto dir = test::make_temp_dir(tag);
  for (size_t i = 0; i < cases.size(); ++i) {
    test::write_json(dir / ("case_" + std::to_string(i) + "_gt.json"), cases[i].first);
    test::write_json(dir / ("case_" + std::to_string(i) + "_dt.json"), cases[i].second);
  }
  const json ref = test::run_reference(std::string(use_cats ? "" : "--agnostic ") + "--batch " +
                                       dir.string() + " " + std::to_string(cases.size()));
  CocoEvalOptions options;
  options.params.use_cats = use_cats;
  ASSERT_EQ(ref.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string gt = (dir / ("case_" + std::to_string(i) + "_gt.json")).string();
    const std::string dt = (dir / ("case_" + std::to_string(i) + "_dt.json")).string();
    expect_matches_reference(test::evaluate_files(gt, dt, options), ref[i],
                             tag + " case " + std::to_string(i));
  }
  std::filesystem::remove_all(dir);
}

TEST(CocoEvalParity, RandomCasesMatchTheNumpyReference) {
  CaseGenerator gen(20240611);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 300; ++i) cases.push_back(gen.make_case(i % 10 == 0 ? 1 : 0));
  check_cases(cases, "random");
}

TEST(CocoEvalParity, EdgeCaseStylesMatchTheNumpyReference) {
  CaseGenerator gen(7);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 12; ++i) cases.push_back(gen.make_case(2));  // > 100 detections per image
  for (int i = 0; i < 10; ++i) cases.push_back(gen.make_case(3));  // empty results
  // Hand-made: GT without annotations, only crowd GT, and everything in one image.
  json no_anns = {{"images", {{{"id", 1}}}},
                  {"categories", {{{"id", 1}, {"name", "a"}}}},
                  {"annotations", json::array()}};
  cases.push_back(
      {no_anns, json::array({{{"image_id", 1}, {"category_id", 1}, {"bbox", {0, 0, 5, 5}}, {"score", .5}}})});
  json crowd_only = no_anns;
  crowd_only["annotations"].push_back({{"id", 1},
                                       {"image_id", 1},
                                       {"category_id", 1},
                                       {"bbox", {0, 0, 50, 50}},
                                       {"area", 2500},
                                       {"iscrowd", 1}});
  cases.push_back(
      {crowd_only,
       json::array({{{"image_id", 1}, {"category_id", 1}, {"bbox", {0, 0, 5, 5}}, {"score", .5}}})});
  check_cases(cases, "edge");
}

TEST(CocoEvalParity, ClassAgnosticCasesMatchTheNumpyReference) {
  // useCats = 0 pools categories per image; score ties (30% of cases) resolve by category order there
  CaseGenerator gen(31337);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 200; ++i) cases.push_back(gen.make_case(i % 10 == 0 ? 1 : (i % 10 == 1 ? 2 : 0)));
  check_cases(cases, "agnostic", /*use_cats=*/false);
}

// Evaluate splits few categories into runs of cells and accumulate works per (category, area range, cap):
// the precision, recall and score tables must be the same bytes at 1, 2 and 3 threads.
TEST(CocoEvalParity, TablesAreTheSameBytesAtAnyThreadCount) {
  CaseGenerator gen(424242);
  for (int i = 0; i < 60; ++i) {
    const auto [gt_json, dt_json] = gen.make_case(i % 6 == 0 ? 2 : 0);
    const auto gt = parse_coco_dataset(gt_json.dump(), "gt.json");
    const auto dt = parse_detection_results(dt_json.dump(), "dt.json");
    for (bool use_cats : {true, false}) {
      std::vector<CocoAccumulation> tables;
      for (unsigned threads : {1u, 2u, 3u}) {
        CocoEvalOptions options;
        options.num_threads = threads;
        options.params.use_cats = use_cats;
        CocoEvaluator ev(gt, dt, options);
        ev.accumulate();
        tables.push_back(ev.accumulation());
      }
      for (size_t j = 1; j < tables.size(); ++j) {
        const std::string label = "case " + std::to_string(i) + (use_cats ? "" : " agnostic");
        EXPECT_TRUE(test::same_bytes(tables[0].precision, tables[j].precision)) << label;
        EXPECT_TRUE(test::same_bytes(tables[0].recall, tables[j].recall)) << label;
        EXPECT_TRUE(test::same_bytes(tables[0].scores, tables[j].scores)) << label;
      }
    }
  }
}

TEST(CocoEvalParity, ReferenceAndCppAgreeThatUnknownImagesAreErrors) {
  json gt = {{"images", {{{"id", 1}}}},
             {"categories", {{{"id", 1}, {"name", "a"}}}},
             {"annotations", json::array()}};
  json dt = json::array({{{"image_id", 2}, {"category_id", 1}, {"bbox", {0, 0, 5, 5}}, {"score", .5}}});
  const auto dir = test::make_temp_dir("unknown");
  test::write_json(dir / "case_0_gt.json", gt);
  test::write_json(dir / "case_0_dt.json", dt);
  const json ref = test::run_reference("--batch " + dir.string() + " 1");
  EXPECT_EQ(ref[0]["error"], "unknown_image");
  EXPECT_THROW(test::evaluate_files((dir / "case_0_gt.json").string(), (dir / "case_0_dt.json").string()),
               InputError);
  std::filesystem::remove_all(dir);
}

TEST(CocoEvalParity, ComparisonCanFail) {
  // Guards the harness itself: a perturbed stat must be reported as a mismatch.
  CaseGenerator gen(99);
  auto c = gen.make_case(1);
  const auto dir = test::make_temp_dir("canfail");
  test::write_json(dir / "case_0_gt.json", c.first);
  test::write_json(dir / "case_0_dt.json", c.second);
  json ref = test::run_reference("--batch " + dir.string() + " 1")[0];
  ref["stats"][0] = ref["stats"][0].get<double>() + 1e-9;
  auto got = test::evaluate_files((dir / "case_0_gt.json").string(), (dir / "case_0_dt.json").string());
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    expect_matches_reference(got, ref, "perturbed");
  }
  EXPECT_GE(failures.size(), 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace coordexp
