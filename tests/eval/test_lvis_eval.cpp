// Hand-computed LVIS federated results, written as literals: each test works out the PR curve by hand and
// pins one lvis-api rule (negative / not-exhaustive / unlisted categories, frequency groups, the per-image
// cap across categories, the strict area filter), plus bad input and the report formats.
#include <gtest/gtest.h>

#include <cfloat>
#include <nlohmann/json.hpp>

#include "coordexp/eval/lvis_eval.hpp"
#include "coordexp/eval/lvis_summary.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

constexpr double kTol = 1e-12;
// Positions in LvisSummary::stats.
enum { AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR, ARs, ARm, ARl };

struct LvisRun {
  LvisSummary summary;
  CocoAccumulation acc;
};

// A small LVIS ground truth + results pair in memory.
struct LvisCase {
  nlohmann::json gt = {{"images", nlohmann::json::array()},
                       {"annotations", nlohmann::json::array()},
                       {"categories", nlohmann::json::array()}};
  nlohmann::json dt = nlohmann::json::array();
  LvisCase& image(int64_t id, std::vector<int64_t> neg = {}, std::vector<int64_t> not_exhaustive = {}) {
    gt["images"].push_back({{"id", id},
                            {"width", 640},
                            {"height", 480},
                            {"neg_category_ids", neg},
                            {"not_exhaustive_category_ids", not_exhaustive}});
    return *this;
  }
  LvisCase& category(int64_t id, const char* frequency) {
    gt["categories"].push_back({{"id", id}, {"name", "cat" + std::to_string(id)}, {"frequency", frequency}});
    return *this;
  }
  LvisCase& box(int64_t id, int64_t image, int64_t cat, std::array<double, 4> b, double area = -1) {
    gt["annotations"].push_back({{"id", id},
                                 {"image_id", image},
                                 {"category_id", cat},
                                 {"bbox", b},
                                 {"area", area < 0 ? b[2] * b[3] : area}});
    return *this;
  }
  LvisCase& det(int64_t image, int64_t cat, std::array<double, 4> b, double score) {
    dt.push_back({{"image_id", image}, {"category_id", cat}, {"bbox", b}, {"score", score}});
    return *this;
  }
  LvisRun run(LvisEvalOptions options = {}) const {
    const auto g = parse_coco_dataset(gt.dump(), "gt.json");
    const auto d = parse_detection_results(dt.dump(), "dt.json");
    LvisEvaluator ev(g, d, options);
    ev.accumulate();
    return {summarize_lvis(ev, g), ev.accumulation()};
  }
};

LvisEvalOptions with_cap(int64_t cap) {
  LvisEvalOptions o;
  o.params.max_dets_per_image = cap;
  return o;
}

TEST(LvisEvalKnown, PerfectDetectionOfOneSmallFrequentBox) {
  auto r =
      LvisCase().image(1).category(1, "f").box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9).run();
  const std::array<double, 13> want = {1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, -1, -1};
  for (size_t i = 0; i < 13; ++i) EXPECT_NEAR(r.summary.stats[i], want[i], kTol) << r.summary.names[i];
}

TEST(LvisEvalKnown, DetectionOfANegativeCategoryIsAFalsePositive) {
  // Image 2 is verified free of category 1: its detection (score .9) ranks before the hit on image 1.
  // Sorted: FP, TP -> rc = [0, 1], pr = [0, 1/(2+eps)], envelope 1/(2+eps) at every recall point.
  auto r = LvisCase()
               .image(1)
               .image(2, {1})
               .category(1, "f")
               .box(1, 1, 1, {0, 0, 10, 10})
               .det(2, 1, {0, 0, 10, 10}, .9)
               .det(1, 1, {0, 0, 10, 10}, .8)
               .run();
  EXPECT_NEAR(r.summary.stats[AP], 1.0 / (2.0 + DBL_EPSILON), kTol);
  EXPECT_NEAR(r.summary.stats[APf], 0.5, kTol);
  EXPECT_NEAR(r.summary.stats[AR], 1.0, kTol);
  EXPECT_EQ(r.summary.counts.dt_used, 2);
  // Without the negative list image 2 says nothing about category 1: the detection is dropped.
  auto unlisted = LvisCase()
                      .image(1)
                      .image(2)
                      .category(1, "f")
                      .box(1, 1, 1, {0, 0, 10, 10})
                      .det(2, 1, {0, 0, 10, 10}, .9)
                      .det(1, 1, {0, 0, 10, 10}, .8)
                      .run();
  EXPECT_NEAR(unlisted.summary.stats[AP], 1.0, kTol);
  EXPECT_EQ(unlisted.summary.counts.dt_not_federated, 1);
}

