// Data-parallel evaluation pieces: a detection run survives serialisation exactly, shards merge back into
// the single-process run (image order, detection order and indices, counts), malformed bytes are errors.
#include <gtest/gtest.h>

#include "coordexp/infer/detector.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

DetectionDataset dataset_of(int n) {
  DetectionDataset d;
  for (int i = 0; i < n; ++i) d.images.push_back({100 + i, "img" + std::to_string(i) + ".png", 64, 48, {}});
  return d;
}

// One image's share of a run: `k` detections on dataset image i.
void add_image(DetectionRun& run, const DetectionDataset& d, size_t i, int k) {
  run.images.push_back(i);
  std::vector<GeneratedObject> objects;
  for (int j = 0; j < k; ++j) {
    Detection det;
    det.image_id = d.images[i].image_id;
    det.category_id = 1 + j;
    det.bbox = {1.5 * j, 2.25, 3.0 + i, 4.0};
    det.score = 0.9 - 0.1 * j;
    det.description = "red star " + std::to_string(i);
    det.index = static_cast<int64_t>(run.detections.size());
    run.detections.push_back(det);
    objects.push_back({{7, 8, static_cast<TokenId>(i)}, {0.1, 0.2, 0.3 + 0.01 * j, 0.4}, det.score});
  }
  run.generated.push_back(objects);
  run.generated_tokens += 6 * k + 1;
}

void expect_same(const DetectionRun& a, const DetectionRun& b) {
  ASSERT_EQ(a.images, b.images);
  ASSERT_EQ(a.detections.size(), b.detections.size());
  for (size_t i = 0; i < a.detections.size(); ++i) {
    const auto &x = a.detections[i], &y = b.detections[i];
    EXPECT_EQ(x.image_id, y.image_id);
    EXPECT_EQ(x.category_id, y.category_id);
    EXPECT_EQ(x.bbox, y.bbox);
    EXPECT_EQ(x.score, y.score);
    EXPECT_EQ(x.description, y.description);
    EXPECT_EQ(x.index, y.index);
  }
  ASSERT_EQ(a.generated.size(), b.generated.size());
  for (size_t i = 0; i < a.generated.size(); ++i) {
    ASSERT_EQ(a.generated[i].size(), b.generated[i].size());
    for (size_t j = 0; j < a.generated[i].size(); ++j) {
      EXPECT_EQ(a.generated[i][j].desc_ids, b.generated[i][j].desc_ids);
      EXPECT_EQ(a.generated[i][j].box.x2, b.generated[i][j].box.x2);
      EXPECT_EQ(a.generated[i][j].score, b.generated[i][j].score);
    }
  }
  EXPECT_EQ(a.generated_tokens, b.generated_tokens);
  EXPECT_EQ(a.unterminated, b.unterminated);
  EXPECT_EQ(a.label_counts.exact, b.label_counts.exact);
  EXPECT_EQ(a.label_counts.dropped, b.label_counts.dropped);
}

TEST(DetectionShards, SerialisationRoundTripsExactly) {
  const auto d = dataset_of(3);
  DetectionRun run;
  add_image(run, d, 0, 2);
  add_image(run, d, 2, 0);
  add_image(run, d, 1, 3);
  run.detections[1].score = 0.1 + 0.2;  // not representable exactly in short decimal
  run.label_counts = {4, 1, 0, 2, 0};
  run.unterminated = 1;
  run.seconds = 1.25;
  expect_same(deserialize_detection_run(serialize_detection_run(run)), run);
}

TEST(DetectionShards, StridedShardsMergeIntoTheSingleProcessRun) {
  const auto d = dataset_of(7);
  const int counts[7] = {2, 0, 1, 3, 0, 1, 2};
  DetectionRun whole, shard0, shard1;
  for (size_t i = 0; i < 7; ++i) {
    add_image(whole, d, i, counts[i]);
    add_image(i % 2 == 0 ? shard0 : shard1, d, i, counts[i]);
  }
  shard0.label_counts.exact = 5, shard1.label_counts.exact = 4;
  whole.label_counts.exact = 9;
  shard0.unterminated = 1, whole.unterminated = 1;
  shard0.seconds = 2, shard1.seconds = 3;
  const DetectionRun merged = merge_detection_runs({shard1, shard0}, d);  // rank order does not matter
  expect_same(merged, whole);
  EXPECT_EQ(merged.seconds, 3);
}

TEST(DetectionShards, MalformedBytesAndBadIndicesAreErrors) {
  EXPECT_THROW(deserialize_detection_run(""), InputError);
  EXPECT_THROW(deserialize_detection_run("{\"images\": [1]}"), InputError);
  EXPECT_THROW(deserialize_detection_run("[1, 2]"), InputError);
  const auto d = dataset_of(2);
  DetectionRun a, b;
  a.images = {5};
  a.generated.resize(1);
  EXPECT_THROW(merge_detection_runs({a, b}, d), InputError);
}

}  // namespace
}  // namespace coordexp
