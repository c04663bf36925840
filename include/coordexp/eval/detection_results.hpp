// Detection results as pycocotools' loadRes takes them: a JSON list of {image_id, category_id,
// bbox: [x, y, w, h], score}, plus an optional free-text "description" (V-LLM outputs). Entry i gets the
// detection id i + 1, as loadRes assigns. Bad entries throw InputError naming file, index and field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/data/coco.hpp"

namespace coordexp {

struct Detection {
  int64_t image_id = 0;      // CocoImage::id
  int64_t category_id = 0;   // CocoCategory::id; meaningful only when has_category
  bool has_category = true;  // false for entries that carry only a description (see label_mapping.hpp)
  BoxXYWH bbox;              // [x, y, w, h]
  double score = 1.0;        // confidence; 1.0 when the file has none and scores are optional
  std::string description;   // free-text label, "" when absent
  int64_t index = 0;         // position in the results file (pycocotools' detection id is index + 1)
  // 0: the label the model wrote; k > 0: the box again with the k-th likeliest other label (optional field
  // "label_rank" of a results entry; see GenerationConfig::label_alternatives). COCO AP counts every entry;
  // label accuracy and the duplicate rate count rank 0 only.
  int64_t label_rank = 0;
};

// What to do with a result box whose width or height is negative.
enum class InvalidBoxPolicy {
  kInvalidBoxError,  // throw InputError naming the entry (default)
  kInvalidBoxSkip,   // drop the entry and count it in DetectionResults::skipped_invalid_box
  kInvalidBoxKeep,   // keep it as pycocotools does: IoU 0 with everything, area w*h < 0 (never counted)
};

struct ResultsLoadOptions {
  InvalidBoxPolicy invalid_box = InvalidBoxPolicy::kInvalidBoxError;  // boxes with w < 0 or h < 0
  bool require_score = true;     // false: a missing "score" means 1.0 (outputs without scores, for F1)
  bool require_category = true;  // false: an entry may carry only "description" (label mapping fills it)
  unsigned num_threads = 0;      // load_detection_results parses pieces of a large file on this many
                                 // threads; 0 = std::thread::hardware_concurrency()
};

struct DetectionResults {
  std::vector<Detection> detections;  // in file order
  std::string source;                 // file name used in error messages
  int64_t skipped_invalid_box = 0;    // entries dropped under kInvalidBoxSkip
};

// Reads a results file: a JSON array, or an object whose "annotations" field is that array. A large list is
// read in pieces of whole entries, parsed on options.num_threads threads, without the whole text in memory.
DetectionResults load_detection_results(const std::string& path, const ResultsLoadOptions& options = {});
DetectionResults parse_detection_results(std::string_view json_text, const std::string& source,
                                         const ResultsLoadOptions& options = {});

// The results without label alternatives (label_rank > 0): the boxes as the model wrote them. File order
// and indices are kept, so score ties resolve as before.
DetectionResults written_labels_only(DetectionResults results);

// Writes results as a pycocotools-style JSON list (description only when non-empty).
std::string detection_results_to_json(const std::vector<Detection>& detections);
void save_detection_results(const std::vector<Detection>& detections, const std::string& path);

}  // namespace coordexp
