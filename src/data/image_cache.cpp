// Decoding a dataset's images into memory (see image_cache.hpp).
#include "coordexp/data/image_cache.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "coordexp/util/error.hpp"

namespace coordexp {

ImageCache::ImageCache(const DetectionDataset& dataset, int64_t size, int threads) {
  images_.resize(dataset.images.size());
  std::vector<std::string> errors(dataset.images.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < images_.size(); i = next++) {
      try {
        images_[i] =
            resize_bilinear(load_png(dataset.images[i].path), static_cast<int>(size), static_cast<int>(size));
      } catch (const InputError& e) {
        errors[i] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e.empty()) continue;
    if (corrupt_++ == 0) first_error_ = e;
  }
}

}  // namespace coordexp
