// The dataset checker (dataset_check.hpp): its report on a dataset with one problem of each kind (missing
// file, corrupt PNG, size mismatch, out-of-image box, degenerate box), the exit status policy (0 / 1 / 2),
// --decode N, the text and JSON forms, and the real raccoon dataset when ../shared/data has it.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "coordexp/data/dataset_check.hpp"
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

// good.png (with an out-of-image and a degenerate box besides a fine one), missing.png, corrupt.png (a PNG
// cut short), mismatch.png (20x20 on disk, 30x30 in the annotation).
fs::path write_troubled_dataset(const fs::path& d) {
  write_png(d / "good.png", 32, 24);
  write_png(d / "mismatch.png", 20, 20);
  write_png(d / "corrupt.png", 64, 64);
  fs::resize_file(d / "corrupt.png", fs::file_size(d / "corrupt.png") / 2);
  return write_text(d / "train.json", R"({
    "images": [{"id": 1, "file_name": "good.png", "width": 32, "height": 24},
               {"id": 2, "file_name": "missing.png", "width": 32, "height": 24},
               {"id": 3, "file_name": "corrupt.png", "width": 64, "height": 64},
               {"id": 4, "file_name": "mismatch.png", "width": 30, "height": 30}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10]},
                    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 10, 30, 5]},
                    {"id": 3, "image_id": 1, "category_id": 1, "bbox": [40, 30, 5, 5]},
                    {"id": 4, "image_id": 1, "category_id": 2, "bbox": [1, 1, 4, 4], "iscrowd": 1},
                    {"id": 5, "image_id": 3, "category_id": 2, "bbox": [1, 1, 4, 4]},
                    {"id": 6, "image_id": 4, "category_id": 2, "bbox": [1, 1, 4, 4]}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
  })");
}

TEST(DatasetCheck, NamesEveryProblemOfATroubledDataset) {
  const fs::path d = fresh_dir();
  const DatasetCheckReport r = check_dataset(write_troubled_dataset(d).string());
  EXPECT_EQ(r.format, "coco");
  EXPECT_EQ(r.records_in_file, 4);
  EXPECT_EQ(r.records, 3);
  EXPECT_EQ(r.detection_records, 3);
  EXPECT_EQ(r.grounding_records, 0);
  EXPECT_EQ(r.image_files, 3);
  EXPECT_EQ(r.boxes, 4);  // 2 on good.png (one clipped), 1 each on corrupt.png and mismatch.png
  EXPECT_EQ(r.categories, 2);
  EXPECT_EQ(r.categories_with_boxes, 2);
  EXPECT_EQ(r.skips.crowd_boxes, 1);
  EXPECT_EQ(r.skips.missing_image_files, 1);
  EXPECT_TRUE(any_contains(r.skip_names.missing_image_files, "missing.png"));
  EXPECT_EQ(r.skips.clipped_boxes, 1);
  EXPECT_TRUE(any_contains(r.skip_names.clipped_boxes, "annotations[1] (image 1)"));
  EXPECT_EQ(r.skips.degenerate_boxes, 1);
  EXPECT_TRUE(any_contains(r.skip_names.degenerate_boxes, "annotations[2] (image 1)"));
  EXPECT_EQ(r.decode_attempted, 3);
  EXPECT_EQ(r.decoded, 2);
  EXPECT_EQ(r.unreadable_images.count, 1);
  EXPECT_TRUE(any_contains(r.unreadable_images.names, "corrupt.png")) << r.unreadable_images.names.at(0);
  EXPECT_EQ(r.size_mismatches.count, 1);
  EXPECT_TRUE(
      any_contains(r.size_mismatches.names, "mismatch.png: the file is 20x20, the annotation says 30x30"));
  EXPECT_GT(r.decode_seconds, 0.0);
  // Sizes over the three files from their annotations: widths 30, 32, 64.
  EXPECT_EQ(r.widths.min, 30);
  EXPECT_EQ(r.widths.median, 32);
  EXPECT_EQ(r.widths.max, 64);
  EXPECT_DOUBLE_EQ(r.aspect_ratios.max, 32.0 / 24);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.warnings.size(), 5u);  // missing, degenerate, clipped, unreadable, mismatch
  EXPECT_EQ(r.exit_status(), 1);
  const std::string text = format_dataset_check(r);
  for (const char* part :
       {"format      coco", "1 image files missing (skipped):", "missing.png", "corrupt.png",
        "mismatch.png: the file is 20x20",
        "1 boxes more than 1 px outside the image (clipped):", "result: trainable, with 5 warnings (exit 1)"})
    EXPECT_TRUE(contains(text, part)) << part << "\n" << text;
  const auto j = nlohmann::json::parse(dataset_check_to_json(r));
  EXPECT_EQ(j["exit_status"], 1);
  EXPECT_EQ(j["problems"]["size_mismatches"]["count"], 1);
  EXPECT_EQ(j["problems"]["missing_image_files"]["names"].size(), 1u);
  EXPECT_EQ(j["boxes"], 4);
}

TEST(DatasetCheck, DecodeLimitAndCleanDataset) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 16, 8);
  write_png(d / "b.png", 8, 16);
  const auto json = write_text(d / "ok.json", R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 8},
               {"id": 2, "file_name": "b.png", "width": 8, "height": 16}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]}],
    "categories": [{"id": 1, "name": "cat"}]})");
  const DatasetCheckReport all = check_dataset(json.string());
  EXPECT_EQ(all.exit_status(), 0) << format_dataset_check(all);
  EXPECT_EQ(all.decoded, 2);
  EXPECT_EQ(all.records_without_objects, 1);
  EXPECT_DOUBLE_EQ(all.aspect_ratios.min, 0.5);
  EXPECT_DOUBLE_EQ(all.aspect_ratios.max, 2.0);
  EXPECT_TRUE(contains(format_dataset_check(all), "result: ok (exit 0)"));
  DatasetCheckOptions first;
  first.decode_limit = 1;
  EXPECT_EQ(check_dataset(json.string(), first).decode_attempted, 1);
  DatasetCheckOptions none;
  none.decode_limit = 0;
  EXPECT_EQ(check_dataset(json.string(), none).decode_attempted, 0);
}