TEST(LvisEvalKnown, UnmatchedDetectionOfANotExhaustiveCategoryIsIgnored) {
  // The miss (score .9) would halve precision; on a not-exhaustive category it is ignored.
  auto ne = LvisCase()
                .image(1, {}, {1})
                .category(1, "c")
                .box(1, 1, 1, {0, 0, 10, 10})
                .det(1, 1, {50, 50, 10, 10}, .9)
                .det(1, 1, {0, 0, 10, 10}, .8)
                .run();
  EXPECT_NEAR(ne.summary.stats[AP], 1.0, kTol);
  EXPECT_NEAR(ne.summary.stats[APc], 1.0, kTol);
  auto exhaustive = LvisCase()
                        .image(1)
                        .category(1, "c")
                        .box(1, 1, 1, {0, 0, 10, 10})
                        .det(1, 1, {50, 50, 10, 10}, .9)
                        .det(1, 1, {0, 0, 10, 10}, .8)
                        .run();
  EXPECT_NEAR(exhaustive.summary.stats[AP], 1.0 / (2.0 + DBL_EPSILON), kTol);
  // Matches still count: a duplicate of the hit is unmatched (ignored), the hit is a true positive.
  auto dup = LvisCase()
                 .image(1, {}, {1})
                 .category(1, "c")
                 .box(1, 1, 1, {0, 0, 10, 10})
                 .det(1, 1, {0, 0, 10, 10}, .9)
                 .det(1, 1, {0, 0, 10, 10}, .8)
                 .run();
  EXPECT_NEAR(dup.summary.stats[AP], 1.0, kTol);
  EXPECT_NEAR(dup.summary.stats[AR], 1.0, kTol);
  // Only on the image that lists it: image 2 is exhaustive for category 1 and has it as negative.
  auto other = LvisCase()
                   .image(1, {}, {1})
                   .image(2, {1})
                   .category(1, "c")
                   .box(1, 1, 1, {0, 0, 10, 10})
                   .det(2, 1, {50, 50, 10, 10}, .9)
                   .det(1, 1, {0, 0, 10, 10}, .8)
                   .run();
  EXPECT_NEAR(other.summary.stats[AP], 1.0 / (2.0 + DBL_EPSILON), kTol);
}

TEST(LvisEvalKnown, DetectionOfACategoryNeitherPositiveNorNegativeIsIgnored) {
  // Category 2 has GT on image 2 only; image 1 neither has it nor lists it as negative, so the
  // high-scoring category-2 box on image 1 is dropped and both categories are perfect.
  LvisCase c;
  c.image(1)
      .image(2)
      .category(1, "f")
      .category(2, "f")
      .box(1, 1, 1, {0, 0, 10, 10})
      .box(2, 2, 2, {0, 0, 10, 10})
      .det(1, 2, {0, 0, 10, 10}, .95)
      .det(2, 2, {0, 0, 10, 10}, .9)
      .det(1, 1, {0, 0, 10, 10}, .9);
  auto r = c.run();
  EXPECT_NEAR(r.summary.stats[AP], 1.0, kTol);
  EXPECT_EQ(r.summary.counts.dt_not_federated, 1);
  EXPECT_EQ(r.summary.counts.dt_used, 2);
  // Listing category 2 as negative on image 1 makes it a false positive ranked first: AP(cat 2) = 1/2.
  c.gt["images"][0]["neg_category_ids"] = {2};
  auto neg = c.run();
  EXPECT_NEAR(neg.summary.per_category[1].ap.ap, 1.0 / (2.0 + DBL_EPSILON), kTol);
  EXPECT_NEAR(neg.summary.stats[AP], (1.0 + 1.0 / (2.0 + DBL_EPSILON)) / 2.0, kTol);
}

