// ConfigReader: typed getters with defaults, wrong-type and missing-key messages naming the key path,
// nested sections, finish() on unknown keys (with spelling hints), and malformed-JSON positions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

bool has(const std::string& msg, const std::string& part) {
  return msg.find(part) != std::string::npos;
}

TEST(ConfigReader, ReadsEveryTypeAndKeepsDefaultsForAbsentKeys) {
  auto r = ConfigReader::from_string(
      R"({"lr": 0.5, "steps": 1e6, "batch": 8, "amp": true, "name": "run1", "tags": ["a", "b"],
          "scales": [1, 2.5], "int_as_double": 3})",
      "cfg.json");
  double lr = 0, int_as_double = 0, missing_d = 7;
  int64_t steps = 0;
  int batch = 0, missing_i = 42;
  bool amp = false;
  std::string name;
  std::vector<std::string> tags;
  std::vector<double> scales;
  EXPECT_TRUE(r.get("lr", lr));
  EXPECT_TRUE(r.get("steps", steps));
  EXPECT_TRUE(r.get("batch", batch));
  EXPECT_TRUE(r.get("amp", amp));
  EXPECT_TRUE(r.get("name", name));
  EXPECT_TRUE(r.get("tags", tags));
  EXPECT_TRUE(r.get("scales", scales));
  EXPECT_TRUE(r.get("int_as_double", int_as_double));
  EXPECT_FALSE(r.get("warmup", missing_d));
  EXPECT_FALSE(r.get("workers", missing_i));
  EXPECT_DOUBLE_EQ(lr, 0.5);
  EXPECT_EQ(steps, 1000000);
  EXPECT_EQ(batch, 8);
  EXPECT_TRUE(amp);
  EXPECT_EQ(name, "run1");
  EXPECT_EQ(tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(scales, (std::vector<double>{1, 2.5}));
  EXPECT_DOUBLE_EQ(int_as_double, 3);
  EXPECT_DOUBLE_EQ(missing_d, 7);
  EXPECT_EQ(missing_i, 42);
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, WrongTypesNameTheKeyPathAndTheValue) {
  auto r = ConfigReader::from_string(
      R"({"train": {"lr": "abc", "steps": 2.5, "big": 3000000000, "amp": 1, "tags": ["a", 3],
                    "scales": [1, null], "name": 5, "huge": 18446744073709551615}, "model": 3})",
      "configs/x.json");
  auto train = r.section("train");
  double lr = 0;
  int64_t steps = 0, huge = 0;
  int big = 0;
  bool amp = false;
  std::vector<std::string> tags;
  std::vector<double> scales;
  std::string name;
  EXPECT_EQ(error_of([&] { train.get("lr", lr); }),
            "configs/x.json: field \"train.lr\": expected a number, found string \"abc\"");
  EXPECT_EQ(error_of([&] { train.get("steps", steps); }),
            "configs/x.json: field \"train.steps\": expected an integer, found number 2.5");
  EXPECT_TRUE(has(error_of([&] { train.get("big", big); }), "field \"train.big\": expected an integer in ["));
  EXPECT_EQ(error_of([&] { train.get("amp", amp); }),
            "configs/x.json: field \"train.amp\": expected true or false, found number 1");
  EXPECT_EQ(error_of([&] { train.get("tags", tags); }),
            "configs/x.json: field \"train.tags\"[1]: expected a string, found number 3");
  EXPECT_EQ(error_of([&] { train.get("scales", scales); }),
            "configs/x.json: field \"train.scales\"[1]: expected a number, found null");
  EXPECT_EQ(error_of([&] { train.get("name", name); }),
            "configs/x.json: field \"train.name\": expected a string, found number 5");
  EXPECT_TRUE(has(error_of([&] { train.get("huge", huge); }), "fits in 64 bits"));
  EXPECT_EQ(error_of([&] { r.section("model"); }),
            "configs/x.json: field \"model\": expected an object, found number 3");
  EXPECT_EQ(tags.size(), 0u);  // untouched on error
}

