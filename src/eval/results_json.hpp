// Private to src/eval: the results reader of detection_results.cpp as the file loader
// (results_loader.cpp) uses it on whole documents and on pieces of a list.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "coordexp/eval/detection_results.hpp"

namespace coordexp::results_json {

// Malformed JSON (or a NaN / Infinity token) met while reading; parse_document turns it into an InputError.
struct JsonSyntaxError {
  simdjson::error_code code;
};

// Appends the entries of the results list in `text` (a JSON array, or an object whose "annotations" is one;
// simdjson::SIMDJSON_PADDING readable bytes must follow it) to `out`, numbered from 0, and returns how many
// entries the list holds (kept or skipped). Throws InputError for a bad entry, JsonSyntaxError otherwise.
int64_t read_entries(simdjson::ondemand::parser& parser, std::string_view text, const std::string& source,
                     const ResultsLoadOptions& options, DetectionResults& out);

// A whole document: read_entries with malformed JSON reported as an InputError naming the file (and the entry
// and field of a NaN / Infinity token).
DetectionResults parse_document(std::string_view text, const std::string& source,
                                const ResultsLoadOptions& options);

}  // namespace coordexp::results_json
