// Checked config reading (see json_config.hpp): typed getters that name the key path on a wrong type, and
// finish(), which walks the document and reports every key nobody asked for, with a spelling hint.
#include "coordexp/util/json_config.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <sstream>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

std::string quote_text(const std::string& s) {
  return "\"" + s + "\"";
}

std::string field_of(const std::string& path) {
  return "field " + quote_text(path);
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string describe_json_value(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: {
      std::string s = value.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "string " + quote_text(s);
    }
    case nlohmann::json::value_t::boolean:
      return std::string("boolean ") + (value.get<bool>() ? "true" : "false");
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::array:
      return "an array of " + std::to_string(value.size()) + " elements";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "number " + value.dump();
    default:
      return value.type_name();
  }
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path, what, "cannot open it");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(path, "valid JSON", e.what());
  }
}

ConfigReader ConfigReader::from_string(std::string_view text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts bytes read, so the offending byte is e.byte - 1 (0-based).
    const size_t at = std::min(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
    const size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    const size_t column = line_start == std::string_view::npos || at == 0 ? at + 1 : at - line_start;
    std::string detail = e.what();  // "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    if (const size_t p = detail.find("column"); p != std::string::npos)
      if (const size_t q = detail.find(": ", p); q != std::string::npos) detail = detail.substr(q + 2);
    throw InputError(source + ": malformed JSON at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + " (byte " + std::to_string(e.byte) + "): " + detail);
  } catch (const nlohmann::json::exception& e) {  // out_of_range.406: a number beyond double, e.g. 1e400
    throw_input_error(source, "valid JSON with numbers that fit a double", e.what());
  }
  return ConfigReader(std::move(doc), source);
}

ConfigReader ConfigReader::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path, "a readable config file", "it cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  return from_string(text.str(), path);
}

ConfigReader::ConfigReader(nlohmann::json document, std::string source)
    : state_(std::make_shared<State>()), object_(nullptr) {
  state_->document = std::move(document);
  state_->source = std::move(source);
  if (!state_->document.is_object())
    throw_input_error(state_->source, "a JSON object at the top level",
                      describe_json_value(state_->document));
  object_ = &state_->document;
}

ConfigReader::ConfigReader(std::shared_ptr<State> state, const nlohmann::json* object, std::string prefix)
    : state_(std::move(state)), object_(object), prefix_(std::move(prefix)) {}

std::string ConfigReader::key_path(const std::string& key) const {
  return join_path(prefix_, key);
}

bool ConfigReader::has(const std::string& key) const {
  return object_ != nullptr && object_->contains(key);
}

const nlohmann::json* ConfigReader::find(const std::string& key) {
  state_->asked[prefix_].insert(key);
  if (object_ == nullptr) return nullptr;
  const auto it = object_->find(key);
  return it == object_->end() ? nullptr : &*it;
}

void ConfigReader::throw_wrong_type(const std::string& field, const std::string& expected,
                                    const nlohmann::json& found) const {
  throw_input_error(source() + ": " + field, expected, describe_json_value(found));
}

void ConfigReader::throw_missing(const std::string& key) const {
  throw_input_error(source() + ": " + field_of(key_path(key)), "present", "nothing (the key is missing)");
}

bool ConfigReader::get(const std::string& key, double& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (!v->is_number()) throw_wrong_type(field_of(key_path(key)), "a number", *v);
  out = v->get<double>();
  return true;
}

bool ConfigReader::get(const std::string& key, int64_t& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw_wrong_type(field_of(key_path(key)), "an integer that fits in 64 bits", *v);
    out = static_cast<int64_t>(v->get<uint64_t>());
  } else if (v->is_number_integer()) {
    out = v->get<int64_t>();
  } else if (v->is_number_float()) {
    // Accepted when integral, so that 1e6 can be written for a step count.
    const double d = v->get<double>();
    if (!std::isfinite(d) || std::floor(d) != d || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18)
      throw_wrong_type(field_of(key_path(key)), "an integer", *v);
    out = static_cast<int64_t>(d);
  } else {
    throw_wrong_type(field_of(key_path(key)), "an integer", *v);
  }
  return true;
}

