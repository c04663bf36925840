// A dataset's images decoded once into memory at a fixed square size, on a few threads: what training and
// evaluation read every step. Unreadable files are skipped and counted (the first error kept for the
// message), never fatal here; the trainer decides whether enough images remain.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/data/image.hpp"

namespace coordexp {

class ImageCache {
 public:
  // Every image of `dataset` resized to size x size (bilinear, uint8 RGB), decoded on `threads` threads.
  ImageCache(const DetectionDataset& dataset, int64_t size, int threads);
  const ImageRGB8& image(size_t i) const { return images_[i]; }
  bool usable(size_t i) const { return !images_[i].empty(); }
  int64_t corrupt() const { return corrupt_; }
  const std::string& first_error() const { return first_error_; }

 private:
  std::vector<ImageRGB8> images_;
  int64_t corrupt_ = 0;
  std::string first_error_;
};

}  // namespace coordexp
