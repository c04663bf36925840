// The dataset checker (dataset_check.hpp): load as training loads, summarise the records, decode the image
// files and compare their sizes with the annotations, then judge. Printing is in dataset_check_format.cpp.
#include "coordexp/data/dataset_check.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_set>

#include "coordexp/data/image_decode.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

void NamedProblems::add(std::string name) {
  ++count;
  if (names.size() < kMaxSkipNames) names.push_back(std::move(name));
}

int DatasetCheckReport::exit_status() const {
  if (!errors.empty()) return 2;
  return warnings.empty() ? 0 : 1;
}

namespace {

ValueRange range_of(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {v.front(), median, v.back()};
}

// The first record of each distinct image file, in file order.
std::vector<const DatasetImage*> distinct_files(const DetectionDataset& data) {
  std::vector<const DatasetImage*> files;
  std::unordered_set<std::string> seen;
  for (const DatasetImage& img : data.images)
    if (seen.insert(img.path).second) files.push_back(&img);
  return files;
}

void summarise_records(const DetectionDataset& data, DatasetCheckReport& r) {
  r.format = data.format;
  r.records_in_file = data.records_in_file;
  r.records = static_cast<int64_t>(data.images.size());
  r.skips = data.skips;
  r.skip_names = data.skip_names;
  r.categories = static_cast<int64_t>(data.coco.categories.size());
  std::set<int64_t> with_boxes;
  std::vector<double> verified;
  for (const DatasetImage& img : data.images) {
    (img.phrase.empty() ? r.detection_records : r.grounding_records)++;
    if (img.objects.empty()) ++r.records_without_objects;
    r.boxes += static_cast<int64_t>(img.objects.size());
    for (const DatasetObject& o : img.objects)
      if (o.category_id != kNoCategoryId) with_boxes.insert(o.category_id);
    if (!img.exhaustive && img.phrase.empty())
      verified.push_back(static_cast<double>(img.verified_categories.size()));
  }
  r.categories_with_boxes = static_cast<int64_t>(with_boxes.size());
  r.has_verified_categories = !verified.empty();
  r.verified_per_image = range_of(std::move(verified));
  std::vector<double> widths, heights, aspects;
  for (const DatasetImage* img : distinct_files(data)) {
    widths.push_back(static_cast<double>(img->width));
    heights.push_back(static_cast<double>(img->height));
    aspects.push_back(static_cast<double>(img->width) / static_cast<double>(img->height));
  }
  r.image_files = static_cast<int64_t>(widths.size());
  r.widths = range_of(std::move(widths));
  r.heights = range_of(std::move(heights));
  r.aspect_ratios = range_of(std::move(aspects));
}

std::string size_text(int64_t w, int64_t h) {
  return std::to_string(w) + "x" + std::to_string(h);
}

// Decodes the first `limit` files (all when negative) as the image store would, timing each decode, and
// names the files that fail or whose size disagrees with their annotation.
void decode_images(const DetectionDataset& data, const DatasetCheckOptions& options, DatasetCheckReport& r) {
  using clock = std::chrono::steady_clock;
  DecodeOptions decode;
  decode.apply_exif_orientation = options.apply_exif_orientation;
  for (const DatasetImage* img : distinct_files(data)) {
    if (options.decode_limit >= 0 && r.decode_attempted >= options.decode_limit) break;
    ++r.decode_attempted;
    DecodedImage decoded;
    const auto start = clock::now();
    try {
      decoded = load_image(img->path, decode);
    } catch (const std::exception& e) {  // InputError, or bad_alloc on a huge but legal image
      r.decode_seconds += std::chrono::duration<double>(clock::now() - start).count();
      r.unreadable_images.add(e.what());
      continue;
    }
    r.decode_seconds += std::chrono::duration<double>(clock::now() - start).count();
    ++r.decoded;
    r.decoded_megapixels += 1e-6 * decoded.pixels.width() * decoded.pixels.height();
    if (!decoded.warning.empty()) r.decode_warnings.add(img->path + ": " + decoded.warning);
    if (decoded.original_width == img->width && decoded.original_height == img->height) continue;
    std::string what = img->path + ": the file is " +
                       size_text(decoded.original_width, decoded.original_height) + ", the annotation says " +
                       size_text(img->width, img->height);
    const bool swapped = decoded.original_width == img->height && decoded.original_height == img->width;
    if (swapped && decoded.exif_orientation >= 5 && !options.apply_exif_orientation)
      what += " (EXIF orientation " + std::to_string(decoded.exif_orientation) +
              ": annotated on the upright image? then set data.exif_orientation)";
    r.size_mismatches.add(std::move(what));
  }
}

void warn_count(DatasetCheckReport& r, int64_t n, const std::string& what) {
  if (n > 0) r.warnings.push_back(std::to_string(n) + " " + what);
}

void judge(DatasetCheckReport& r) {
  if (r.records == 0) r.errors.push_back("no usable image: training cannot start");
  if (r.records > 0 && r.boxes == 0) r.errors.push_back("no box to train on: every record is empty");
  const int64_t usable_files = r.decoded - r.size_mismatches.count;
  if (r.decode_attempted > 0 && r.decode_attempted == r.image_files && usable_files == 0)
    r.errors.push_back("no image file decodes to its annotated size: training cannot start");
  const DatasetSkips& s = r.skips;
  warn_count(r, s.missing_image_files, "image files missing (skipped)");
  warn_count(r, s.images_without_size, "images without width/height (skipped)");
  warn_count(r, s.records_without_phrase, "records without caption / regions (skipped)");
  warn_count(r, s.images_without_verified_categories, "LVIS images without a verified category (skipped)");
  warn_count(r, s.unknown_categories, "boxes of unknown categories (dropped)");
  warn_count(r, s.degenerate_boxes, "boxes with no area inside the image (dropped)");
  warn_count(r, s.clipped_boxes, "boxes more than 1 px outside the image (clipped)");
  warn_count(r, s.unknown_listed_categories, "unknown ids in neg/not_exhaustive_category_ids (ignored)");
  warn_count(r, r.unreadable_images.count, "unreadable image files (training skips them)");
  warn_count(r, r.size_mismatches.count, "image files whose size disagrees with the annotation (skipped)");
}

}  // namespace

DatasetCheckReport check_dataset(const std::string& path, const DatasetCheckOptions& options) {
  DatasetCheckReport r;
  r.path = path;
  DetectionDataset data;
  try {
    data = load_detection_dataset_allow_empty(path, options.image_root, true);
  } catch (const InputError& e) {
    r.errors.push_back(e.what());
    return r;
  }
  summarise_records(data, r);
  decode_images(data, options, r);
  judge(r);
  return r;
}

}  // namespace coordexp
