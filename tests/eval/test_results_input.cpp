// Bad results input: every problem is an InputError naming the file, the entry index and the field, or a
// documented skip with a count. Never a crash.
#include <gtest/gtest.h>

#include "eval_test_util.hpp"

namespace coordexp {
namespace {

// Returns the InputError message, or "" when nothing was thrown.
std::string error_of(const std::string& text, const ResultsLoadOptions& options = {}) {
  try {
    parse_detection_results(text, "dt.json", options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ResultsInput, ReadsAListAndAssignsFileIndices) {
  auto r = parse_detection_results(
      R"([{"image_id": 3, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
          {"image_id": 9007199254740993, "category_id": 2, "bbox": [1.5, 2, 3, 4], "score": 1, "description": "red star"}])",
      "dt.json");
  ASSERT_EQ(r.detections.size(), 2u);
  EXPECT_EQ(r.detections[1].image_id, 9007199254740993LL);  // 64-bit ids survive exactly
  EXPECT_EQ(r.detections[1].index, 1);
  EXPECT_EQ(r.detections[1].description, "red star");
  EXPECT_EQ(r.detections[0].bbox, (BoxXYWH{1, 2, 3, 4}));
}

TEST(ResultsInput, MalformedJsonNamesTheFile) {
  const auto msg = error_of(R"([{"image_id": 1, "category_id": 1,)");
  EXPECT_NE(msg.find("dt.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
}

TEST(ResultsInput, NotAListIsAnError) {
  EXPECT_NE(error_of(R"({"image_id": 1})").find("a JSON list of detections"), std::string::npos);
}

TEST(ResultsInput, MissingFieldsNameIndexAndField) {
  EXPECT_NE(error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": 1},
                         {"category_id": 1, "bbox": [0,0,1,1], "score": 1}])")
                .find("dt.json: [1].image_id"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"image_id": 1, "bbox": [0,0,1,1], "score": 1}])").find("[0].category_id"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"image_id": 1, "category_id": 1, "score": 1}])").find("[0].bbox"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1]}])").find("[0].score"),
            std::string::npos);
}

TEST(ResultsInput, WrongTypesAreErrors) {
  EXPECT_NE(error_of(R"([{"image_id": "1", "category_id": 1, "bbox": [0,0,1,1], "score": 1}])")
                .find("found a string"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"image_id": 1.5, "category_id": 1, "bbox": [0,0,1,1], "score": 1}])")
                .find("[0].image_id"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1], "score": 1}])").find("3 values"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,"a"], "score": 1}])").find("[0].bbox"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": null}])").find("[0].score"),
      std::string::npos);
  EXPECT_NE(error_of(R"([7])").find("dt.json: [0]"), std::string::npos);
}

TEST(ResultsInput, NonFiniteScoresNameTheEntry) {
  const auto nan = error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": 1},
                                {"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": NaN}])");
  EXPECT_NE(nan.find("dt.json: [1].score"), std::string::npos) << nan;
  const auto inf = error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": -Infinity}])");
  EXPECT_NE(inf.find("[0].score"), std::string::npos) << inf;
  const auto big = error_of(R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": 1e999}])");
  EXPECT_NE(big.find("dt.json"), std::string::npos) << big;
}

TEST(ResultsInput, NegativeWidthIsAnErrorOrACountedSkip) {
  const std::string text = R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,-1,1], "score": 1},
                               {"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": 1}])";
  EXPECT_NE(error_of(text).find("[0].bbox: expected non-negative width and height"), std::string::npos);
  ResultsLoadOptions skip;
  skip.invalid_box = InvalidBoxPolicy::kInvalidBoxSkip;
  auto r = parse_detection_results(text, "dt.json", skip);
  EXPECT_EQ(r.detections.size(), 1u);
  EXPECT_EQ(r.skipped_invalid_box, 1);
  EXPECT_EQ(r.detections[0].index, 1);  // detection ids stay those of the file
  ResultsLoadOptions keep;
  keep.invalid_box = InvalidBoxPolicy::kInvalidBoxKeep;
  EXPECT_EQ(parse_detection_results(text, "dt.json", keep).detections.size(), 2u);
}

TEST(ResultsInput, KeptNegativeBoxIsIgnoredLikePycocotools) {
  // IoU 0 with everything and area w*h < 0 lies outside every area range: it is ignored, never a FP.
  test::CaseBuilder c;
  c.image(1)
      .category(1)
      .box(1, 1, 1, {0, 0, 10, 10})
      .det(1, 1, {0, 0, -10, 10}, .99)
      .det(1, 1, {0, 0, 10, 10}, .5);
  ResultsLoadOptions keep;
  keep.invalid_box = InvalidBoxPolicy::kInvalidBoxKeep;
  const auto g = parse_coco_dataset(c.gt.dump(), "gt.json");
  CocoEvaluator ev(g, parse_detection_results(c.dt.dump(), "dt.json", keep));
  ev.accumulate();
  EXPECT_NEAR(summarize_coco(ev, g).stats[0], 1.0, 1e-12);
}

TEST(ResultsInput, UnknownImageIsAnErrorOrACountedSkip) {
  test::CaseBuilder c;
  c.image(1)
      .category(1)
      .box(1, 1, 1, {0, 0, 10, 10})
      .det(1, 1, {0, 0, 10, 10}, .9)
      .det(42, 1, {0, 0, 10, 10}, .9);
  const auto g = parse_coco_dataset(c.gt.dump(), "gt.json");
  const auto d = parse_detection_results(c.dt.dump(), "dt.json");
  try {
    CocoEvaluator ev(g, d);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dt.json: [1].image_id"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("42"), std::string::npos) << e.what();
  }
  CocoEvalOptions skip;
  skip.unknown_image = UnknownImagePolicy::kUnknownImageSkip;
  CocoEvaluator ev(g, d, skip);
  ev.accumulate();
  EXPECT_EQ(ev.counts().dt_skipped_unknown_image, 1);
  EXPECT_NEAR(summarize_coco(ev, g).stats[0], 1.0, 1e-12);
}

