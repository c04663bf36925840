// Printing a dataset check (dataset_check.hpp): a summary a user reads top to bottom (what the file is, what
// training will see, how long decoding takes), each problem with its names, then the verdict; and the same
// report as JSON for scripts.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordexp/data/dataset_check.hpp"

namespace coordexp {

namespace {

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string range_text(const ValueRange& v, int decimals) {
  return number(v.min, decimals) + " / " + number(v.median, decimals) + " / " + number(v.max, decimals);
}

std::string format_line(const std::string& format) {
  if (format == "coco") return "coco (one COCO JSON document; exhaustive labels)";
  if (format == "lvis") return "lvis (federated labels: category prompts name verified categories only)";
  if (format == "odvg") return "odvg (JSON Lines: detection and grounding records)";
  if (format == "refexp") return "refexp (referring expressions: one caption per image entry)";
  return format;
}

void print_names(std::ostream& os, const std::string& headline, int64_t count,
                 const std::vector<std::string>& names) {
  if (count <= 0) return;
  os << "  " << count << " " << headline << "\n";
  for (const std::string& n : names) os << "      " << n << "\n";
  if (count > static_cast<int64_t>(names.size())) os << "      ... and " << count - names.size() << " more\n";
}

void print_summary(std::ostream& os, const DatasetCheckReport& r) {
  os << "  format      " << format_line(r.format) << "\n";
  os << "  records     " << r.records << " usable of " << r.records_in_file
     << (r.format == "odvg" ? " lines" : " image entries") << ": " << r.detection_records << " detection, "
     << r.grounding_records << " grounding; " << r.records_without_objects << " without objects\n";
  os << "  boxes       " << r.boxes << " trained on; " << r.skips.crowd_boxes << " crowd (not trained on), "
     << r.skips.clipped_boxes << " clipped, " << r.skips.degenerate_boxes << " degenerate (dropped)\n";
  os << "  categories  " << r.categories << " (" << r.categories_with_boxes << " with boxes)\n";
  if (r.has_verified_categories)
    os << "  verified    " << range_text(r.verified_per_image, 0)
       << " categories per image (min / median / max)\n";
  if (r.image_files > 0) {
    os << "  images      " << r.image_files << " files; width " << range_text(r.widths, 0) << ", height "
       << range_text(r.heights, 0) << " px (min / median / max)\n";
    os << "  aspect      " << number(r.aspect_ratios.min, 2) << " to " << number(r.aspect_ratios.max, 2)
       << " (width / height)\n";
  }
  if (r.decode_attempted > 0) {
    const double per_image = r.decode_seconds / static_cast<double>(r.decode_attempted);
    os << "  decoding    " << r.decode_attempted << " of " << r.image_files << " files in "
       << number(r.decode_seconds, 2) << " s: " << number(1e3 * per_image, 1) << " ms per image, "
       << number(per_image > 0 ? 1.0 / per_image : 0.0, 0) << " images/s, "
       << number(r.decode_seconds > 0 ? r.decoded_megapixels / r.decode_seconds : 0.0, 0)
       << " Mpixel/s (one thread, full size)\n";
    os << "              " << r.unreadable_images.count << " unreadable, " << r.size_mismatches.count
       << " size mismatches, " << r.decode_warnings.count << " decoded with a warning\n";
  } else if (!r.format.empty()) {
    os << "  decoding    not done (--decode 0)\n";
  }
}

void print_problems(std::ostream& os, const DatasetCheckReport& r) {
  const DatasetSkips& s = r.skips;
  const DatasetSkipNames& n = r.skip_names;
  print_names(os, "image files missing (skipped):", s.missing_image_files, n.missing_image_files);
  print_names(os, "images without width/height (skipped):", s.images_without_size, n.images_without_size);
  print_names(os, "records without caption / regions (skipped):", s.records_without_phrase,
              n.records_without_phrase);
  print_names(os, "LVIS images without a verified category (skipped):", s.images_without_verified_categories,
              n.images_without_verified_categories);
  print_names(os, "unreadable image files:", r.unreadable_images.count, r.unreadable_images.names);
  print_names(os, "size mismatches:", r.size_mismatches.count, r.size_mismatches.names);
  print_names(os, "boxes of unknown categories (dropped):", s.unknown_categories, n.unknown_categories);
  print_names(os, "boxes with no area inside the image (dropped):", s.degenerate_boxes, n.degenerate_boxes);
  print_names(os, "boxes more than 1 px outside the image (clipped):", s.clipped_boxes, n.clipped_boxes);
  print_names(os, "unknown ids in neg/not_exhaustive_category_ids (ignored):", s.unknown_listed_categories,
              n.unknown_listed_categories);
  print_names(os, "images decoded with a warning (as Pillow decodes them):", r.decode_warnings.count,
              r.decode_warnings.names);
}

}  // namespace

std::string format_dataset_check(const DatasetCheckReport& r) {
  std::ostringstream os;
  os << "coordexp data check: " << r.path << "\n";
  if (!r.format.empty()) print_summary(os, r);  // else the file could not be read: the error says why
  std::ostringstream problems;
  print_problems(problems, r);
  if (!problems.str().empty()) os << "problems\n" << problems.str();
  const int status = r.exit_status();
  if (status == 2) {
    os << "result: training would fail (exit 2)\n";
    for (const std::string& e : r.errors) os << "  " << e << "\n";
  } else if (status == 1) {
    os << "result: trainable, with " << r.warnings.size() << " warning" << (r.warnings.size() == 1 ? "" : "s")
       << " (exit 1)\n";
    for (const std::string& w : r.warnings) os << "  " << w << "\n";
  } else {
    os << "result: ok (exit 0)\n";
  }
  return os.str();
}

namespace {

nlohmann::ordered_json range_json(const ValueRange& v) {
  return {{"min", v.min}, {"median", v.median}, {"max", v.max}};
}

nlohmann::ordered_json named_json(int64_t count, const std::vector<std::string>& names) {
  return {{"count", count}, {"names", names}};
}

nlohmann::ordered_json problems_json(const DatasetCheckReport& r) {
  const DatasetSkips& s = r.skips;
  const DatasetSkipNames& n = r.skip_names;
  return {
      {"missing_image_files", named_json(s.missing_image_files, n.missing_image_files)},
      {"images_without_size", named_json(s.images_without_size, n.images_without_size)},
      {"records_without_phrase", named_json(s.records_without_phrase, n.records_without_phrase)},
      {"images_without_verified_categories",
       named_json(s.images_without_verified_categories, n.images_without_verified_categories)},
      {"unreadable_images", named_json(r.unreadable_images.count, r.unreadable_images.names)},
      {"size_mismatches", named_json(r.size_mismatches.count, r.size_mismatches.names)},
      {"unknown_categories", named_json(s.unknown_categories, n.unknown_categories)},
      {"degenerate_boxes", named_json(s.degenerate_boxes, n.degenerate_boxes)},
      {"clipped_boxes", named_json(s.clipped_boxes, n.clipped_boxes)},
      {"crowd_boxes", named_json(s.crowd_boxes, {})},
      {"unknown_listed_categories", named_json(s.unknown_listed_categories, n.unknown_listed_categories)},
      {"decode_warnings", named_json(r.decode_warnings.count, r.decode_warnings.names)},
  };
}

}  // namespace

std::string dataset_check_to_json(const DatasetCheckReport& r) {
  nlohmann::ordered_json j = {
      {"path", r.path},
      {"format", r.format},
      {"records_in_file", r.records_in_file},
      {"records", r.records},
      {"detection_records", r.detection_records},
      {"grounding_records", r.grounding_records},
      {"records_without_objects", r.records_without_objects},
      {"image_files", r.image_files},
      {"boxes", r.boxes},
      {"categories", r.categories},
      {"categories_with_boxes", r.categories_with_boxes},
  };
  if (r.has_verified_categories) j["verified_categories_per_image"] = range_json(r.verified_per_image);
  j["width"] = range_json(r.widths);
  j["height"] = range_json(r.heights);
  j["aspect_ratio"] = range_json(r.aspect_ratios);
  j["decode"] = {{"attempted", r.decode_attempted},
                 {"decoded", r.decoded},
                 {"seconds", r.decode_seconds},
                 {"megapixels", r.decoded_megapixels}};
  j["problems"] = problems_json(r);
  j["errors"] = r.errors;
  j["warnings"] = r.warnings;
  j["exit_status"] = r.exit_status();
  return j.dump(2);
}

}  // namespace coordexp
