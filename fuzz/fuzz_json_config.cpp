// Fuzzes ConfigReader::from_string and the typed getters: every getter type is tried on a few keys at the
// top level and in a section (a wrong type is an InputError, as is a section that is not an object), then
// finish() lists the unknown keys. Only InputError may escape.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace {

template <class T>
void try_get(coordexp::ConfigReader& reader, const std::string& key) {
  T value{};
  try {
    reader.get(key, value);
  } catch (const coordexp::InputError&) {
  }
}

// Each key is read as a different type so that every getter meets whatever the input put there.
void read_all(coordexp::ConfigReader& reader) {
  try_get<double>(reader, "d");
  try_get<int64_t>(reader, "i");
  try_get<int>(reader, "n");
  try_get<bool>(reader, "b");
  try_get<std::string>(reader, "s");
  try_get<std::vector<std::string>>(reader, "vs");
  try_get<std::vector<double>>(reader, "vd");
  try_get<int>(reader, "d");  // a second, conflicting read of the same key
  try {
    int64_t required = 0;
    reader.require("r", required);
  } catch (const coordexp::InputError&) {
  }
  (void)reader.has("x");
  (void)reader.key_path("x");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    coordexp::ConfigReader root = coordexp::ConfigReader::from_string(text, "fuzz.json");
    read_all(root);
    try {
      coordexp::ConfigReader section = root.section("sec");
      read_all(section);
      coordexp::ConfigReader nested = section.section("sec");
      read_all(nested);
    } catch (const coordexp::InputError&) {
    }
    root.finish();
  } catch (const coordexp::InputError&) {
  }
  return 0;
}