TEST(ResultsInput, DescriptionOnlyEntriesNeedTheOption) {
  const std::string text = R"([{"image_id": 1, "description": "red star", "bbox": [0,0,1,1]}])";
  EXPECT_NE(error_of(text).find("[0].category_id"), std::string::npos);
  ResultsLoadOptions relaxed;
  relaxed.require_category = false;
  relaxed.require_score = false;
  auto r = parse_detection_results(text, "dt.json", relaxed);
  ASSERT_EQ(r.detections.size(), 1u);
  EXPECT_FALSE(r.detections[0].has_category);
  EXPECT_EQ(r.detections[0].score, 1.0);
}

TEST(ResultsInput, MissingFileIsAnInputError) {
  EXPECT_THROW(load_detection_results("/nonexistent/dt.json"), InputError);
}

TEST(ResultsInput, RoundTripsThroughJson) {
  std::vector<Detection> dets(2);
  dets[0] = {5, 2, true, {0.1, 0.2, 3.3, 4.4}, 0.123456789012345, "", 0};
  dets[1] = {(int64_t(1) << 50) + 1, 7, true, {1, 2, 3, 4}, 1e-300, "blue square", 1, 2};
  auto back = parse_detection_results(detection_results_to_json(dets), "mem");
  ASSERT_EQ(back.detections.size(), 2u);
  EXPECT_EQ(back.detections[0].score, dets[0].score);
  EXPECT_EQ(back.detections[1].image_id, dets[1].image_id);
  EXPECT_EQ(back.detections[0].bbox, dets[0].bbox);
  EXPECT_EQ(back.detections[1].description, "blue square");
  EXPECT_EQ(back.detections[0].label_rank, 0);
  EXPECT_EQ(back.detections[1].label_rank, 2);
}

TEST(ResultsInput, LabelRankMustBeANonNegativeInteger) {
  EXPECT_THROW(
      parse_detection_results(
          R"([{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1,"label_rank":-1}])", "dt.json"),
      InputError);
  EXPECT_THROW(
      parse_detection_results(
          R"([{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1,"label_rank":"a"}])", "dt.json"),
      InputError);
}

// A results file of `n` entries (~85 bytes each). When `tricky`, descriptions hold "}, {" and some entries a
// nested object, so that the loader's cut candidates fall inside strings and entries; entry `bad` (if >= 0)
// has a negative width.
std::string big_results_text(size_t n, bool tricky, int64_t bad = -1) {
  std::string text = "[";
  for (size_t i = 0; i < n; ++i) {
    text += i ? ",\n" : "";
    text += "{\"image_id\": " + std::to_string(i % 997) + ", \"category_id\": " + std::to_string(i % 7) +
            ", \"bbox\": [" + std::to_string(i % 13) + ".5, 2, " + (int64_t(i) == bad ? "-3" : "3") +
            ", 4.25], \"score\": 0." + std::to_string(i % 1000 + 1);
    if (tricky) text += ", \"description\": \"a}, {\\\"x\\\": [1]}, {b " + std::to_string(i) + "\"";
    if (tricky && i % 5 == 0) text += ", \"extra\": {\"nested\": {\"k\": [1, {\"z\": 2}]}, \"s\": \"}\"}";
    text += "}";
  }
  return text + "]\n";
}

// Files past the piece size are read in pieces on several threads: the same entries, indices and counts as
// the one-document reader, also when cut candidates fall inside strings (the loader then falls back) and
// when an entry is bad (the error names its index in the whole file).
TEST(ResultsInput, LoadingInPiecesMatchesTheWholeDocument) {
  const auto dir = test::make_temp_dir("pieces");
  for (bool tricky : {false, true}) {
    const std::string text = big_results_text(tricky ? 170000 : 280000, tricky);
    ASSERT_GT(text.size(), size_t(17) << 20);  // two pieces or more
    const auto path = (dir / "dt.json").string();
    test::write_text(path, text);
    const auto whole = parse_detection_results(text, path);
    for (unsigned threads : {1u, 3u}) {
      ResultsLoadOptions options;
      options.num_threads = threads;
      const auto loaded = load_detection_results(path, options);
      ASSERT_EQ(loaded.detections.size(), whole.detections.size());
      for (size_t i = 0; i < whole.detections.size(); ++i) {
        const Detection &a = loaded.detections[i], &b = whole.detections[i];
        ASSERT_TRUE(a.index == b.index && a.image_id == b.image_id && a.category_id == b.category_id &&
                    a.bbox == b.bbox && a.score == b.score && a.description == b.description)
            << "entry " << i;
      }
    }
  }
  const auto path = (dir / "bad.json").string();
  test::write_text(path, big_results_text(260000, false, 250000));
  try {
    load_detection_results(path);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("[250000].bbox"), std::string::npos) << e.what();
  }
  ResultsLoadOptions skip;
  skip.invalid_box = InvalidBoxPolicy::kInvalidBoxSkip;
  const auto skipped = load_detection_results(path, skip);
  EXPECT_EQ(skipped.skipped_invalid_box, 1);
  EXPECT_EQ(skipped.detections.size(), 259999u);
  EXPECT_EQ(skipped.detections.back().index, 259999);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace coordexp
