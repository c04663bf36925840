// Checked reading of JSON config files (STYLE.md, "Configuration"): every field is read through a
// ConfigReader, a wrong type is an InputError naming file and key path, and finish() rejects any key that
// was never asked for, with the keys that were asked for and a spelling hint.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace coordexp {

class ConfigReader {
 public:
  // Reads a JSON object from a file / from text. Malformed JSON is an InputError naming the source, the
  // line, column and byte; a top level that is not an object is one too.
  static ConfigReader from_file(const std::string& path);
  static ConfigReader from_string(std::string_view text, const std::string& source);
  // Wraps an already parsed document (must be an object); `source` names it in errors.
  ConfigReader(nlohmann::json document, std::string source);

  // Each get() leaves `out` (the default) alone and returns false when the key is absent, and stores the
  // value and returns true when it is present with the right type; a wrong type (or an integer that does
  // not fit, or a fractional number for an integer) is an InputError naming the key path. null counts as
  // a wrong type, not as absent.
  bool get(const std::string& key, double& out);
  bool get(const std::string& key, int64_t& out);  // integral numbers only (1e6 is accepted)
  bool get(const std::string& key, int& out);
  bool get(const std::string& key, bool& out);
  bool get(const std::string& key, std::string& out);
  bool get(const std::string& key, std::vector<std::string>& out);
  bool get(const std::string& key, std::vector<double>& out);
  // As get(), but an absent key is an InputError.
  template <class T>
  void require(const std::string& key, T& out) {
    if (!get(key, out)) throw_missing(key);
  }

  bool has(const std::string& key) const;
  // The reader of a nested object. An absent key gives an empty section (every get() returns false); a
  // value that is not an object is an InputError. Keys of the section are checked by the root's finish().
  ConfigReader section(const std::string& key);

  // Throws InputError listing every key under this reader that no get()/require()/section() asked for.
  void finish() const;

  const std::string& source() const { return state_->source; }
  std::string key_path(const std::string& key) const;  // "model.width"

 private:
  struct State {
    nlohmann::json document;
    std::string source;
    std::map<std::string, std::set<std::string>> asked;  // object path -> keys asked for there
    std::set<std::string> sections;                      // key paths read as sections
  };
  ConfigReader(std::shared_ptr<State> state, const nlohmann::json* object, std::string prefix);

  // The value of `key` (nullptr when absent); records the key as asked for.
  const nlohmann::json* find(const std::string& key);
  // `field` is "field \"train.lr\"" or "field \"tags\"[2]".
  [[noreturn]] void throw_wrong_type(const std::string& field, const std::string& expected,
                                     const nlohmann::json& found) const;
  [[noreturn]] void throw_missing(const std::string& key) const;
  void collect_unknown(const nlohmann::json& object, const std::string& prefix,
                       std::vector<std::string>& problems) const;

  std::shared_ptr<State> state_;
  const nlohmann::json* object_;  // into state_->document; nullptr for an absent section
  std::string prefix_;            // key path of this object ("" at the root)
};

// Reads and parses a whole JSON file (any top-level value). A file that cannot be opened is an InputError
// "<path>: expected <what>, found cannot open it" (what = e.g. "a readable tokenizer.json"); malformed
// JSON is one expecting "valid JSON", with the parser's message.
nlohmann::json read_json_file(const std::string& path, const std::string& what);

// Short description of a JSON value for messages: string "abc", number 3.5, boolean true, null, an array
// of 3 elements, an object.
std::string describe_json_value(const nlohmann::json& value);

}  // namespace coordexp
