// Fuzzes parse_detection_results (pycocotools-style results JSON). The first byte picks the load options
// (invalid-box policy, optional score, optional category); the rest is the file. Expected rejections are
// InputError; a results list that parses must survive a write / read round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "coordexp/eval/detection_results.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  coordexp::ResultsLoadOptions options;
  options.invalid_box = static_cast<coordexp::InvalidBoxPolicy>(data[0] % 3);
  options.require_score = (data[0] & 4) == 0;
  options.require_category = (data[0] & 8) == 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  coordexp::DetectionResults results;
  try {
    results = coordexp::parse_detection_results(text, "fuzz.json", options);
  } catch (const coordexp::InputError&) {
    return 0;
  }
  if (options.invalid_box != coordexp::InvalidBoxPolicy::kInvalidBoxSkip && results.skipped_invalid_box != 0)
    std::abort();
  // Read back what we write, under options at least as lenient as the first read.
  coordexp::ResultsLoadOptions lenient = options;
  lenient.invalid_box = coordexp::InvalidBoxPolicy::kInvalidBoxKeep;
  const std::string written = coordexp::detection_results_to_json(results.detections);
  const coordexp::DetectionResults again = coordexp::parse_detection_results(written, "again", lenient);
  if (again.detections.size() != results.detections.size()) std::abort();
  return 0;
}
