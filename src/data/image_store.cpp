// Decoding, checking and fitting a dataset's images (see image_store.hpp).
#include "coordexp/data/image_store.hpp"

#include <algorithm>
#include <thread>

#include "coordexp/data/image_decode.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

// Runs fn(k) for k in [0, n) on up to `threads` threads.
template <class Fn>
void parallel_for(size_t n, int threads, Fn fn) {
  const size_t workers = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads)));
  if (workers <= 1) {
    for (size_t k = 0; k < n; ++k) fn(k);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t k = next++; k < n; k = next++) fn(k);
    });
  for (auto& t : pool) t.join();
}

}  // namespace

ImageStore::ImageStore(const DetectionDataset& dataset, ImageStoreConfig config)
    : dataset_(dataset), config_(config), failed_(dataset.images.size(), 0) {
  int64_t bytes = 0;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    try {
      const ImageFit f = fit(i);
      bytes += f.frame_width * f.frame_height * 3;
    } catch (const InputError& e) {  // an annotated size the fit refuses (aspect ratio over 200)
      failed_[i] = 1;
      ++corrupt_;
      if (first_error_.empty()) first_error_ = e.what();
    }
  }
  cached_ = bytes <= config_.cache_mib * (int64_t{1} << 20);
  if (!cached_) return;
  images_.resize(dataset.images.size());
  parallel_for(images_.size(), config_.threads, [&](size_t i) {
    if (!failed_[i]) images_[i] = decode(i);
  });
}

ImageStore::~ImageStore() = default;

ImageFit ImageStore::fit(size_t i) const {
  const DatasetImage& img = dataset_.images[i];
  return fit_image(img.width, img.height, config_.fit, img.path);
}

std::shared_ptr<const FittedImage> ImageStore::decode(size_t i) const {
  const DatasetImage& img = dataset_.images[i];
  try {
    const ImageFit f = fit(i);
    DecodeOptions options;
    options.apply_exif_orientation = config_.apply_exif_orientation;
    if (config_.jpeg_dct_scaling) {
      options.target_width = static_cast<int>(f.content_width);
      options.target_height = static_cast<int>(f.content_height);
    }
    DecodedImage d = load_image(img.path, options);
    if (d.original_width != img.width || d.original_height != img.height)
      throw_input_error(
          img.path,
          "the size its annotation gives, " + std::to_string(img.width) + " x " + std::to_string(img.height),
          std::to_string(d.original_width) + " x " + std::to_string(d.original_height),
          d.exif_orientation >= 5 && !config_.apply_exif_orientation
              ? "its EXIF orientation turns it; set data.exif_orientation to apply it"
              : "boxes are normalised by the annotated size, so they would land elsewhere");
    return std::make_shared<const FittedImage>(FittedImage{apply_fit(d.pixels, f), f});
  } catch (const InputError& e) {
    failed_[i] = 1;
    ++corrupt_;
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (first_error_.empty()) first_error_ = e.what();
    return nullptr;
  }
}

std::shared_ptr<const FittedImage> ImageStore::get(size_t i) const {
  if (failed_[i]) return nullptr;
  return cached_ ? images_[i] : decode(i);
}

std::vector<std::shared_ptr<const FittedImage>> ImageStore::get_many(
    const std::vector<size_t>& indices) const {
  std::vector<std::shared_ptr<const FittedImage>> out(indices.size());
  if (cached_) {
    for (size_t k = 0; k < indices.size(); ++k) out[k] = get(indices[k]);
    return out;
  }
  parallel_for(indices.size(), config_.threads, [&](size_t k) { out[k] = get(indices[k]); });
  return out;
}

std::string ImageStore::first_error() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return first_error_;
}

}  // namespace coordexp