TEST(LvisEvalKnown, ApSplitsByFrequencyAndCategoriesWithoutGtAreLeftOut) {
  // cat 1 (rare): perfect, AP 1. cat 2 (common): miss ranked first, AP 1/2. cat 3 (frequent): GT never
  // detected, AP 0. cat 4 (rare): no GT anywhere, -1 and left out of APr and AP.
  auto r = LvisCase()
               .image(1)
               .image(2)
               .image(3)
               .category(1, "r")
               .category(2, "c")
               .category(3, "f")
               .category(4, "r")
               .box(1, 1, 1, {0, 0, 10, 10})
               .box(2, 2, 2, {0, 0, 10, 10})
               .box(3, 3, 3, {0, 0, 10, 10})
               .det(1, 1, {0, 0, 10, 10}, .9)
               .det(2, 2, {50, 50, 10, 10}, .9)
               .det(2, 2, {0, 0, 10, 10}, .8)
               .run();
  const double half = 1.0 / (2.0 + DBL_EPSILON);
  EXPECT_NEAR(r.summary.stats[APr], 1.0, kTol);
  EXPECT_NEAR(r.summary.stats[APc], half, kTol);
  EXPECT_NEAR(r.summary.stats[APf], 0.0, kTol);
  EXPECT_NEAR(r.summary.stats[AP], (1.0 + half + 0.0) / 3.0, kTol);
  EXPECT_NEAR(r.summary.stats[AR], 2.0 / 3.0, kTol);
  EXPECT_EQ(r.summary.per_category[3].ap.ap, -1);
  EXPECT_EQ(r.summary.per_category[0].frequency, 'r');
  EXPECT_EQ(r.summary.per_category[2].frequency, 'f');
}

TEST(LvisEvalKnown, AreaRangesUseTheGtArea) {
  // A medium box (40x40 = 1600) found exactly and a large one (100x100) missed.
  auto r = LvisCase()
               .image(1)
               .category(1, "f")
               .box(1, 1, 1, {0, 0, 40, 40})
               .box(2, 1, 1, {200, 200, 100, 100})
               .det(1, 1, {0, 0, 40, 40}, .9)
               .run();
  EXPECT_NEAR(r.summary.stats[APs], -1, kTol);
  EXPECT_NEAR(r.summary.stats[APm], 1, kTol);
  EXPECT_NEAR(r.summary.stats[APl], 0, kTol);
  EXPECT_NEAR(r.summary.stats[ARm], 1, kTol);
  EXPECT_NEAR(r.summary.stats[ARl], 0, kTol);
  EXPECT_NEAR(r.summary.stats[AR], 0.5, kTol);
}

TEST(LvisEvalKnown, ThreeHundredDetectionsPerImageAcrossCategories) {
  // 300 category-2 boxes (one hit at .95, 299 misses at .9) outrank the only category-1 box (.5): the
  // cap is per image over all categories, so the category-1 hit is cut and cat 1 gets AP 0.
  LvisCase c;
  c.image(1).category(1, "f").category(2, "f").box(1, 1, 1, {0, 0, 10, 10}).box(2, 1, 2, {100, 100, 10, 10});
  c.det(1, 2, {100, 100, 10, 10}, .95);
  for (int i = 0; i < 299; ++i) c.det(1, 2, {300.0 + i, 300, 10, 10}, .9);
  c.det(1, 1, {0, 0, 10, 10}, .5);
  auto r = c.run();
  EXPECT_EQ(r.summary.counts.dt_over_image_cap, 1);
  EXPECT_NEAR(r.summary.per_category[0].ap.ap, 0.0, kTol);
  EXPECT_NEAR(r.summary.per_category[1].ap.ap, 1.0, kTol);
  EXPECT_NEAR(r.summary.stats[AP], 0.5, kTol);
  EXPECT_NEAR(r.summary.stats[AR], 0.5, kTol);
  // A per-category cap would have kept it; so does a per-image cap of 301.
  auto wider = c.run(with_cap(301));
  EXPECT_NEAR(wider.summary.stats[AP], 1.0, kTol);
  EXPECT_EQ(wider.summary.names[AR], "AR@301");
}