TEST(DatasetCheck, TrainingWouldFailIsExitTwo) {
  const fs::path d = fresh_dir();
  // Every file missing: nothing to train on, and the missing files are still named.
  DatasetCheckReport r = check_dataset(
      write_text(d / "gone.json", R"({"images": [{"id": 1, "file_name": "x.png", "width": 4, "height": 4}],
        "annotations": [], "categories": []})")
          .string());
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_TRUE(any_contains(r.skip_names.missing_image_files, "x.png"));
  EXPECT_TRUE(contains(format_dataset_check(r), "result: training would fail (exit 2)"));
  // Images but no box.
  write_png(d / "a.png", 4, 4);
  r = check_dataset(write_text(d / "empty.json", R"({"images": [{"id": 1, "file_name": "a.png", "width": 4,
    "height": 4}], "categories": []})")
                        .string());
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_TRUE(contains(r.errors.at(0), "no box")) << r.errors.at(0);
  // The only image does not decode.
  write_text(d / "junk.png", "not an image at all");
  r = check_dataset(write_text(d / "junk.json", R"({"images": [{"id": 1, "file_name": "junk.png", "width": 4,
    "height": 4}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
    "categories": [{"id": 1, "name": "cat"}]})")
                        .string());
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_TRUE(any_contains(r.errors, "no image file decodes"));
  // A malformed file: the loader's message is the error.
  r = check_dataset(
      write_text(d / "bad.jsonl", "{\"filename\": \"a.png\", \"detection\": {}}\n{oops\n").string());
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_EQ(r.format, "");
  EXPECT_TRUE(contains(r.errors.at(0), "bad.jsonl:2")) << r.errors.at(0);
}

TEST(DatasetCheck, OdvgRecordsByKind) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 10, 10);
  const auto jsonl = write_text(
      d / "mixed.jsonl",
      R"({"filename": "a.png", "height": 10, "width": 10, "detection": {"instances": [{"bbox": [0, 0, 5, 5], "label": 0, "category": "cup"}]}})"
      "\n"
      R"({"filename": "a.png", "height": 10, "width": 10, "grounding": {"regions": [{"bbox": [0, 0, 5, 5], "phrase": "the cup"}, {"bbox": [5, 5, 9, 9], "phrase": "a spoon"}]}})"
      "\n");
  const DatasetCheckReport r = check_dataset(jsonl.string());
  EXPECT_EQ(r.format, "odvg");
  EXPECT_EQ(r.records_in_file, 2);
  EXPECT_EQ(r.detection_records, 1);
  EXPECT_EQ(r.grounding_records, 2);
  EXPECT_EQ(r.image_files, 1);
  EXPECT_EQ(r.decode_attempted, 1);
  EXPECT_EQ(r.boxes, 3);
  EXPECT_EQ(r.categories_with_boxes, 1);  // grounding objects have no category
  EXPECT_EQ(r.exit_status(), 0) << format_dataset_check(r);
}

TEST(DatasetCheck, LvisVerifiedCategoriesPerImage) {
  const fs::path d = fresh_dir();
  write_png(d / "a.png", 10, 10);
  const auto json = write_text(d / "lvis.json", R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10, "neg_category_ids": [2, 3]},
               {"id": 2, "file_name": "a.png", "width": 10, "height": 10, "not_exhaustive_category_ids": [1]}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]},
                    {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5]}],
    "categories": [{"id": 1, "name": "a", "frequency": "f"}, {"id": 2, "name": "b", "frequency": "c"},
                   {"id": 3, "name": "c", "frequency": "r"}]})");
  const DatasetCheckReport r = check_dataset(json.string());
  EXPECT_EQ(r.format, "lvis");
  ASSERT_TRUE(r.has_verified_categories);
  EXPECT_EQ(r.verified_per_image.max, 3);
  EXPECT_EQ(r.skips.images_without_verified_categories, 1);
  EXPECT_EQ(r.exit_status(), 1);
  EXPECT_TRUE(contains(format_dataset_check(r), "verified    3 / 3 / 3 categories per image"));
}

TEST(DatasetCheck, RaccoonTrainDecodesEveryImage) {
  const fs::path json =
      fs::path(COORDEXP_SOURCE_DIR) / ".." / "shared" / "data" / "raccoon" / "raccoon_train.json";
  if (!fs::exists(json)) GTEST_SKIP() << "no " << json.string();
  const DatasetCheckReport r = check_dataset(json.string());
  EXPECT_EQ(r.format, "coco");
  EXPECT_EQ(r.records, 160);
  EXPECT_EQ(r.image_files, 160);
  EXPECT_EQ(r.boxes, 173);
  EXPECT_EQ(r.categories, 1);
  EXPECT_EQ(r.decode_attempted, 160);
  EXPECT_EQ(r.decoded, 160);  // 3 of them are greyscale JPEGs
  EXPECT_EQ(r.unreadable_images.count, 0);
  EXPECT_EQ(r.size_mismatches.count, 0);
  EXPECT_EQ(r.exit_status(), 0) << format_dataset_check(r);
}

}  // namespace
}  // namespace coordexp
