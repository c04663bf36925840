// load_detection_dataset on each format it reads (COCO, LVIS, referring expressions, ODVG), told apart by
// content: the records each becomes (exhaustive, verified categories, phrase), the skips counted and named,
// and the errors that name file, entry and field. Datasets and images are written at test time.
#include <gtest/gtest.h>

#include <algorithm>

#include "coordexp/data/detection_dataset.hpp"
#include "test_dataset_util.hpp"

namespace coordexp {
namespace {

using namespace dataset_test;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool any_contains(const std::vector<std::string>& names, const std::string& part) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return contains(n, part); });
}

TEST(DetectionDatasetCoco, ExhaustiveRecordsAndNamedSkips) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 40, 20);
  write_png(d / "empty.png", 10, 10);
  const auto json = write_text(d / "train.json", R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 20},
               {"id": 2, "file_name": "empty.png", "width": 10, "height": 10},
               {"id": 3, "file_name": "gone.png", "width": 10, "height": 10},
               {"id": 4, "file_name": "a.png"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 2, 8, 4], "description": "red cat"},
                    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [-5, 0, 10, 10]},
                    {"id": 3, "image_id": 1, "category_id": 1, "bbox": [50, 0, 5, 5]},
                    {"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1},
                    {"id": 5, "image_id": 1, "category_id": 7, "bbox": [0, 0, 5, 5]},
                    {"id": 6, "image_id": 1, "category_id": 1, "bbox": [39.5, 0, 1, 5]}],
    "categories": [{"id": 1, "name": "cat"}]
  })");
  const DetectionDataset ds = load_detection_dataset(json.string(), "", true);
  EXPECT_EQ(ds.format, "coco");
  EXPECT_EQ(ds.records_in_file, 4);
  ASSERT_EQ(ds.images.size(), 2u);  // the image without annotations is kept
  const DatasetImage& a = ds.images[0];
  EXPECT_TRUE(a.exhaustive);
  EXPECT_TRUE(a.verified_categories.empty());
  EXPECT_TRUE(a.phrase.empty());
  ASSERT_EQ(a.objects.size(), 3u);
  EXPECT_EQ(a.objects[0].description, "red cat");
  EXPECT_EQ(a.objects[0].box, (BoxXYXY{0.1, 0.1, 0.3, 0.3}));
  EXPECT_EQ(a.objects[1].description, "cat");
  EXPECT_DOUBLE_EQ(a.objects[1].box.x1, 0.0);  // clipped, and counted: 5 px outside
  EXPECT_DOUBLE_EQ(a.objects[2].box.x2, 1.0);  // clipped, not counted: half a pixel over the edge
  EXPECT_TRUE(ds.images[1].objects.empty());
  EXPECT_EQ(ds.skips.missing_image_files, 1);
  EXPECT_EQ(ds.skips.images_without_size, 1);
  EXPECT_EQ(ds.skips.degenerate_boxes, 1);
  EXPECT_EQ(ds.skips.crowd_boxes, 1);
  EXPECT_EQ(ds.skips.unknown_categories, 1);
  EXPECT_EQ(ds.skips.clipped_boxes, 1);
  EXPECT_TRUE(any_contains(ds.skip_names.missing_image_files, "gone.png"));
  EXPECT_TRUE(any_contains(ds.skip_names.images_without_size, "images[3] (id 4)"));
  EXPECT_TRUE(any_contains(ds.skip_names.degenerate_boxes, "annotations[2] (image 1)"));
  EXPECT_TRUE(any_contains(ds.skip_names.clipped_boxes, "annotations[1] (image 1)"));
  EXPECT_TRUE(any_contains(ds.skip_names.unknown_categories, "annotations[4] (image 1): category 7"));
  const std::string skips = ds.describe_skips();
  EXPECT_TRUE(contains(skips, "1 boxes clipped to the image")) << skips;
  EXPECT_TRUE(contains(skips, "1 images skipped (file missing)")) << skips;
  // Without use_description the category name describes every object.
  EXPECT_EQ(load_detection_dataset(json.string(), "", false).images[0].objects[0].description, "cat");
}

TEST(DetectionDatasetCoco, NoUsableImageIsAnErrorNamingTheFirstMissingFile) {
  const fs::path d = fresh_dir();
  const auto json = write_text(d / "b.json", R"({"images": [{"id": 1, "file_name": "x.png", "width": 4,
    "height": 4}], "annotations": [], "categories": []})");
  const std::string msg = input_error_of([&] { load_detection_dataset(json.string(), "", true); });
  EXPECT_TRUE(contains(msg, "none usable (1 images skipped (file missing))")) << msg;
  EXPECT_TRUE(contains(msg, "x.png")) << msg;
  // The checker's entry point returns the empty dataset instead, its skips named.
  const DetectionDataset ds = load_detection_dataset_allow_empty(json.string(), "", true);
  EXPECT_TRUE(ds.images.empty());
  EXPECT_EQ(ds.skips.missing_image_files, 1);
}

