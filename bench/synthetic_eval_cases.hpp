// Deterministic synthetic evaluation cases for the evaluation benchmarks (bench_coco_eval,
// bench_eval_process and bench/eval_vs_pycocotools.py): a COCO-val-sized case, a 1-image x 80-category case,
// an LVIS-like case (1,230 categories with frequency groups and federated lists, or detections for a given
// LVIS ground truth) and a very large results file. Files are written with fmt, shortest round-trip doubles.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/detection_results.hpp"

namespace coordexp::bench {

struct CaseRng {
  std::mt19937_64 rng;
  explicit CaseRng(uint64_t seed) : rng(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); }
  // A box inside a 640 x 480 image with sides log-uniform in [lo, hi].
  BoxXYWH box(double lo, double hi) {
    const double w = std::exp(uniform(std::log(lo), std::log(hi)));
    const double h = std::exp(uniform(std::log(lo), std::log(hi)));
    return {uniform(0, 640 - std::min(w, 639.0)), uniform(0, 480 - std::min(h, 479.0)), w, h};
  }
  // A detection near `b`: corners and sides moved by up to `jitter` of the box size.
  BoxXYWH near(const BoxXYWH& b, double jitter) {
    const double j = uniform(0, jitter);
    return {b.x + uniform(-j, j) * b.w, b.y + uniform(-j, j) * b.h, b.w * (1 + uniform(-j, j)),
            b.h * (1 + uniform(-j, j))};
  }
};

inline Detection make_detection(int64_t image, int64_t category, const BoxXYWH& b, double score) {
  Detection d;
  d.image_id = image;
  d.category_id = category;
  d.bbox = b;
  d.score = score;
  return d;
}

// Results as `coordexp eval` and pycocotools read them, written in one pass (no JSON tree in memory).
inline void write_results(const std::vector<Detection>& dets, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::string buf = "[";
  for (size_t i = 0; i < dets.size(); ++i) {
    const Detection& d = dets[i];
    fmt::format_to(std::back_inserter(buf),
                   "{}{{\"image_id\": {}, \"category_id\": {}, \"bbox\": [{}, {}, {}, {}], \"score\": {}}}",
                   i ? ", " : "", d.image_id, d.category_id, d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h, d.score);
    if (buf.size() > (1u << 20)) {
      std::fwrite(buf.data(), 1, buf.size(), f);
      buf.clear();
    }
  }
  buf += "]";
  std::fwrite(buf.data(), 1, buf.size(), f);
  if (std::fclose(f) != 0) throw std::runtime_error("cannot write " + path);
}

// COCO-val-sized: 5,000 images, ~35,000 GT boxes (1% crowd) on 80 of the ids 1..90, ~1.4 detections near
// each GT box and 10 background false positives per image (~98,000 detections), shuffled.
// `extra_per_image` adds that many more low-scoring detections per image (the very large results file).
inline std::pair<CocoDataset, std::vector<Detection>> coco_val_sized_case(int extra_per_image = 0) {
  CaseRng r(12345);
  CocoDataset gt;
  std::vector<Detection> dets;
  for (int k = 1; k <= 90; ++k)
    if (k % 9 != 0 || k > 90 - 10) gt.categories.push_back({k, "category" + std::to_string(k), "", {}});
  gt.categories.resize(80);
  int64_t ann_id = 1;
  for (int i = 0; i < 5000; ++i) {
    const int64_t image_id = 100000 + int64_t(i) * 7;
    gt.images.push_back({image_id, std::to_string(image_id) + ".jpg", 640, 480, {}, {}, ""});
    const int n_gt = r.integer(0, 14);  // mean 7: ~35,000 boxes
    for (int g = 0; g < n_gt; ++g) {
      const int64_t cat = gt.categories[size_t(r.integer(0, 79))].id;
      const BoxXYWH b = r.box(4, 400);
      const bool crowd = r.uniform(0, 1) < 0.01;
      gt.annotations.push_back(
          {ann_id++, image_id, cat, b, b.w * b.h * r.uniform(0.55, 0.95), true, crowd, ""});
      for (int c = 0; c < (r.uniform(0, 1) < 0.4 ? 2 : 1); ++c) {  // ~1.4 detections near each GT
        const BoxXYWH d = r.near(b, 0.25);
        dets.push_back(make_detection(image_id, cat, d, r.uniform(0, 1)));
      }
    }
    for (int f = 0; f < 10 + extra_per_image; ++f) {  // background false positives: ~50,000 (+ the extra)
      const double w = std::exp(r.uniform(std::log(4.0), std::log(300.0)));
      const double h = std::exp(r.uniform(std::log(4.0), std::log(300.0)));
      const int64_t cat = gt.categories[size_t(r.integer(0, 79))].id;
      const double x = r.uniform(0, 600), y = r.uniform(0, 440);
      dets.push_back(make_detection(image_id, cat, {x, y, w, h}, r.uniform(0, f < 10 ? 0.6 : 0.3)));
    }
  }
  std::shuffle(dets.begin(), dets.end(), r.rng);
  return {std::move(gt), std::move(dets)};
}

