// Turning a COCO-family file (COCO, LVIS, referring expressions) into training-ready records: normalised,
// described objects and what each record's labels promise (see detection_dataset.hpp), plus the steps all
// readers share. Boxes outside the image are clipped; what cannot be used is skipped, counted and named.
#include "coordexp/data/detection_dataset.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "coordexp/util/error.hpp"
#include "dataset_build.hpp"

namespace coordexp {

std::string DetectionDataset::describe_skips() const {
  std::string s;
  auto add = [&](int64_t n, const char* what) {
    if (n > 0) s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  add(skips.missing_image_files, "images skipped (file missing)");
  add(skips.images_without_size, "images skipped (no width/height)");
  add(skips.degenerate_boxes, "boxes dropped (zero size after clipping)");
  add(skips.crowd_boxes, "crowd regions not trained on");
  add(skips.unknown_categories, "boxes dropped (unknown category)");
  add(skips.clipped_boxes, "boxes clipped to the image (more than 1 px outside)");
  add(skips.unknown_listed_categories, "unknown category ids in neg/not_exhaustive lists ignored");
  add(skips.images_without_verified_categories, "images skipped (LVIS: no verified category)");
  add(skips.records_without_phrase, "records skipped (no caption / no regions)");
  return s;
}

namespace dataset_build {

void note(std::vector<std::string>& names, std::string name) {
  if (names.size() < kMaxSkipNames) names.push_back(std::move(name));
}

std::filesystem::path image_root_for(const std::string& dataset_path, const std::string& image_root) {
  return image_root.empty() ? std::filesystem::path(dataset_path).parent_path()
                            : std::filesystem::path(image_root);
}

bool image_usable(int64_t width, int64_t height, const std::filesystem::path& path, const std::string& entry,
                  DetectionDataset& out) {
  if (width <= 0 || height <= 0) {
    ++out.skips.images_without_size;
    note(out.skip_names.images_without_size, entry);
    return false;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    ++out.skips.missing_image_files;
    note(out.skip_names.missing_image_files, path.string());
    return false;
  }
  return true;
}

namespace {

std::string entry_name(const CocoDataset& coco, const char* array, size_t index) {
  return coco.source + ": " + array + "[" + std::to_string(index) + "]";
}

// One record per usable image entry, in file order; returns image id -> index into out.images.
std::unordered_map<int64_t, size_t> place_images(DetectionDataset& out, const std::filesystem::path& root) {
  std::unordered_map<int64_t, size_t> index_of;
  const bool refexp = out.format == "refexp";
  for (size_t i = 0; i < out.coco.images.size(); ++i) {
    const CocoImage& img = out.coco.images[i];
    const std::string entry = entry_name(out.coco, "images", i) + " (id " + std::to_string(img.id) + ")";
    if (refexp && img.caption.empty()) {
      ++out.skips.records_without_phrase;
      note(out.skip_names.records_without_phrase, entry);
      continue;
    }
    const auto path = root / img.file_name;
    if (!image_usable(img.width, img.height, path, entry, out)) continue;
    index_of[img.id] = out.images.size();
    DatasetImage record;
    record.image_id = img.id;
    record.path = path.string();
    record.width = img.width;
    record.height = img.height;
    record.exhaustive = out.format == "coco";
    if (refexp) record.phrase = img.caption;
    out.images.push_back(std::move(record));
  }
  return index_of;
}

void add_objects(DetectionDataset& out, const std::unordered_map<int64_t, size_t>& index_of,
                 bool use_description) {
  std::unordered_map<int64_t, std::string> category_name;
  for (const auto& c : out.coco.categories) category_name[c.id] = c.name;
  for (size_t i = 0; i < out.coco.annotations.size(); ++i) {
    const CocoAnnotation& a = out.coco.annotations[i];
    auto it = index_of.find(a.image_id);
    if (it == index_of.end()) continue;  // its image was skipped (counted there)
    if (a.iscrowd) {
      ++out.skips.crowd_boxes;
      continue;
    }
    const auto name = [&] {
      return entry_name(out.coco, "annotations", i) + " (image " + std::to_string(a.image_id) + ")";
    };
    auto cat = category_name.find(a.category_id);
    if (cat == category_name.end()) {
      ++out.skips.unknown_categories;
      note(out.skip_names.unknown_categories, name() + ": category " + std::to_string(a.category_id));
      continue;
    }
    DatasetImage& img = out.images[it->second];
    BoxXYXY b;
    const BoxXYXY px{a.bbox.x, a.bbox.y, a.bbox.x + a.bbox.w, a.bbox.y + a.bbox.h};
    if (!normalise_box(px, img.width, img.height, name, out, b)) continue;
    std::string description = !img.phrase.empty()                         ? img.phrase
                              : use_description && !a.description.empty() ? a.description
                                                                          : cat->second;
    img.objects.push_back({std::move(description), a.category_id, b});
  }
}

// The ids of `ids` that are known categories; the others are counted and named.
std::vector<int64_t> known_listed(const std::vector<int64_t>& ids, const std::unordered_set<int64_t>& known,
                                  const std::string& entry, DetectionDataset& out) {
  std::vector<int64_t> kept;
  for (int64_t id : ids) {
    if (known.count(id)) {
      kept.push_back(id);
      continue;
    }
    ++out.skips.unknown_listed_categories;
    note(out.skip_names.unknown_listed_categories, entry + ": category " + std::to_string(id));
  }
  return kept;
}

// LVIS federated labels: which categories each image's category-list prompt may name. A positive category
// qualifies only when exhaustively annotated (else an unlabelled instance would be taught as absent), and
// not when a crowd region covers some of its instances; negatives qualify as verified absent.
void apply_federated_labels(DetectionDataset& out, const std::unordered_map<int64_t, size_t>& index_of) {
  std::unordered_set<int64_t> known;
  for (const auto& c : out.coco.categories) known.insert(c.id);
  std::vector<std::set<int64_t>> positive(out.images.size()), crowd(out.images.size());
  for (const CocoAnnotation& a : out.coco.annotations) {
    auto it = index_of.find(a.image_id);
    if (it == index_of.end() || !known.count(a.category_id)) continue;
    (a.iscrowd ? crowd : positive)[it->second].insert(a.category_id);
  }
  std::vector<char> keep(out.images.size(), 1);
  for (size_t i = 0; i < out.coco.images.size(); ++i) {
    const CocoImage& entry = out.coco.images[i];
    const std::string name = entry_name(out.coco, "images", i) + " (id " + std::to_string(entry.id) + ")";
    const auto neg = known_listed(entry.neg_category_ids, known, name + ".neg_category_ids", out);
    const auto not_exhaustive =
        known_listed(entry.not_exhaustive_category_ids, known, name + ".not_exhaustive_category_ids", out);
    auto it = index_of.find(entry.id);
    if (it == index_of.end()) continue;
    std::set<int64_t> verified(neg.begin(), neg.end());
    for (int64_t c : positive[it->second])
      if (!crowd[it->second].count(c) &&
          std::find(not_exhaustive.begin(), not_exhaustive.end(), c) == not_exhaustive.end())
        verified.insert(c);
    out.images[it->second].verified_categories.assign(verified.begin(), verified.end());
    if (verified.empty()) {
      keep[it->second] = 0;
      ++out.skips.images_without_verified_categories;
      note(out.skip_names.images_without_verified_categories, name);
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < out.images.size(); ++i) {
    if (!keep[i]) continue;
    if (n != i) out.images[n] = std::move(out.images[i]);  // never self-move: it would empty the record
    ++n;
  }
  out.images.resize(n);
}

}  // namespace

DetectionDataset coco_family_dataset(CocoDataset coco, const std::filesystem::path& root,
                                     bool use_description) {
  DetectionDataset out;
  out.format = coco_looks_like_lvis(coco) ? "lvis" : coco_looks_like_refexp(coco) ? "refexp" : "coco";
  out.coco = std::move(coco);
  out.records_in_file = static_cast<int64_t>(out.coco.images.size());
  const auto index_of = place_images(out, root);
  add_objects(out, index_of, use_description);
  if (out.format == "lvis") apply_federated_labels(out, index_of);
  return out;
}

}  // namespace dataset_build

DetectionDataset load_detection_dataset(const std::string& json_path, const std::string& image_root,
                                        bool use_description) {
  DetectionDataset out = load_detection_dataset_allow_empty(json_path, image_root, use_description);
  if (out.images.empty()) {
    const auto root = dataset_build::image_root_for(json_path, image_root);
    const auto& missing = out.skip_names.missing_image_files;
    const std::string skipped = out.describe_skips();
    throw_input_error(json_path + ": images",
                      "at least one image with a size and an existing file under " + root.string(),
                      std::to_string(out.records_in_file) + " images, none usable" +
                          (skipped.empty() ? "" : " (" + skipped + ")"),
                      missing.empty() ? "" : "no file at " + missing.front() + ": is the image root right?");
  }
  return out;
}

}  // namespace coordexp