TEST(LvisEvalKnown, CapCountsUnknownCategoriesAndKeepsFileOrderOnTies) {
  // Cap 1: a detection on a category absent from the GT (score .99) takes the image's only slot.
  auto unknown = LvisCase()
                     .image(1)
                     .category(1, "f")
                     .box(1, 1, 1, {0, 0, 10, 10})
                     .det(1, 99, {0, 0, 10, 10}, .99)
                     .det(1, 1, {0, 0, 10, 10}, .5)
                     .run(with_cap(1));
  EXPECT_NEAR(unknown.summary.stats[AP], 0.0, kTol);
  EXPECT_EQ(unknown.summary.counts.dt_over_image_cap, 1);
  EXPECT_EQ(unknown.summary.counts.dt_dropped_unknown_category, 1);
  // Equal scores: the earlier entry in the file survives the cut.
  auto miss_first = LvisCase()
                        .image(1)
                        .category(1, "f")
                        .box(1, 1, 1, {0, 0, 10, 10})
                        .det(1, 1, {50, 50, 10, 10}, .5)
                        .det(1, 1, {0, 0, 10, 10}, .5)
                        .run(with_cap(1));
  EXPECT_NEAR(miss_first.summary.stats[AP], 0.0, kTol);
  auto hit_first = LvisCase()
                       .image(1)
                       .category(1, "f")
                       .box(1, 1, 1, {0, 0, 10, 10})
                       .det(1, 1, {0, 0, 10, 10}, .5)
                       .det(1, 1, {50, 50, 10, 10}, .5)
                       .run(with_cap(1));
  EXPECT_NEAR(hit_first.summary.stats[AP], 1.0, kTol);
  // No cap at all with a negative value.
  auto uncapped = LvisCase()
                      .image(1)
                      .category(1, "f")
                      .box(1, 1, 1, {0, 0, 10, 10})
                      .det(1, 99, {0, 0, 10, 10}, .99)
                      .det(1, 1, {0, 0, 10, 10}, .5)
                      .run(with_cap(-1));
  EXPECT_NEAR(uncapped.summary.stats[AP], 1.0, kTol);
}

TEST(LvisEvalKnown, ZeroAreaGtAndDetectionsAreDropped) {
  // get_ann_ids keeps 0 < area < inf: the area-0 GT is gone, so category 1 is not positive on the image
  // (its detection is dropped too) and has no GT (-1). A zero-width detection is dropped as well.
  auto r = LvisCase()
               .image(1)
               .category(1, "f")
               .category(2, "f")
               .box(1, 1, 1, {0, 0, 10, 10}, 0)
               .box(2, 1, 2, {0, 0, 10, 10})
               .det(1, 1, {0, 0, 10, 10}, .9)
               .det(1, 2, {50, 50, 0, 10}, .95)
               .det(1, 2, {0, 0, 10, 10}, .8)
               .run();
  EXPECT_EQ(r.summary.counts.gt_dropped_zero_area, 1);
  EXPECT_EQ(r.summary.counts.dt_dropped_zero_area, 1);
  EXPECT_EQ(r.summary.counts.dt_not_federated, 1);
  EXPECT_EQ(r.summary.per_category[0].ap.ap, -1);
  EXPECT_NEAR(r.summary.stats[AP], 1.0, kTol);
}