TEST(ConfigReader, RequireRejectsMissingKeys) {
  auto r = ConfigReader::from_string(R"({"model": {}})", "c.json");
  auto model = r.section("model");
  int width = 0;
  EXPECT_EQ(error_of([&] { model.require("width", width); }),
            "c.json: field \"model.width\": expected present, found nothing (the key is missing)");
}

TEST(ConfigReader, SectionsNestAndAbsentSectionsAreEmpty) {
  auto r = ConfigReader::from_string(R"({"model": {"width": 64, "head": {"layers": 2}}})", "c.json");
  auto model = r.section("model");
  int width = 0, layers = 0, other = 5;
  EXPECT_TRUE(model.get("width", width));
  auto head = model.section("head");
  EXPECT_EQ(head.key_path("layers"), "model.head.layers");
  EXPECT_TRUE(head.get("layers", layers));
  auto absent = r.section("optim");
  EXPECT_FALSE(absent.has("lr"));
  EXPECT_FALSE(absent.get("warmup", other));
  EXPECT_EQ(other, 5);
  EXPECT_EQ(width, 64);
  EXPECT_EQ(layers, 2);
  EXPECT_NO_THROW(r.finish());
  EXPECT_NO_THROW(absent.finish());
}

TEST(ConfigReader, FinishListsUnknownKeysWithHints) {
  auto r = ConfigReader::from_string(R"({"model": {"widht": 64, "depth": 2}, "seed": 1, "zzz": 0})",
                                     "configs/x.json");
  auto model = r.section("model");
  int width = 0, depth = 0, seed = 0;
  model.get("width", width);
  model.get("depth", depth);
  r.get("seed", seed);
  EXPECT_EQ(error_of([&] { model.finish(); }),
            "configs/x.json: unknown key \"model.widht\" (did you mean \"model.width\"?); known keys in "
            "\"model\": model.depth, model.width");
  const std::string all = error_of([&] { r.finish(); });
  EXPECT_TRUE(has(all, "unknown key \"model.widht\"")) << all;
  EXPECT_TRUE(has(all, "\nconfigs/x.json: unknown key \"zzz\"; known keys: model, seed")) << all;
  EXPECT_FALSE(has(all, "did you mean \"seed\"")) << all;
}

TEST(ConfigReader, UnreadSectionsAreUnknownAsAWhole) {
  auto r = ConfigReader::from_string(R"({"eval": {"iou": 0.5}})", "c.json");
  EXPECT_EQ(error_of([&] { r.finish(); }), "c.json: unknown key \"eval\"; known keys: (none)");
}

TEST(ConfigReader, MalformedJsonNamesSourceLineColumnAndByte) {
  const std::string m =
      error_of([] { ConfigReader::from_string("{\n  \"a\": 1,\n  \"b\" 2\n}", "bad.json"); });
  EXPECT_TRUE(has(m, "bad.json: malformed JSON at line 3, column 7 (byte ")) << m;
  EXPECT_EQ(error_of([] { ConfigReader::from_string("[1, 2]", "arr.json"); }),
            "arr.json: expected a JSON object at the top level, found an array of 2 elements");
}

// Found by fuzz/fuzz_json_config.cpp: nlohmann reports a number too large for a double as out_of_range, not
// parse_error, and it escaped from_string as a foreign exception.
TEST(ConfigReader, NumberBeyondDoubleIsAnInputError) {
  const std::string m = error_of([] { ConfigReader::from_string("{\"lr\": 1e400}", "big.json"); });
  EXPECT_TRUE(has(m, "big.json: expected valid JSON with numbers that fit a double") && has(m, "1e400")) << m;
}

TEST(ConfigReader, FromFile) {
  const auto path = std::filesystem::temp_directory_path() / "coordexp_test_json_config.json";
  {
    std::ofstream out(path);
    out << R"({"lr": 0.25})";
  }
  auto r = ConfigReader::from_file(path.string());
  double lr = 0;
  r.require("lr", lr);
  EXPECT_DOUBLE_EQ(lr, 0.25);
  EXPECT_EQ(r.source(), path.string());
  std::filesystem::remove(path);
  EXPECT_TRUE(has(error_of([&] { ConfigReader::from_file(path.string()); }), path.string()));
}

}  // namespace
}  // namespace coordexp