// One image, 80 categories, one GT box and two detections for each: the per-category fixed cost.
inline std::pair<CocoDataset, std::vector<Detection>> one_image_case() {
  CaseRng r(7);
  CocoDataset gt;
  std::vector<Detection> dets;
  gt.images.push_back({1, "1.jpg", 640, 480, {}, {}, ""});
  for (int k = 1; k <= 80; ++k) {
    gt.categories.push_back({k, "category" + std::to_string(k), "", {}});
    const BoxXYWH b = r.box(8, 300);
    gt.annotations.push_back({k, 1, k, b, b.w * b.h, true, false, ""});
    const BoxXYWH hit = r.near(b, 0.2);
    dets.push_back(make_detection(1, k, hit, r.uniform(0, 1)));
    const BoxXYWH miss = r.box(8, 300);
    dets.push_back(make_detection(1, k, miss, r.uniform(0, 0.5)));
  }
  return {std::move(gt), std::move(dets)};
}

// LVIS-like ground truth: 100 images, 1,230 categories (frequency r/c/f), ~10 boxes per image on ~4
// categories, ~6 negative and ~1 not-exhaustive category per image.
inline CocoDataset lvis_like_ground_truth() {
  CaseRng r(1230);
  CocoDataset gt;
  for (int k = 1; k <= 1230; ++k)
    gt.categories.push_back({k, "lvis" + std::to_string(k), std::string(1, "rcf"[k % 3]), {}});
  int64_t ann_id = 1;
  for (int i = 0; i < 100; ++i) {
    CocoImage img{1000 + i, std::to_string(1000 + i) + ".jpg", 640, 480, {}, {}, ""};
    std::vector<int64_t> present;
    for (int c = r.integer(1, 7); c > 0; --c) present.push_back(r.integer(1, 1230));
    for (int64_t cat : present)
      for (int n = r.integer(1, 4); n > 0; --n) {
        const BoxXYWH b = r.box(4, 400);
        gt.annotations.push_back(
            {ann_id++, img.id, cat, b, b.w * b.h * r.uniform(0.5, 0.95), true, false, ""});
      }
    for (int n = r.integer(2, 10); n > 0; --n) img.neg_category_ids.push_back(r.integer(1, 1230));
    if (!present.empty() && r.uniform(0, 1) < 0.5) img.not_exhaustive_category_ids.push_back(present[0]);
    gt.images.push_back(std::move(img));
  }
  return gt;
}

// Detections for LVIS-style ground truth (synthetic or real): per GT box one or two near it, then false
// positives on the image's positive and negative categories and on random ones, up to `per_image` per image.
inline std::vector<Detection> lvis_like_detections(const CocoDataset& gt, int per_image = 300) {
  CaseRng r(300);
  std::vector<Detection> dets;
  for (const auto& img : gt.images) {
    std::vector<int64_t> cats = img.neg_category_ids;
    size_t n = 0;
    for (const auto& a : gt.annotations) {
      if (a.image_id != img.id) continue;
      cats.push_back(a.category_id);
      for (int c = r.uniform(0, 1) < 0.4 ? 2 : 1; c > 0 && n < size_t(per_image); --c, ++n) {
        const BoxXYWH d = r.near(a.bbox, 0.25);
        dets.push_back(make_detection(img.id, a.category_id, d, r.uniform(0, 1)));
      }
    }
    for (; n < size_t(per_image); ++n) {
      const bool known = !cats.empty() && r.uniform(0, 1) < 0.5;
      const int64_t cat = known ? cats[size_t(r.integer(0, int(cats.size()) - 1))]
                                : gt.categories[size_t(r.integer(0, int(gt.categories.size()) - 1))].id;
      const BoxXYWH b = r.box(4, 300);
      dets.push_back(make_detection(img.id, cat, b, r.uniform(0, 0.6)));
    }
  }
  std::shuffle(dets.begin(), dets.end(), r.rng);
  return dets;
}

}  // namespace coordexp::bench