bool ConfigReader::get(const std::string& key, int& out) {
  int64_t wide = 0;
  if (!get(key, wide)) return false;
  if (wide < INT_MIN || wide > INT_MAX)
    throw_wrong_type(field_of(key_path(key)),
                     "an integer in [" + std::to_string(INT_MIN) + ", " + std::to_string(INT_MAX) + "]",
                     *object_->find(key));
  out = static_cast<int>(wide);
  return true;
}

bool ConfigReader::get(const std::string& key, bool& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) throw_wrong_type(field_of(key_path(key)), "true or false", *v);
  out = v->get<bool>();
  return true;
}

bool ConfigReader::get(const std::string& key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (!v->is_string()) throw_wrong_type(field_of(key_path(key)), "a string", *v);
  out = v->get<std::string>();
  return true;
}

bool ConfigReader::get(const std::string& key, std::vector<std::string>& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (!v->is_array()) throw_wrong_type(field_of(key_path(key)), "an array of strings", *v);
  std::vector<std::string> values;
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    if (!e.is_string())
      throw_wrong_type(field_of(key_path(key)) + "[" + std::to_string(i) + "]", "a string", e);
    values.push_back(e.get<std::string>());
  }
  out = std::move(values);
  return true;
}

bool ConfigReader::get(const std::string& key, std::vector<double>& out) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return false;
  if (!v->is_array()) throw_wrong_type(field_of(key_path(key)), "an array of numbers", *v);
  std::vector<double> values;
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    if (!e.is_number())
      throw_wrong_type(field_of(key_path(key)) + "[" + std::to_string(i) + "]", "a number", e);
    values.push_back(e.get<double>());
  }
  out = std::move(values);
  return true;
}

ConfigReader ConfigReader::section(const std::string& key) {
  const nlohmann::json* v = find(key);
  const std::string path = key_path(key);
  if (v != nullptr && !v->is_object()) throw_wrong_type(field_of(path), "an object", *v);
  state_->sections.insert(path);
  return ConfigReader(state_, v, path);
}

void ConfigReader::collect_unknown(const nlohmann::json& object, const std::string& prefix,
                                   std::vector<std::string>& problems) const {
  const auto asked_it = state_->asked.find(prefix);
  static const std::set<std::string> kNone;
  const std::set<std::string>& asked = asked_it == state_->asked.end() ? kNone : asked_it->second;
  for (const auto& [key, value] : object.items()) {
    const std::string path = join_path(prefix, key);
    if (asked.count(key) != 0) {
      if (value.is_object() && state_->sections.count(path) != 0) collect_unknown(value, path, problems);
      continue;
    }
    std::string msg = source() + ": unknown key " + quote_text(path);
    const std::string* best = nullptr;
    size_t best_distance = 0;
    for (const std::string& known : asked) {
      const size_t d = edit_distance(key, known);
      if (best == nullptr || d < best_distance) best = &known, best_distance = d;
    }
    // Two edits catch a swapped pair or a dropped letter; on short keys that would suggest anything.
    if (best != nullptr && best_distance <= 2 && best_distance < key.size() / 2 + 1)
      msg += " (did you mean " + quote_text(join_path(prefix, *best)) + "?)";
    msg += "; known keys";
    if (!prefix.empty()) msg += " in " + quote_text(prefix);
    msg += ": ";
    if (asked.empty()) msg += "(none)";
    bool first = true;
    for (const std::string& known : asked) {
      msg += (first ? "" : ", ") + join_path(prefix, known);
      first = false;
    }
    problems.push_back(std::move(msg));
  }
}

void ConfigReader::finish() const {
  if (object_ == nullptr) return;
  std::vector<std::string> problems;
  collect_unknown(*object_, prefix_, problems);
  if (problems.empty()) return;
  std::string msg;
  for (const std::string& p : problems) msg += (msg.empty() ? "" : "\n") + p;
  throw InputError(msg);
}

}  // namespace coordexp
