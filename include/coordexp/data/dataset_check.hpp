// Checking a dataset before training on it (`coordexp data check`): reads it as training will
// (load_detection_dataset), decodes its images as the image store will (load_image), and reports what a user
// needs first: the format, counts, image sizes, boxes that were clipped, dropped or crowd, missing and
// unreadable files and size mismatches (each named, up to kMaxSkipNames per kind, then counted), and the
// decoding time. Verdict (exit_status): 2 when training would fail, 1 when it would run but skip or distrust
// something, 0 when all is well.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"

namespace coordexp {

struct DatasetCheckOptions {
  std::string image_root;               // folder image file names are relative to ("" = the file's folder)
  int64_t decode_limit = -1;            // image files to decode: -1 all, 0 none, N the first N in file order
  bool apply_exif_orientation = false;  // decode as data.exif_orientation = true would (sizes compared after)
};

// A kind of problem: how many, and the first kMaxSkipNames of them named.
struct NamedProblems {
  int64_t count = 0;
  std::vector<std::string> names;
  void add(std::string name);
};

struct ValueRange {
  double min = 0, median = 0, max = 0;
};

struct DatasetCheckReport {
  std::string path;               // the dataset file
  std::string format;             // "coco", "lvis", "odvg", "refexp"; "" when the file could not be read
  int64_t records_in_file = 0;    // image entries (COCO family) or lines (ODVG)
  int64_t records = 0;            // usable records: what training draws from
  int64_t detection_records = 0;  // records prompted with categories ("detect all", a category list)
  int64_t grounding_records = 0;  // records prompted with a phrase (ODVG grounding, referring expressions)
  int64_t records_without_objects = 0;
  int64_t image_files = 0;  // distinct image files among the records
  int64_t boxes = 0;        // objects trained on
  int64_t categories = 0;   // in the dataset's category list
  int64_t categories_with_boxes = 0;
  bool has_verified_categories = false;  // LVIS: verified_per_image is filled
  ValueRange verified_per_image;
  // Over image_files, from the annotated sizes; aspect ratio = width / height.
  ValueRange widths, heights, aspect_ratios;
  DatasetSkips skips;  // what the loader skipped, clipped or dropped
  DatasetSkipNames skip_names;
  int64_t decode_attempted = 0;     // image files decoded (all, or the first decode_limit)
  int64_t decoded = 0;              // of which decoded without error
  double decode_seconds = 0;        // wall time of those decodes, one thread, full size
  double decoded_megapixels = 0;    // pixels decoded
  NamedProblems unreadable_images;  // "<path>: expected ..., found ..."
  NamedProblems size_mismatches;    // the file's size differs from the annotation's width / height
  NamedProblems decode_warnings;    // decoded anyway, as Pillow does ("Corrupt JPEG data: ..."): a note only
  std::vector<std::string> errors;  // why training would fail
  std::vector<std::string> warnings;  // what training would skip, drop or clip
  // 2 with errors (the file cannot be read, no usable record, no box, no decodable image), 1 with warnings
  // only (anything skipped, dropped or clipped; unreadable images; size mismatches), 0 otherwise. Crowd
  // regions, images without objects and decode_warnings are normal and not warned about.
  int exit_status() const;
};

// Never throws on bad data: an unreadable or malformed dataset file is an error in the report.
DatasetCheckReport check_dataset(const std::string& path, const DatasetCheckOptions& options = {});

// The report as the command prints it: a summary table, then each problem with its names.
std::string format_dataset_check(const DatasetCheckReport& report);
// The report as a JSON object (every field above, "exit_status" included).
std::string dataset_check_to_json(const DatasetCheckReport& report);

}  // namespace coordexp
