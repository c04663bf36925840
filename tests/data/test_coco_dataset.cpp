// COCO dataset loading: fields, optional LVIS fields and description, round trip, and errors that name
// the file, the array index and the field.
#include <gtest/gtest.h>

#include "coordexp/data/coco.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_coco_dataset(text, "gt.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

constexpr const char* kValid = R"({
  "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48,
              "neg_category_ids": [3], "not_exhaustive_category_ids": [2]}],
  "annotations": [{"id": 10, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3.5, 4], "area": 12.5,
                   "iscrowd": true, "description": "red star", "segmentation": [[1, 2, 3, 4]]},
                  {"id": 11, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 3]}],
  "categories": [{"id": 2, "name": "star", "frequency": "r", "synonyms": ["star", "asterisk"]},
                 {"id": 3, "name": "square"}]
})";

TEST(CocoDataset, ReadsAllFields) {
  const auto ds = parse_coco_dataset(kValid, "gt.json");
  ASSERT_EQ(ds.images.size(), 1u);
  EXPECT_EQ(ds.images[0].file_name, "a.png");
  EXPECT_EQ(ds.images[0].width, 64);
  EXPECT_EQ(ds.images[0].neg_category_ids, std::vector<int64_t>{3});
  EXPECT_EQ(ds.images[0].not_exhaustive_category_ids, std::vector<int64_t>{2});
  ASSERT_EQ(ds.annotations.size(), 2u);
  EXPECT_EQ(ds.annotations[0].bbox, (BoxXYWH{1, 2, 3.5, 4}));
  EXPECT_EQ(ds.annotations[0].area, 12.5);
  EXPECT_TRUE(ds.annotations[0].area_from_file);
  EXPECT_TRUE(ds.annotations[0].iscrowd);
  EXPECT_EQ(ds.annotations[0].description, "red star");
  EXPECT_EQ(ds.annotations[1].area, 6.0);  // w * h when "area" is absent
  EXPECT_FALSE(ds.annotations[1].area_from_file);
  EXPECT_FALSE(ds.annotations[1].iscrowd);
  EXPECT_EQ(ds.categories[0].frequency, "r");
  EXPECT_EQ(ds.categories[0].synonyms.size(), 2u);
}

TEST(CocoDataset, RoundTripsThroughJson) {
  const auto ds = parse_coco_dataset(kValid, "gt.json");
  const auto back = parse_coco_dataset(coco_dataset_to_json(ds), "mem");
  EXPECT_EQ(back.annotations[0].bbox, ds.annotations[0].bbox);
  EXPECT_EQ(back.annotations[0].description, "red star");
  EXPECT_EQ(back.images[0].neg_category_ids, ds.images[0].neg_category_ids);
  EXPECT_EQ(back.categories[0].synonyms, ds.categories[0].synonyms);
}

TEST(CocoDataset, ErrorsNameFileIndexAndField) {
  EXPECT_NE(error_of("{\"images\": [").find("gt.json: expected valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("gt.json: expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"annotations": [], "categories": []})").find("gt.json: images"), std::string::npos);
  EXPECT_NE(error_of(R"({"images": [{"id": 1}, {"file_name": "x"}], "categories": []})")
                .find("gt.json: images[1].id"),
            std::string::npos);
  const std::string bad_box =
      R"({"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, -5]}]})";
  const auto msg = error_of(bad_box);
  EXPECT_NE(msg.find("gt.json: annotations[1].bbox: expected non-negative width and height"),
            std::string::npos)
      << msg;
  EXPECT_NE(error_of(R"({"images": [], "categories": [{"id": 1}]})").find("categories[0].name"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"images": [], "categories": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            "bbox": [0, 0, 1, 1], "iscrowd": "no"}]})")
          .find("annotations[0].iscrowd"),
      std::string::npos);
}

TEST(CocoDataset, MissingFileIsAnInputError) {
  EXPECT_THROW(load_coco_dataset("/nonexistent/gt.json"), InputError);
}

}  // namespace
}  // namespace coordexp
