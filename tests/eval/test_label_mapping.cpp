// Label mapping for free-text descriptions: normalisation, synonyms, embedding fallback, drops, counts.
#include <gtest/gtest.h>

#include "coordexp/eval/label_mapping.hpp"
#include "coordexp/util/error.hpp"
#include "eval_test_util.hpp"

namespace coordexp {
namespace {

std::vector<CocoCategory> shapes() {
  return {{1, "red star", "", {}},
          {2, "blue square", "", {}},
          {3, "box", "", {"carton"}},
          {4, "traffic light", "", {}}};
}

TEST(LabelMapping, NormalizesCasePunctuationAndPlurals) {
  EXPECT_EQ(normalize_label("  Red STARS!! "), "red star");
  EXPECT_EQ(normalize_label("boxes"), "box");
  EXPECT_EQ(normalize_label("berries"), "berry");
  EXPECT_EQ(normalize_label("glass"), "glass");
  EXPECT_EQ(normalize_label("traffic-lights"), "traffic light");
  EXPECT_EQ(normalize_label("bus"), "bus");
  EXPECT_EQ(normalize_label("..."), "");
}

TEST(LabelMapping, ExactThenSynonymThenEmbeddingElseDropped) {
  LabelMapperConfig config;
  config.synonyms["blue square"] = {"azure quadrilateral"};
  LabelMapper mapper(shapes(), config);
  auto m = mapper.map("Red Stars");
  EXPECT_EQ(m.kind, LabelMatchKind::kLabelMatchExact);
  EXPECT_EQ(m.category_id, 1);
  m = mapper.map("azure quadrilaterals");
  EXPECT_EQ(m.kind, LabelMatchKind::kLabelMatchSynonym);
  EXPECT_EQ(m.category_id, 2);
  m = mapper.map("cartons");  // LVIS-style synonym on the category
  EXPECT_EQ(m.kind, LabelMatchKind::kLabelMatchSynonym);
  EXPECT_EQ(m.category_id, 3);
  m = mapper.map("traffic lite");  // a typo: nearest by character n-grams
  EXPECT_EQ(m.kind, LabelMatchKind::kLabelMatchEmbedding);
  EXPECT_EQ(m.category_id, 4);
  EXPECT_GE(m.cosine, config.min_cosine);
  m = mapper.map("giraffe");
  EXPECT_EQ(m.kind, LabelMatchKind::kLabelMatchDropped);
}

TEST(LabelMapping, UnknownSynonymKeyIsAnError) {
  LabelMapperConfig config;
  config.synonyms["unicorn"] = {"horse"};
  EXPECT_THROW(LabelMapper(shapes(), config), InputError);
}

TEST(LabelMapping, SynonymFileErrorsNameTheFile) {
  const auto dir = test::make_temp_dir("syn");
  test::write_text(dir / "bad.json", R"({"red star": "not a list"})");
  try {
    load_label_synonyms((dir / "bad.json").string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: red star"), std::string::npos) << e.what();
  }
  test::write_text(dir / "good.json", R"({"red star": ["crimson star"]})");
  EXPECT_EQ(load_label_synonyms((dir / "good.json").string()).at("red star").size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(LabelMapping, MapsResultsAndCountsOutcomes) {
  ResultsLoadOptions relaxed;
  relaxed.require_category = false;
  const auto results = parse_detection_results(
      R"([{"image_id": 1, "description": "red star", "bbox": [0,0,1,1], "score": 0.9},
          {"image_id": 1, "description": "giraffe", "bbox": [0,0,1,1], "score": 0.8},
          {"image_id": 1, "description": "traffic lite", "bbox": [0,0,1,1], "score": 0.7},
          {"image_id": 1, "category_id": 2, "bbox": [0,0,1,1], "score": 0.6}])",
      "dt.json", relaxed);
  LabelMappingCounts counts;
  const auto mapped = map_result_labels(results, LabelMapper(shapes()), counts);
  EXPECT_EQ(counts.exact, 1);
  EXPECT_EQ(counts.embedding, 1);
  EXPECT_EQ(counts.dropped, 1);
  EXPECT_EQ(counts.kept_category, 1);
  ASSERT_EQ(mapped.detections.size(), 3u);
  EXPECT_EQ(mapped.detections[1].category_id, 4);
  EXPECT_EQ(mapped.detections[1].index, 2);  // file position, hence pycocotools' detection id, is kept
}

TEST(LabelEmbedder, UnitVectorsAndSimilarTextsAreClose) {
  CharNgramEmbedder e;
  const auto a = e.embed("red star"), b = e.embed("red stars"), c = e.embed("blue square");
  EXPECT_NEAR(cosine_similarity(a, a), 1.0, 1e-6);
  EXPECT_GT(cosine_similarity(a, b), cosine_similarity(a, c));
}

}  // namespace
}  // namespace coordexp
