// Parity with the numpy reference for LVIS (tests/eval/ref/lvis_eval_ref.py): random federated cases with
// negative and not-exhaustive lists, all three frequency groups, unknown categories, zero-area boxes,
// GT id 0, duplicate ids, GT "ignore" regions, score ties and images over the per-image cap. All 13 stats
// agree to < 1e-12, and the tables are the same bytes at 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "coordexp/eval/lvis_eval.hpp"
#include "coordexp/eval/lvis_summary.hpp"
#include "eval_test_util.hpp"

namespace coordexp {
namespace {

using nlohmann::json;
constexpr double kTol = 1e-12;

json run_lvis_reference(const std::string& args) {
  const std::string cmd =
      "/usr/bin/python3 " + std::string(COORDEXP_SOURCE_DIR) + "/tests/eval/ref/lvis_eval_ref.py " + args;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (pclose(pipe) != 0) throw std::runtime_error("reference failed: " + cmd);
  return json::parse(out);
}

struct LvisCaseGenerator {
  std::mt19937_64 rng;
  explicit LvisCaseGenerator(uint64_t seed) : rng(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); }
  bool chance(double p) { return uniform(0, 1) < p; }

  // many_dets: some images get more than 300 detections.
  std::pair<json, json> make_case(bool many_dets) {
    json gt = {{"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
    json dt = json::array();
    const bool ties = chance(0.3);
    const int num_images = integer(1, 6), num_cats = integer(1, 6);
    std::vector<int64_t> cats;
    for (int k = 0; k < num_cats; ++k) {
      const int64_t id = integer(1, 40);
      cats.push_back(id);
      gt["categories"].push_back({{"id", id},
                                  {"name", "c" + std::to_string(k)},
                                  {"frequency", std::string(1, "rcf"[integer(0, 2)])}});
    }
    int64_t next_ann = chance(0.2) ? 0 : 1;
    auto box = [&](double scale) {
      return std::array<double, 4>{uniform(0, 300), uniform(0, 300), std::exp(uniform(0, std::log(scale))),
                                   std::exp(uniform(0, std::log(scale)))};
    };
    auto score = [&]() { return ties ? integer(1, 4) / 4.0 : uniform(0, 1); };
    for (int i = 0; i < num_images; ++i) {
      const int64_t img = integer(1, 1000);
      json neg = json::array(), nel = json::array();
      std::vector<std::array<double, 4>> placed;
      for (int64_t cat : cats) {
        const int n = chance(0.5) ? 0 : integer(1, 4);
        if (n == 0 && chance(0.5)) neg.push_back(cat);
        if (chance(0.3)) nel.push_back(cat);
        for (int j = 0; j < n; ++j) {
          const auto b = box(chance(0.3) ? 200 : 60);
          const double area = chance(0.05) ? 0.0 : b[2] * b[3] * uniform(0.6, 1.0);
          int64_t id = next_ann++;
          if (chance(0.05) && id > 2) id -= 1;  // a duplicate id
          json ann = {{"id", id}, {"image_id", img}, {"category_id", cat}, {"bbox", b}, {"area", area}};
          if (chance(0.08)) ann["ignore"] = chance(0.5) ? json(1) : json(true);  // an ignore region
          gt["annotations"].push_back(ann);
          const int hits = integer(0, 2);
          for (int h = 0; h < hits; ++h) {
            const double jx = uniform(-0.15, 0.15) * b[2], jy = uniform(-0.15, 0.15) * b[3];
            dt.push_back(
                {{"image_id", img},
                 {"category_id", chance(0.8) ? cat : cats[size_t(integer(0, num_cats - 1))]},
                 {"bbox", {b[0] + jx, b[1] + jy, b[2] * uniform(0.8, 1.2), b[3] * uniform(0.8, 1.2)}},
                 {"score", score()}});
          }
        }
      }
      if (chance(0.2)) neg.push_back(99);  // a negative id that is no category
      gt["images"].push_back({{"id", img},
                              {"width", 640},
                              {"height", 480},
                              {"neg_category_ids", neg},
                              {"not_exhaustive_category_ids", nel}});
      const int noise = many_dets && chance(0.5) ? integer(280, 340) : integer(0, 8);
      for (int j = 0; j < noise; ++j) {
        const int64_t cat = chance(0.05) ? 99 : cats[size_t(integer(0, num_cats - 1))];
        auto b = box(150);
        if (chance(0.03)) b[2] = 0;
        dt.push_back({{"image_id", img}, {"category_id", cat}, {"bbox", b}, {"score", score()}});
      }
    }
    // Images may repeat ids by chance; keep the first of each so the lists are unambiguous.
    json images = json::array();
    std::set<int64_t> seen;
    for (auto& im : gt["images"])
      if (seen.insert(im["id"].get<int64_t>()).second) images.push_back(im);
    gt["images"] = images;
    std::shuffle(dt.begin(), dt.end(), rng);
    return {gt, dt};
  }
};

void check_cases(const std::vector<std::pair<json, json>>& cases, int64_t cap, const std::string& tag) {
  const auto dir = test::make_temp_dir(tag);
  for (size_t i = 0; i < cases.size(); ++i) {
    test::write_json(dir / ("case_" + std::to_string(i) + "_gt.json"), cases[i].first);
    test::write_json(dir / ("case_" + std::to_string(i) + "_dt.json"), cases[i].second);
  }
  const json ref = run_lvis_reference("--batch " + dir.string() + " " + std::to_string(cases.size()) + " " +
                                      std::to_string(cap));
  ASSERT_EQ(ref.size(), cases.size());
  LvisEvalOptions options;
  options.params.max_dets_per_image = cap;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto gt = load_coco_dataset((dir / ("case_" + std::to_string(i) + "_gt.json")).string());
    const auto dt = load_detection_results((dir / ("case_" + std::to_string(i) + "_dt.json")).string());
    LvisEvaluator ev(gt, dt, options);
    ev.accumulate();
    const auto summary = summarize_lvis(ev, gt);
    for (size_t s = 0; s < 13; ++s) {
      EXPECT_EQ(summary.names[s], ref[i]["names"][s].get<std::string>());
      EXPECT_NEAR(summary.stats[s], ref[i]["stats"][s].get<double>(), kTol)
          << tag << " case " << i << " " << summary.names[s];
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(LvisEvalParity, RandomCasesMatchTheNumpyReference) {
  LvisCaseGenerator gen(20240612);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 200; ++i) cases.push_back(gen.make_case(false));
  check_cases(cases, 300, "lvis_random");
}

TEST(LvisEvalParity, SmallPerImageCapMatchesTheNumpyReference) {
  LvisCaseGenerator gen(99);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 150; ++i) cases.push_back(gen.make_case(false));
  check_cases(cases, 4, "lvis_cap4");
}

TEST(LvisEvalParity, ImagesOverThreeHundredDetectionsMatchTheNumpyReference) {
  LvisCaseGenerator gen(3);
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 8; ++i) cases.push_back(gen.make_case(true));
  check_cases(cases, 300, "lvis_many");
}

TEST(LvisEvalParity, TablesAreTheSameBytesAtAnyThreadCount) {
  LvisCaseGenerator gen(5);
  for (int i = 0; i < 40; ++i) {
    const auto [gt_json, dt_json] = gen.make_case(i % 8 == 0);
    const auto gt = parse_coco_dataset(gt_json.dump(), "gt.json");
    const auto dt = parse_detection_results(dt_json.dump(), "dt.json");
    std::vector<CocoAccumulation> tables;
    for (unsigned threads : {1u, 2u, 3u}) {
      LvisEvalOptions options;
      options.num_threads = threads;
      LvisEvaluator ev(gt, dt, options);
      ev.accumulate();
      tables.push_back(ev.accumulation());
    }
    for (size_t j = 1; j < tables.size(); ++j) {
      EXPECT_TRUE(test::same_bytes(tables[0].precision, tables[j].precision)) << "case " << i;
      EXPECT_TRUE(test::same_bytes(tables[0].recall, tables[j].recall)) << "case " << i;
    }
  }
}

}  // namespace
}  // namespace coordexp