TEST(DetectionDatasetCoco, ImageRootAndOneLineFiles) {
  const fs::path d = fresh_dir();
  fs::create_directories(d / "pics");
  write_png(d / "pics" / "a.png", 8, 8);
  // One line, as coordexp writes COCO: still one document, not JSON Lines.
  const auto json =
      write_text(d / "one.json", R"({"images": [{"id": 5, "file_name": "a.png", "width": 8, "height": 8}],)"
                                 R"( "annotations": [], "categories": [{"id": 1, "name": "x"}]})"
                                 "\n");
  const DetectionDataset ds = load_detection_dataset(json.string(), (d / "pics").string(), true);
  EXPECT_EQ(ds.format, "coco");
  ASSERT_EQ(ds.images.size(), 1u);
  EXPECT_EQ(ds.images[0].path, (d / "pics" / "a.png").string());
}

// The hand-made LVIS image of the federated rules: which categories a category-list prompt may name.
TEST(DetectionDatasetLvis, VerifiedCategoriesFollowTheFederatedLists) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 20, 20);
  const auto json = write_text(d / "lvis.json", R"({
    "images": [
      {"id": 1, "file_name": "a.png", "width": 20, "height": 20, "neg_category_ids": [4, 3, 99],
       "not_exhaustive_category_ids": [2]},
      {"id": 2, "file_name": "a.png", "width": 20, "height": 20, "not_exhaustive_category_ids": [2]},
      {"id": 3, "file_name": "a.png", "width": 20, "height": 20, "neg_category_ids": [4]},
      {"id": 4, "file_name": "a.png", "width": 20, "height": 20, "neg_category_ids": [3],
       "not_exhaustive_category_ids": [77]}],
    "annotations": [
      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
      {"id": 2, "image_id": 1, "category_id": 2, "bbox": [2, 2, 5, 5]},
      {"id": 3, "image_id": 2, "category_id": 2, "bbox": [2, 2, 5, 5]},
      {"id": 4, "image_id": 4, "category_id": 1, "bbox": [2, 2, 5, 5]},
      {"id": 5, "image_id": 4, "category_id": 1, "bbox": [8, 8, 5, 5], "iscrowd": 1}],
    "categories": [{"id": 1, "name": "cat", "frequency": "f"}, {"id": 2, "name": "dog", "frequency": "c"},
                   {"id": 3, "name": "bird", "frequency": "r"}, {"id": 4, "name": "fish", "frequency": "f"}]
  })");
  const DetectionDataset ds = load_detection_dataset(json.string(), "", true);
  EXPECT_EQ(ds.format, "lvis");
  ASSERT_EQ(ds.images.size(), 3u);
  // Image 1: cat (positive, exhaustive) and the negatives 3, 4 (sorted); dog is not exhaustive; 99 unknown.
  EXPECT_EQ(ds.images[0].image_id, 1);
  EXPECT_FALSE(ds.images[0].exhaustive);
  EXPECT_EQ(ds.images[0].verified_categories, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(ds.images[0].objects.size(), 2u);  // every box is kept; a prompt targets its categories' boxes
  // Image 2: only a non-exhaustive positive, no negative: nothing a prompt may ask for, skipped.
  // Image 3: no boxes, one verified-absent category: kept (it teaches "no fish here").
  EXPECT_EQ(ds.images[1].image_id, 3);
  EXPECT_EQ(ds.images[1].verified_categories, (std::vector<int64_t>{4}));
  EXPECT_TRUE(ds.images[1].objects.empty());
  // Image 4: a crowd region of cat keeps cat out of the verified set.
  EXPECT_EQ(ds.images[2].image_id, 4);
  EXPECT_EQ(ds.images[2].verified_categories, (std::vector<int64_t>{3}));
  EXPECT_EQ(ds.skips.images_without_verified_categories, 1);
  EXPECT_EQ(ds.skips.unknown_listed_categories, 2);
  EXPECT_EQ(ds.skips.crowd_boxes, 1);
  EXPECT_TRUE(any_contains(ds.skip_names.images_without_verified_categories, "images[1] (id 2)"));
  EXPECT_TRUE(any_contains(ds.skip_names.unknown_listed_categories,
                           "images[0] (id 1).neg_category_ids: category 99"));
  EXPECT_TRUE(any_contains(ds.skip_names.unknown_listed_categories,
                           "images[3] (id 4).not_exhaustive_category_ids: category 77"));
}

TEST(DetectionDatasetLvis, FrequencyAloneIsNotLvis) {
  CocoDataset coco;
  coco.categories.push_back({1, "cat", "f", {}});
  coco.images.push_back({1, "a.png", 4, 4, {}, {}, ""});
  EXPECT_FALSE(coco_looks_like_lvis(coco));
  coco.images[0].neg_category_ids = {1};
  EXPECT_TRUE(coco_looks_like_lvis(coco));
}

