// A dataset's images as the model sees them: decoded (PNG or JPEG, image_decode.hpp), checked against the
// size the annotations give, and fitted to the model frame (image_fit.hpp). When the fitted images of the
// whole dataset fit in `cache_mib` they are decoded once, on `threads` threads, at construction; otherwise
// each is decoded when asked for (get_many decodes a step's images on the store's threads, and the trainer's
// prefetch thread asks a few steps ahead). An image that cannot be used is skipped and counted, never fatal
// here: unreadable or corrupt files, and files whose size disagrees with the annotation's width / height
// (the boxes index the annotated size), each with the first error kept for the message.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/data/image.hpp"
#include "coordexp/data/image_fit.hpp"

namespace coordexp {

struct ImageStoreConfig {
  ImageFitConfig fit;                   // how images meet the model frame
  bool jpeg_dct_scaling = true;         // decode JPEGs at 1/2, 1/4, 1/8 when the frame is that much smaller
  bool apply_exif_orientation = false;  // rotate by the EXIF tag (the annotations must be on rotated pixels)
  int64_t cache_mib = 2048;             // keep every fitted image in memory when they fit in this
  int threads = 2;                      // decoding threads
  // Every image resized to size x size, decoded on `threads` threads.
  static ImageStoreConfig square(int64_t size, int threads = 1) {
    ImageStoreConfig c;
    c.fit.size = size;
    c.threads = threads;
    return c;
  }
};

struct FittedImage {
  ImageRGB8 pixels;  // the model frame
  ImageFit fit;      // where the original image lies in it
};

class ImageStore {
 public:
  ImageStore(const DetectionDataset& dataset, ImageStoreConfig config);
  ~ImageStore();
  // The fitted image i, or null when it cannot be used (counted; see first_error).
  std::shared_ptr<const FittedImage> get(size_t i) const;
  // Several at once, decoded on the store's threads, in the order asked.
  std::vector<std::shared_ptr<const FittedImage>> get_many(const std::vector<size_t>& indices) const;
  // Cached: the image decoded; streamed: not yet found unusable.
  bool usable(size_t i) const { return !failed_[i]; }
  bool cached() const { return cached_; }
  int64_t corrupt() const { return corrupt_.load(); }  // images found unusable so far
  std::string first_error() const;
  // The fit of image i from its annotated size (what decoding will give unless the file disagrees).
  ImageFit fit(size_t i) const;
  const ImageStoreConfig& config() const { return config_; }

 private:
  std::shared_ptr<const FittedImage> decode(size_t i) const;  // null on failure (recorded)

  const DetectionDataset& dataset_;
  ImageStoreConfig config_;
  bool cached_ = false;
  std::vector<std::shared_ptr<const FittedImage>> images_;  // cached mode
  mutable std::vector<char> failed_;
  mutable std::atomic<int64_t> corrupt_{0};
  mutable std::mutex error_mutex_;
  mutable std::string first_error_;
};

}  // namespace coordexp
