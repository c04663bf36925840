// ODVG JSON Lines (dataset_odvg.hpp): records as read, detection records (exhaustive, categories from the
// (label, category) pairs, a COCO copy for evaluation) and grounding records (one per phrase), and errors
// naming the file, the line and the field.
#include <gtest/gtest.h>

#include "coordexp/data/dataset_odvg.hpp"
#include "test_dataset_util.hpp"

namespace coordexp {
namespace {

using namespace dataset_test;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string error_of(const std::string& text) {
  return input_error_of([&] { parse_odvg(text, "d.jsonl"); });
}

constexpr const char* kDetection =
    R"({"filename": "a.png", "height": 20, "width": 40, "detection": {"instances": [)"
    R"({"bbox": [4, 2, 12, 6], "label": 3, "category": "cat"}, {"bbox": [0, 0, 40, 20], "label": 0, "category": "dog"},)"
    R"({"bbox": [-8, 0, 4, 10], "label": 3}]}})";
constexpr const char* kGrounding =
    R"({"filename": "b.png", "height": 10.0, "width": 10, "grounding": {"caption": "a red cup and a blue cup",)"
    R"( "regions": [{"bbox": [0, 0, 5, 5], "phrase": "red cup"}, {"bbox": [5, 5, 10, 10], "phrase": "blue cup"},)"
    R"( {"bbox": [[1, 1, 2, 2], [3, 3, 4, 4]], "phrase": "red cup"}]}})";

TEST(Odvg, ParsesDetectionAndGroundingLines) {
  const auto records = parse_odvg(std::string(kDetection) + "\n\n" + kGrounding + "\r\n", "d.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[0].filename, "a.png");
  EXPECT_EQ(records[0].width, 40);
  EXPECT_TRUE(records[0].has_detection);
  EXPECT_FALSE(records[0].has_grounding);
  ASSERT_EQ(records[0].instances.size(), 3u);
  EXPECT_EQ(records[0].instances[0].box, (BoxXYXY{4, 2, 12, 6}));
  EXPECT_EQ(records[0].instances[0].label, 3);
  EXPECT_EQ(records[0].instances[2].category, "");
  EXPECT_EQ(records[1].line, 3);
  EXPECT_EQ(records[1].height, 10);  // 10.0 is an integer
  EXPECT_EQ(records[1].caption, "a red cup and a blue cup");
  ASSERT_EQ(records[1].regions.size(), 3u);
  EXPECT_EQ(records[1].regions[2].boxes.size(), 2u);  // a list of boxes for one phrase
}

TEST(Odvg, PhraseFromTokensPositiveCountsCharactersNotBytes) {
  const auto records =
      parse_odvg(R"({"filename": "a.png", "grounding": {"caption": "un café au lait et un thé",)"
                 R"( "regions": [{"bbox": [0, 0, 1, 1], "tokens_positive": [[3, 7], [22, 25]]}]}})",
                 "d.jsonl");
  EXPECT_EQ(records[0].regions[0].phrase, "café thé");
}

TEST(Odvg, RecordsBecomeDetectionAndGroundingImages) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 40, 20);
  write_png(d / "b.png", 10, 10);
  const std::string missing = R"({"filename": "c.png", "height": 5, "width": 5, "detection": {}})";
  const auto records = parse_odvg(std::string(kDetection) + "\n" + kGrounding + "\n" + missing, "d.jsonl");
  const DetectionDataset ds = odvg_detection_dataset(records, "d.jsonl", d.string());
  EXPECT_EQ(ds.format, "odvg");
  EXPECT_EQ(ds.records_in_file, 3);
  ASSERT_EQ(ds.images.size(), 3u);
  const DatasetImage& det = ds.images[0];
  EXPECT_EQ(det.image_id, 1);
  EXPECT_TRUE(det.exhaustive);
  EXPECT_TRUE(det.phrase.empty());
  ASSERT_EQ(det.objects.size(), 3u);
  EXPECT_EQ(det.objects[0].description, "cat");
  EXPECT_EQ(det.objects[0].category_id, 3);
  EXPECT_EQ(det.objects[0].box, (BoxXYXY{0.1, 0.1, 0.3, 0.3}));
  EXPECT_EQ(det.objects[2].description, "cat");  // named by another instance of label 3
  EXPECT_DOUBLE_EQ(det.objects[2].box.x1, 0.0);
  EXPECT_EQ(ds.skips.clipped_boxes, 1);
  EXPECT_TRUE(contains(ds.skip_names.clipped_boxes.at(0), "d.jsonl:1: detection.instances[2]"));
  // Grounding: one record per phrase, in order of first appearance, sharing the image.
  EXPECT_EQ(ds.images[1].phrase, "red cup");
  EXPECT_EQ(ds.images[1].objects.size(), 3u);
  EXPECT_EQ(ds.images[1].objects[0].description, "red cup");
  EXPECT_EQ(ds.images[1].objects[0].category_id, kNoCategoryId);
  EXPECT_FALSE(ds.images[1].exhaustive);
  EXPECT_TRUE(ds.images[1].verified_categories.empty());
  EXPECT_EQ(ds.images[2].phrase, "blue cup");
  EXPECT_EQ(ds.images[2].objects.size(), 1u);
  EXPECT_EQ(ds.images[1].path, ds.images[2].path);
  EXPECT_NE(ds.images[1].image_id, ds.images[2].image_id);
  EXPECT_NE(ds.images[1].image_id, det.image_id);
  // Missing file: counted and named by its path.
  EXPECT_EQ(ds.skips.missing_image_files, 1);
  EXPECT_TRUE(contains(ds.skip_names.missing_image_files.at(0), "c.png"));
  // COCO copy of the detection records (the one with a missing file included, as a COCO file would be).
  ASSERT_EQ(ds.coco.categories.size(), 2u);
  EXPECT_EQ(ds.coco.categories[0].id, 0);
  EXPECT_EQ(ds.coco.categories[0].name, "dog");
  EXPECT_EQ(ds.coco.categories[1].name, "cat");
  ASSERT_EQ(ds.coco.images.size(), 2u);
  EXPECT_EQ(ds.coco.images[0].id, det.image_id);
  ASSERT_EQ(ds.coco.annotations.size(), 3u);
  EXPECT_EQ(ds.coco.annotations[0].bbox, (BoxXYWH{4, 2, 8, 4}));
  EXPECT_DOUBLE_EQ(ds.coco.annotations[0].area, 32.0);
}

TEST(Odvg, GroundingWithoutRegionsIsACountedSkip) {
  const fs::path d = fresh_dir();
  write_png(d / "b.png", 10, 10);
  const auto records = parse_odvg(
      R"({"filename": "b.png", "height": 10, "width": 10, "grounding": {"caption": "x"}})", "d.jsonl");
  const DetectionDataset ds = odvg_detection_dataset(records, "d.jsonl", d.string());
  EXPECT_TRUE(ds.images.empty());
  EXPECT_EQ(ds.skips.records_without_phrase, 1);
  EXPECT_TRUE(contains(ds.skip_names.records_without_phrase.at(0), "d.jsonl:1: grounding (no regions)"));
}

TEST(Odvg, ErrorsNameFileLineAndField) {
  const std::string ok = R"({"filename": "a.png", "detection": {"instances": []}})";
  EXPECT_TRUE(contains(error_of(ok + "\n" + ok + "\n{\"filename\": \"a.png\", \n"),
                       "d.jsonl:3: expected one JSON object"));
  EXPECT_TRUE(contains(error_of(ok + "\n[1, 2]"), "d.jsonl:2: expected an object, found an array"));
  EXPECT_TRUE(contains(error_of(R"({"detection": {}})"), "d.jsonl:1: filename: expected the image's path"));
  EXPECT_TRUE(
      contains(error_of(R"({"filename": 7, "detection": {}})"), "d.jsonl:1: filename: expected a string"));
  EXPECT_TRUE(contains(error_of(R"({"filename": "a.png"})"),
                       "d.jsonl:1: expected a \"detection\" or a \"grounding\" object, found neither"));
  EXPECT_TRUE(contains(error_of(R"({"filename": "a.png", "width": "640", "detection": {}})"),
                       "d.jsonl:1: width: expected an integer, found a string"));
  EXPECT_TRUE(contains(error_of(R"({"filename": "a.png", "width": 640.5, "detection": {}})"),
                       "d.jsonl:1: width: expected an integer"));
  const std::string bad_box =
      R"({"filename": "a.png", "detection": {"instances": [{"bbox": [0, 0, 1, 1], "label": 1}, {"bbox": [5, 5, 2, 2], "label": 1}]}})";
  const std::string msg = error_of(bad_box);
  EXPECT_TRUE(contains(msg, "d.jsonl:1: detection.instances[1].bbox: expected corners with x1 <= x2")) << msg;
  EXPECT_TRUE(contains(msg, "not [x, y, width, height]")) << msg;
  EXPECT_TRUE(contains(
      error_of(R"({"filename": "a.png", "detection": {"instances": [{"bbox": [0, 0, 1], "label": 1}]}})"),
      "detection.instances[0].bbox: expected 4 numbers"));
  EXPECT_TRUE(contains(
      error_of(
          R"({"filename": "a.png", "detection": {"instances": [{"bbox": [0, 0, 1, 1], "label": "3"}]}})"),
      "detection.instances[0].label: expected an integer, found a string"));
  EXPECT_TRUE(contains(error_of(R"({"filename": "a.png", "detection": {"instances": [{"label": 1}]}})"),
                       "detection.instances[0].bbox: expected [x1, y1, x2, y2], found no such field"));
  EXPECT_TRUE(
      contains(error_of(R"({"filename": "a.png", "grounding": {"regions": [{"bbox": [0, 0, 1, 1]}]}})"),
               "grounding.regions[0].phrase: expected the phrase"));
  EXPECT_TRUE(contains(
      error_of(
          R"({"filename": "a.png", "grounding": {"caption": "ab", "regions": [{"bbox": [0, 0, 1, 1], "tokens_positive": [[0, 5]]}]}})"),
      "grounding.regions[0].tokens_positive[0]: expected 0 <= start <= end <= the caption's length"));
  EXPECT_TRUE(contains(
      error_of(R"({"filename": "a.png", "grounding": {"regions": [{"bbox": [0, 0, 1, 1], "phrase": ""}]}})"),
      "grounding.regions[0].phrase: expected a non-empty phrase"));
}

TEST(Odvg, CategoryNamesMustBeGivenOnceAndAgree) {
  const auto two_names = parse_odvg(
      R"({"filename": "a.png", "detection": {"instances": [{"bbox": [0, 0, 1, 1], "label": 1, "category": "cat"}]}})"
      "\n"
      R"({"filename": "b.png", "detection": {"instances": [{"bbox": [0, 0, 1, 1], "label": 1, "category": "dog"}]}})",
      "d.jsonl");
  std::string msg = input_error_of([&] { odvg_detection_dataset(two_names, "d.jsonl", "."); });
  EXPECT_TRUE(contains(
      msg, "d.jsonl:2: detection.instances[0].category: expected \"cat\" (label 1's name on line 1)"))
      << msg;
  const auto unnamed =
      parse_odvg(R"({"filename": "a.png", "detection": {"instances": [{"bbox": [0, 0, 1, 1], "label": 4}]}})",
                 "d.jsonl");
  msg = input_error_of([&] { odvg_detection_dataset(unnamed, "d.jsonl", "."); });
  EXPECT_TRUE(contains(msg, "d.jsonl:1: detection.instances[0].category: expected a name for label 4"))
      << msg;
  EXPECT_TRUE(contains(msg, "label_map.json")) << msg;
}

TEST(Odvg, LoadNamesAMissingFile) {
  EXPECT_TRUE(contains(input_error_of([] { load_odvg("/nonexistent/x.jsonl"); }), "/nonexistent/x.jsonl"));
}

}  // namespace
}  // namespace coordexp