TEST(DetectionDatasetRefexp, EachImageEntryIsOneExpression) {
  const fs::path d = fresh_dir();
  write_png(d / "COCO_train2014_000000000009.jpg", 50, 40);  // a PNG named .jpg: read by its bytes
  const auto json = write_text(d / "refcoco.json", R"({
    "images": [
      {"id": 100, "file_name": "COCO_train2014_000000000009.jpg", "width": 50, "height": 40,
       "caption": "man in red shirt", "original_id": 9},
      {"id": 101, "file_name": "COCO_train2014_000000000009.jpg", "width": 50, "height": 40,
       "caption": "the two dogs on the left"},
      {"id": 102, "file_name": "COCO_train2014_000000000009.jpg", "width": 50, "height": 40}],
    "annotations": [
      {"id": 1, "image_id": 100, "category_id": 1, "bbox": [5, 4, 10, 8], "tokens_positive": [[0, 3]]},
      {"id": 2, "image_id": 101, "category_id": 18, "bbox": [0, 0, 10, 10]},
      {"id": 3, "image_id": 101, "category_id": 18, "bbox": [10, 0, 10, 10]},
      {"id": 4, "image_id": 102, "category_id": 18, "bbox": [10, 0, 10, 10]}],
    "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]
  })");
  const DetectionDataset ds = load_detection_dataset(json.string(), "", true);
  EXPECT_EQ(ds.format, "refexp");
  ASSERT_EQ(ds.images.size(), 2u);
  EXPECT_EQ(ds.images[0].phrase, "man in red shirt");
  EXPECT_FALSE(ds.images[0].exhaustive);
  EXPECT_TRUE(ds.images[0].verified_categories.empty());
  ASSERT_EQ(ds.images[0].objects.size(), 1u);
  EXPECT_EQ(ds.images[0].objects[0].description, "man in red shirt");
  EXPECT_EQ(ds.images[0].objects[0].category_id, 1);
  EXPECT_EQ(ds.images[0].objects[0].box, (BoxXYXY{0.1, 0.1, 0.3, 0.3}));
  EXPECT_EQ(ds.images[1].phrase, "the two dogs on the left");
  EXPECT_EQ(ds.images[1].objects.size(), 2u);
  EXPECT_EQ(ds.images[0].path, ds.images[1].path);
  EXPECT_EQ(ds.skips.records_without_phrase, 1);
  EXPECT_TRUE(any_contains(ds.skip_names.records_without_phrase, "images[2] (id 102)"));
  EXPECT_EQ(ds.coco.images[0].caption, "man in red shirt");  // the file as read, for evaluation
}

TEST(DetectionDatasetRefexp, CaptionRoundTripsThroughCocoJson) {
  CocoDataset coco;
  coco.images.push_back({1, "a.png", 4, 4, {}, {}, "the cup"});
  const CocoDataset again = parse_coco_dataset(coco_dataset_to_json(coco), "again.json");
  EXPECT_EQ(again.images[0].caption, "the cup");
  EXPECT_TRUE(coco_looks_like_refexp(again));
  EXPECT_FALSE(contains(coco_dataset_to_json(CocoDataset{}), "caption"));
}

TEST(DetectionDatasetFormat, JsonLinesAreOdvgWhateverTheName) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 10, 10);
  const std::string line =
      R"({"filename": "a.png", "height": 10, "width": 10, "detection": {"instances": []}})";
  // Two lines, named .json: ODVG. One line: a document with "filename", ODVG too.
  EXPECT_EQ(load_detection_dataset(write_text(d / "two.json", line + "\n\n" + line + "\n").string(), "", true)
                .format,
            "odvg");
  EXPECT_EQ(load_detection_dataset(write_text(d / "one.jsonl", line).string(), "", true).format, "odvg");
  // Pretty-printed COCO: its first line alone is not JSON.
  const auto pretty = write_text(d / "pretty.json",
                                 "{\n  \"images\": [{\"id\": 1, \"file_name\": \"a.png\",\n"
                                 "  \"width\": 10, \"height\": 10}],\n  \"categories\": []\n}\n");
  EXPECT_EQ(load_detection_dataset(pretty.string(), "", true).format, "coco");
  // JSON Lines of something else: named as an ODVG problem on line 1.
  const auto other = write_text(d / "preds.jsonl", "{\"image_id\": 1}\n{\"image_id\": 2}\n");
  const std::string msg = input_error_of([&] { load_detection_dataset(other.string(), "", true); });
  EXPECT_TRUE(contains(msg, "preds.jsonl:1: filename")) << msg;
  // A broken document: named as malformed JSON.
  const auto broken = write_text(d / "broken.json", "{\"images\": [\n");
  EXPECT_TRUE(
      contains(input_error_of([&] { load_detection_dataset(broken.string(), "", true); }), "malformed JSON"));
  EXPECT_TRUE(contains(input_error_of([&] { load_detection_dataset((d / "nope.json").string(), "", true); }),
                       "nope.json"));
}

}  // namespace
}  // namespace coordexp
