// Private helpers for reading typed fields out of simdjson DOM objects with errors that name the file,
// the array index and the field ("gt.json: annotations[12].bbox: expected ..., found ..."). Shared by the
// COCO dataset loader and the detection results loader; simdjson stays out of public headers.
#pragma once

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "coordexp/util/error.hpp"

namespace coordexp::json_fields {

// Where an element sits: "<file>: <array>[<index>]"; field() appends ".<field>".
struct Location {
  const std::string* file;
  std::string_view array;
  size_t index;
  std::string element() const {
    return *file + ": " + std::string(array) + "[" + std::to_string(index) + "]";
  }
  std::string field(std::string_view name) const { return element() + "." + std::string(name); }
};

inline const char* type_name(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
      return "an integer";
    case T::UINT64:
      return "an integer beyond int64";
    case T::DOUBLE:
      return "a floating-point number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "an unknown value";
}

// Looks a key up; returns false when absent.
inline bool find(simdjson::dom::object obj, std::string_view key, simdjson::dom::element& out) {
  return obj.at_key(key).get(out) == simdjson::SUCCESS;
}

[[noreturn]] inline void missing(const Location& loc, std::string_view key, const char* expected) {
  throw_input_error(loc.field(key), expected, "no such field");
}

inline int64_t as_int64(simdjson::dom::element e, const Location& loc, std::string_view key) {
  if (e.type() != simdjson::dom::element_type::INT64)
    throw_input_error(loc.field(key), "an integer id (64-bit)", type_name(e.type()));
  return int64_t(e);
}

inline int64_t require_int64(simdjson::dom::object obj, std::string_view key, const Location& loc) {
  simdjson::dom::element e;
  if (!find(obj, key, e)) missing(loc, key, "an integer id (64-bit)");
  return as_int64(e, loc, key);
}

inline int64_t optional_int64(simdjson::dom::object obj, std::string_view key, const Location& loc,
                              int64_t fallback) {
  simdjson::dom::element e;
  if (!find(obj, key, e) || e.is_null()) return fallback;
  return as_int64(e, loc, key);
}

// Any JSON number as a double; non-finite values cannot come from JSON but are rejected anyway.
inline double as_number(simdjson::dom::element e, const Location& loc, std::string_view key) {
  double v = 0;
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      v = double(int64_t(e));
      break;
    case simdjson::dom::element_type::UINT64:
      v = double(uint64_t(e));
      break;
    case simdjson::dom::element_type::DOUBLE:
      v = double(e);
      break;
    default:
      throw_input_error(loc.field(key), "a number", type_name(e.type()));
  }
  if (!std::isfinite(v)) throw_input_error(loc.field(key), "a finite number", std::to_string(v));
  return v;
}

inline bool as_flag(simdjson::dom::element e, const Location& loc, std::string_view key) {
  switch (e.type()) {
    case simdjson::dom::element_type::BOOL:
      return bool(e);
    case simdjson::dom::element_type::INT64:
      return int64_t(e) != 0;
    case simdjson::dom::element_type::UINT64:
      return true;
    default:
      throw_input_error(loc.field(key), "0, 1, true or false", type_name(e.type()));
  }
}

inline std::string_view as_string(simdjson::dom::element e, const Location& loc, std::string_view key) {
  if (e.type() != simdjson::dom::element_type::STRING)
    throw_input_error(loc.field(key), "a string", type_name(e.type()));
  return std::string_view(e);
}

inline std::string optional_string(simdjson::dom::object obj, std::string_view key, const Location& loc) {
  simdjson::dom::element e;
  if (!find(obj, key, e) || e.is_null()) return {};
  return std::string(as_string(e, loc, key));
}

inline simdjson::dom::object as_object(simdjson::dom::element e, const Location& loc) {
  if (e.type() != simdjson::dom::element_type::OBJECT)
    throw_input_error(loc.element(), "an object", type_name(e.type()));
  return simdjson::dom::object(e);
}

// Parses a whole document; malformed JSON becomes an InputError naming the file. `padded`: the text
// sits in a simdjson::padded_string, so it need not be copied.
inline simdjson::dom::element parse_document(simdjson::dom::parser& parser, std::string_view text,
                                             const std::string& file, bool padded = false) {
  simdjson::dom::element root;
  auto error = parser.parse(text.data(), text.size(), !padded).get(root);
  if (error)
    throw_input_error(file, "valid JSON",
                      std::string("malformed JSON (") + simdjson::error_message(error) + ")",
                      "check that the file is complete and is not JSON Lines");
  return root;
}

// Reads a file straight into simdjson's padded buffer (no extra copies); unreadable files are InputErrors.
inline simdjson::padded_string load_padded(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text))
    throw_input_error(path, "a readable file", "cannot open or read it");
  return text;
}

}  // namespace coordexp::json_fields