TEST(LvisEvalKnown, CrowdFlagIsNotUsed) {
  // LVISEval compares every box as a normal region: a box inside a crowd-flagged GT is a miss here.
  LvisCase c;
  c.image(1)
      .category(1, "f")
      .box(1, 1, 1, {0, 0, 10, 10})
      .box(2, 1, 1, {50, 50, 100, 100})
      .det(1, 1, {60, 60, 10, 10}, .9)
      .det(1, 1, {0, 0, 10, 10}, .8);
  c.gt["annotations"][1]["iscrowd"] = 1;
  auto r = c.run();
  EXPECT_NEAR(r.summary.stats[APs], 1.0 / (2.0 + DBL_EPSILON), kTol);
  EXPECT_NEAR(r.summary.stats[AR], 0.5, kTol);
}

TEST(LvisEvalKnown, IgnoreFlagMakesAnIgnoreRegion) {
  // lvis-api's evaluate_img: a GT with "ignore" set is ignored in every area range (_ignore = 1): a
  // detection matched to it is ignored rather than a true positive, and it is not counted in npig. Its
  // category still counts as present on the image (_prepare's img_pl takes every GT).
  // Category 1: A (normal) and B (ignore) with detections on B (.9), nowhere (.8) and on A (.7). Sorted
  // without the ignored one: FP, TP; npig = 1, rc = [0, 1], pr = [0, 1/(2+eps)], envelope 1/(2+eps)
  // at every recall point and IoU threshold. Category 2 ("r") has only an ignored box: its detection is
  // kept (not "neither positive nor negative") and the category has no GT to recall (-1, APr = -1).
  auto make = [](nlohmann::json ignore_b, bool with_category_2) {
    LvisCase c;
    c.image(1)
        .category(1, "f")
        .category(2, "r")
        .box(1, 1, 1, {0, 0, 10, 10})
        .box(2, 1, 1, {50, 50, 10, 10})
        .det(1, 1, {50, 50, 10, 10}, .9)
        .det(1, 1, {100, 100, 10, 10}, .8)
        .det(1, 1, {0, 0, 10, 10}, .7);
    c.gt["annotations"][1]["ignore"] = ignore_b;
    if (with_category_2) {
      c.box(3, 1, 2, {200, 200, 10, 10}).det(1, 2, {300, 300, 10, 10}, .95);
      c.gt["annotations"][2]["ignore"] = 1;
    }
    return c.run();
  };
  for (const nlohmann::json& flag : {nlohmann::json(1), nlohmann::json(true), nlohmann::json(2.0)}) {
    auto r = make(flag, true);
    const double want = 1.0 / (2.0 + DBL_EPSILON);
    for (int s : {AP, AP50, AP75, APs, APf})
      EXPECT_NEAR(r.summary.stats[s], want, kTol) << r.summary.names[s];
    for (int s : {APm, APl, APr, APc, ARm, ARl}) EXPECT_EQ(r.summary.stats[s], -1) << r.summary.names[s];
    EXPECT_NEAR(r.summary.stats[AR], 1.0, kTol);
    EXPECT_EQ(r.summary.counts.dt_used, 4);
    EXPECT_EQ(r.summary.counts.dt_not_federated, 0);
    EXPECT_EQ(r.summary.per_category[1].ap.ap, -1);
  }
  // "ignore": 0 (or absent): B is a normal box. TP, FP, TP with npig = 2: rc = [.5, .5, 1],
  // pr = [1/(1+eps), 1/(2+eps), 2/(3+eps)]: 51 recall points (<= .5) read 1/(1+eps), 50 read 2/(3+eps).
  auto plain = make(0, false);
  EXPECT_NEAR(plain.summary.stats[AP], (51.0 / (1.0 + DBL_EPSILON) + 100.0 / (3.0 + DBL_EPSILON)) / 101.0,
              kTol);
  EXPECT_NEAR(plain.summary.stats[AR], 1.0, kTol);
}

TEST(LvisEvalInput, MissingFrequencyNamesFileIndexAndField) {
  LvisCase c;
  c.image(1).category(1, "f").box(1, 1, 1, {0, 0, 10, 10});
  c.gt["categories"].push_back({{"id", 2}, {"name", "no_freq"}});
  const auto g = parse_coco_dataset(c.gt.dump(), "lvis_val.json");
  const auto d = parse_detection_results("[]", "dt.json");
  try {
    LvisEvaluator ev(g, d);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("lvis_val.json: categories[1].frequency"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no frequency"), std::string::npos) << msg;
  }
  c.gt["categories"][1]["frequency"] = "x";
  EXPECT_THROW(validate_lvis_ground_truth(parse_coco_dataset(c.gt.dump(), "lvis_val.json")), InputError);
}

TEST(LvisEvalInput, DetectionOnUnknownImageIsAnErrorOrASkip) {
  LvisCase c;
  c.image(1)
      .category(1, "f")
      .box(1, 1, 1, {0, 0, 10, 10})
      .det(7, 1, {0, 0, 10, 10}, .9)
      .det(1, 1, {0, 0, 10, 10}, .8);
  try {
    c.run();
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dt.json: [0].image_id"), std::string::npos) << e.what();
  }
  LvisEvalOptions skip;
  skip.unknown_image = UnknownImagePolicy::kUnknownImageSkip;
  auto r = c.run(skip);
  EXPECT_EQ(r.summary.counts.dt_skipped_unknown_image, 1);
  EXPECT_NEAR(r.summary.stats[AP], 1.0, kTol);
}

TEST(LvisEvalInput, EmptyResultsGiveZerosWhereGtExists) {
  auto r = LvisCase().image(1).category(1, "r").category(2, "c").box(1, 1, 1, {0, 0, 10, 10}).run();
  EXPECT_NEAR(r.summary.stats[AP], 0, kTol);
  EXPECT_NEAR(r.summary.stats[APr], 0, kTol);
  EXPECT_NEAR(r.summary.stats[APc], -1, kTol);
  EXPECT_NEAR(r.summary.stats[AR], 0, kTol);
}

TEST(LvisEvalInput, LooksLikeLvisNeedsFrequencyAndImageLists) {
  LvisCase c;
  c.image(1, {2}).category(1, "f");
  EXPECT_TRUE(looks_like_lvis(parse_coco_dataset(c.gt.dump(), "gt.json")));
  c.gt["images"][0].erase("neg_category_ids");
  EXPECT_FALSE(looks_like_lvis(parse_coco_dataset(c.gt.dump(), "gt.json")));
  LvisCase coco;
  coco.image(1, {2}).category(1, "f");
  coco.gt["categories"][0].erase("frequency");
  EXPECT_FALSE(looks_like_lvis(parse_coco_dataset(coco.gt.dump(), "gt.json")));
}

TEST(LvisEvalReport, TableFollowsPrintResultsAndJsonNamesTheStats) {
  auto r =
      LvisCase().image(1).category(1, "f").box(1, 1, 1, {0, 0, 10, 10}).det(1, 1, {0, 0, 10, 10}, .9).run();
  const std::string table = format_lvis_summary_table(r.summary, LvisEvalParams{});
  EXPECT_NE(
      table.find(
          " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=all] = 1.000\n"),
      std::string::npos)
      << table;
  EXPECT_NE(
      table.find(
          " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=300 catIds=all] = 1.000\n"),
      std::string::npos)
      << table;
  EXPECT_NE(
      table.find(
          " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=  r] = -1.000\n"),
      std::string::npos)
      << table;
  EXPECT_NE(
      table.find(
          " Average Recall     (AR) @[ IoU=0.50:0.95 | area=     s | maxDets=300 catIds=all] = 1.000\n"),
      std::string::npos)
      << table;
  const auto j = nlohmann::json::parse(lvis_summary_to_json(r.summary, true));
  ASSERT_EQ(j["stats"].size(), 13u);
  EXPECT_EQ(j["evaluation"], "lvis");
  const std::vector<std::string> names = {"AP",  "AP50", "AP75",   "APs",     "APm",     "APl",    "APr",
                                          "APc", "APf",  "AR@300", "ARs@300", "ARm@300", "ARl@300"};
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(j["stats_named"][names[i]], j["stats"][i]) << names[i];
  EXPECT_EQ(j["per_category"][0]["frequency"], "f");
}

}  // namespace
}  // namespace coordexp
