// safetensors reader/writer: round trips, sharded checkpoints, 16-bit float conversions against literals,
// hostile headers (every one must give an InputError naming the file and field, never a crash), and a
// cross-check against an independent numpy writer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "coordexp/io/float16.hpp"
#include "coordexp/io/safetensors.hpp"
#include "coordexp/io/safetensors_checkpoint.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("coordexp_test_io_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

// Writes 8-byte little-endian length + header text + data, exactly as given (no checks: hostile on purpose).
fs::path write_raw(const fs::path& path, const std::string& header, const std::string& data,
                   uint64_t len_override = 0) {
  std::ofstream out(path, std::ios::binary);
  uint64_t len = len_override ? len_override : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

// Expects an InputError whose message contains every fragment.
void expect_input_error(const fs::path& path, std::initializer_list<const char*> fragments) {
  try {
    SafetensorsFile file(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    for (const char* f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(Float16, HalfToFloatLiterals) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);  // nearest half to 1/3
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);         // largest finite
  EXPECT_EQ(half_to_float(0x0400), 0x1p-14f);         // smallest normal
  EXPECT_EQ(half_to_float(0x0001), 0x1p-24f);         // smallest subnormal
  EXPECT_EQ(half_to_float(0x03ff), 1023 * 0x1p-24f);  // largest subnormal
  EXPECT_EQ(half_to_float(0x8001), -0x1p-24f);
  const float neg_zero = half_to_float(0x8000);
  EXPECT_EQ(neg_zero, 0.0f);
  EXPECT_TRUE(std::signbit(neg_zero));
  EXPECT_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7c01)));  // signalling-NaN pattern stays NaN
}

TEST(Float16, FloatToHalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);  // below the halfway point 65520
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // halfway: ties to even = infinity
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);         // exactly half the smallest subnormal: ties to even 0
  EXPECT_EQ(float_to_half(0x1.8p-25f), 0x0001);       // above halfway
  EXPECT_EQ(float_to_half(3 * 0x1p-25f), 0x0002);     // 1.5 units: ties to even 2
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f), 0x3c00);  // halfway between 1 and next: even (1)
  EXPECT_EQ(float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);  // halfway between 0x3c01 and 0x3c02: even
  EXPECT_EQ(float_to_half(0x1.ffcp-15f), 0x0400);         // rounds up from subnormal into smallest normal
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7e00, 0x7e00);
  for (uint32_t h = 0; h < 0x10000; ++h) {  // every finite half survives the round trip bit for bit
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Float16, BFloat16Literals) {
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16_to_float(0xc380), -256.0f);
  EXPECT_EQ(bfloat16_to_float(0x0001), 0x1p-133f);  // smallest subnormal
  EXPECT_EQ(bfloat16_to_float(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bfloat16_to_float(0x7fc0)));
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.0f + 0x1p-8f), 0x3f80);      // halfway: ties to even (down)
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * 0x1p-8f), 0x3f82);  // halfway: ties to even (up)
  EXPECT_EQ(float_to_bfloat16(1.0f + 0x1.8p-8f), 0x3f81);    // above halfway
  EXPECT_EQ(float_to_bfloat16(3.4e38f), 0x7f80);             // overflows to infinity
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0, 0x7fc0);
}

TEST(Safetensors, RoundTripAllDTypes) {
  const fs::path dir = fresh_dir("roundtrip");
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3e-40f, 1e30f, -0.5f};
  std::vector<uint16_t> f16, bf16;
  for (float v : {1.0f, -2.0f, 0.5f}) f16.push_back(float_to_half(v));
  for (float v : {1.0f, -256.0f, 0.15625f, 3.0f}) bf16.push_back(float_to_bfloat16(v));
  const std::vector<int64_t> i64 = {-1, 1LL << 40};
  const std::vector<int32_t> i32 = {7, -8, 9};
  const std::vector<uint8_t> u8 = {0, 255}, flags = {1, 0, 1};
  const std::vector<double> f64 = {0.1, -1e100};
  const std::vector<float> scalar = {42.0f};
  const std::vector<SafetensorsTensorToWrite> tensors = {
      {"w.f32", SafetensorsDType::kF32, {2, 3}, bytes_of(f32)},
      {"w.f16", SafetensorsDType::kF16, {3}, bytes_of(f16)},
      {"w.bf16", SafetensorsDType::kBF16, {2, 2}, bytes_of(bf16)},
      {"ids", SafetensorsDType::kI64, {2}, bytes_of(i64)},
      {"i32", SafetensorsDType::kI32, {3, 1}, bytes_of(i32)},
      {"u8", SafetensorsDType::kU8, {2}, bytes_of(u8)},
      {"mask", SafetensorsDType::kBool, {3}, bytes_of(flags)},
      {"f64", SafetensorsDType::kF64, {2}, bytes_of(f64)},
      {"empty", SafetensorsDType::kF32, {0, 4}, {}},
      {"scalar", SafetensorsDType::kF32, {}, bytes_of(scalar)},
  };
  const fs::path path = dir / "all.safetensors";
  write_safetensors(path, tensors, {{"format", "pt"}});
  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.names().size(), tensors.size());
  EXPECT_EQ(file.data_offset() % 8, 0u);
  for (const auto& t : tensors) {
    const TensorView v = file.view(t.name);
    EXPECT_EQ(v.dtype, t.dtype) << t.name;
    EXPECT_EQ(v.shape, t.shape) << t.name;
    ASSERT_EQ(v.nbytes, t.bytes.size()) << t.name;
    if (v.nbytes) EXPECT_EQ(std::memcmp(v.data, t.bytes.data(), v.nbytes), 0) << t.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data) % safetensors_dtype_size(v.dtype), 0u) << t.name;
  }
  EXPECT_EQ(to_float32(file.view("w.f32")), f32);
  EXPECT_EQ(to_float32(file.view("w.f16")), (std::vector<float>{1.0f, -2.0f, 0.5f}));
  EXPECT_EQ(to_float32(file.view("w.bf16")), (std::vector<float>{1.0f, -256.0f, 0.15625f, 3.0f}));
  EXPECT_EQ(to_float32(file.view("ids")), (std::vector<float>{-1.0f, 0x1p40f}));
  EXPECT_EQ(to_float32(file.view("i32")), (std::vector<float>{7, -8, 9}));
  EXPECT_EQ(to_float32(file.view("u8")), (std::vector<float>{0, 255}));
  EXPECT_EQ(to_float32(file.view("mask")), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(to_float32(file.view("f64")),
            (std::vector<float>{0.1f, -std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(file.view("empty").numel(), 0);
  EXPECT_EQ(to_float32(file.view("scalar")), std::vector<float>{42.0f});
  EXPECT_THROW(file.view("missing"), InputError);
  std::vector<float> wrong(5);
  EXPECT_THROW(copy_to_float32(file.view("w.f32"), wrong), InputError);
}

TEST(Safetensors, WriterRejectsBadInput) {
  const fs::path dir = fresh_dir("writer");
  const std::vector<float> v = {1, 2, 3};
  const std::vector<SafetensorsTensorToWrite> mismatch = {{"x", SafetensorsDType::kF32, {2, 2}, bytes_of(v)}};
  EXPECT_THROW(write_safetensors(dir / "a.safetensors", mismatch), InputError);
  const std::vector<SafetensorsTensorToWrite> dup = {{"x", SafetensorsDType::kF32, {3}, bytes_of(v)},
                                                     {"x", SafetensorsDType::kF32, {3}, bytes_of(v)}};
  EXPECT_THROW(write_safetensors(dir / "b.safetensors", dup), InputError);
}

TEST(Safetensors, HostileHeaders) {
  const fs::path dir = fresh_dir("hostile");
  const std::string f4(16, '\0');  // 4 floats of data
  auto t = [](const char* dtype, const char* shape, const char* offsets) {
    return std::string("\"") + "t\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}";
  };
  const std::string good = "{" + t("F32", "[4]", "[0,16]") + "}";
  {
    SafetensorsFile ok(write_raw(dir / "good.st", good, f4));
    EXPECT_EQ(ok.view("t").numel(), 4);
  }

  {  // shorter than the length field
    std::ofstream(dir / "tiny.st") << "abc";
    expect_input_error(dir / "tiny.st", {"at least 8 bytes"});
  }
  expect_input_error(write_raw(dir / "huge.st", good, f4, 1ULL << 62),
                     {"header length", "at most 100000000"});
  expect_input_error(write_raw(dir / "trunc_header.st", good, "", good.size() + 100),
                     {"header length", "truncated"});
  expect_input_error(write_raw(dir / "trunc_data.st", good, f4.substr(0, 10)),
                     {"\"t\".data_offsets", "past the end"});
  expect_input_error(write_raw(dir / "nonjson.st", "{\"t\": [1,2", f4), {"header", "valid JSON"});
  expect_input_error(write_raw(dir / "array.st", "[1,2,3]", ""), {"header", "a JSON object", "array"});
  expect_input_error(write_raw(dir / "baddtype.st", "{" + t("F31", "[4]", "[0,16]") + "}", f4),
                     {"\"t\".dtype", "F31"});
  expect_input_error(write_raw(dir / "negshape.st", "{" + t("F32", "[-4]", "[0,16]") + "}", f4),
                     {"\"t\".shape", "-4"});
  expect_input_error(write_raw(dir / "floatshape.st", "{" + t("F32", "[4.0]", "[0,16]") + "}", f4),
                     {"\"t\".shape"});
  expect_input_error(write_raw(dir / "mismatch.st", "{" + t("F32", "[3]", "[0,16]") + "}", f4),
                     {"\"t\"", "12 bytes", "16 bytes"});
  expect_input_error(
      write_raw(dir / "overflow.st", "{" + t("F32", "[4294967296,4294967296]", "[0,16]") + "}", f4),
      {"\"t\".shape", "64 bits"});
  expect_input_error(write_raw(dir / "reversed.st", "{" + t("F32", "[0]", "[16,0]") + "}", f4),
                     {"begin <= end"});
  expect_input_error(write_raw(dir / "offsets3.st", "{" + t("F32", "[4]", "[0,16,32]") + "}", f4),
                     {"[begin, end]"});
  expect_input_error(write_raw(dir / "nodtype.st", "{\"t\":{\"shape\":[4],\"data_offsets\":[0,16]}}", f4),
                     {"\"t\"", "dtype"});
  const std::string two_overlap =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
  expect_input_error(write_raw(dir / "overlap.st", two_overlap, f4),
                     {"\"b\".data_offsets", "not overlapping"});
  const std::string gap =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
  expect_input_error(write_raw(dir / "gap.st", gap, f4), {"\"b\".data_offsets", "gap"});
  expect_input_error(write_raw(dir / "trailing.st", "{" + t("F32", "[3]", "[0,12]") + "}", f4),
                     {"data section", "trailing bytes"});
  expect_input_error(write_raw(dir / "dupkey.st",
                               "{" + t("F32", "[4]", "[0,16]") + "," + t("F32", "[4]", "[0,16]") + "}", f4),
                     {"unique keys", "\"t\""});
  expect_input_error(
      write_raw(dir / "badmeta.st", "{\"__metadata__\":{\"k\":1}," + t("F32", "[4]", "[0,16]") + "}", f4),
      {"__metadata__.k", "a string"});
  expect_input_error(dir / "does_not_exist.st", {"readable"});
}

// Wrong types and shapes of each entry field, and range layouts the tiling check must reject.
TEST(Safetensors, HostileEntryFieldsAndRanges) {
  const fs::path dir = fresh_dir("hostile_fields");
  const std::string f4(16, '\0');
  auto one = [](const std::string& body) { return "{\"t\":" + body + "}"; };
  expect_input_error(dir, {"a regular file"});  // a directory opens O_RDONLY but is not a file
  expect_input_error(write_raw(dir / "emptyheader.st", "", ""), {"header", "valid JSON"});
  expect_input_error(write_raw(dir / "entry_num.st", one("5"), f4), {"\"t\"", "an object {dtype"});
  expect_input_error(write_raw(dir / "noshape.st", one("{\"dtype\":\"F32\",\"data_offsets\":[0,16]}"), f4),
                     {"\"t\"", "field \"shape\""});
  expect_input_error(write_raw(dir / "nooffsets.st", one("{\"dtype\":\"F32\",\"shape\":[4]}"), f4),
                     {"\"t\"", "field \"data_offsets\""});
  expect_input_error(
      write_raw(dir / "dtype_num.st", one("{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}"), f4),
      {"\"t\".dtype", "a string"});
  expect_input_error(
      write_raw(dir / "shape_num.st", one("{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}"), f4),
      {"\"t\".shape", "an array"});
  expect_input_error(
      write_raw(dir / "shape_big.st",
                one("{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,16]}"), f4),
      {"\"t\".shape", "9223372036854775808"});
  expect_input_error(
      write_raw(dir / "negoffset.st", one("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}"), f4),
      {"\"t\".data_offsets", "[begin, end]"});
  expect_input_error(
      write_raw(dir / "meta_array.st",
                "{\"__metadata__\":[1],\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", f4),
      {"__metadata__", "an object of strings"});
  // Two tensors on the same bytes, and an empty tensor inside another's range, both overlap.
  const std::string same_range =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
  expect_input_error(write_raw(dir / "same_range.st", same_range, f4), {"data_offsets", "not overlapping"});
  const std::string empty_inside =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}";
  expect_input_error(write_raw(dir / "empty_inside.st", empty_inside, f4),
                     {"\"b\".data_offsets", "not overlapping"});
  expect_input_error(write_raw(dir / "no_tensors_trailing.st", "{}", f4), {"data section", "trailing bytes"});
}

// Edge cases that are valid: no tensors at all, and zero-element tensors whose partial shape products pass
// INT64_MAX (numel must still be 0, without signed overflow).
TEST(Safetensors, ValidEdgeHeaders) {
  const fs::path dir = fresh_dir("valid_edges");
  {
    SafetensorsFile empty(write_raw(dir / "empty.st", "{}", ""));
    EXPECT_TRUE(empty.names().empty());
    EXPECT_EQ(empty.data_offset(), 10u);
  }
  const std::string zero =
      "{\"z\":{\"dtype\":\"BOOL\",\"shape\":[4294967296,4294967295,0],\"data_offsets\":[0,0]},"
      "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  SafetensorsFile file(write_raw(dir / "zero.st", zero, std::string(4, '\0')));
  const TensorView z = file.view("z");
  EXPECT_EQ(z.numel(), 0);
  EXPECT_EQ(z.nbytes, 0u);
  EXPECT_TRUE(to_float32(z).empty());
  EXPECT_EQ(to_float32(file.view("t")), std::vector<float>{0.0f});
}

TEST(Safetensors, ShardedCheckpoint) {
  const fs::path dir = fresh_dir("sharded");
  std::vector<std::vector<float>> data;
  std::vector<SafetensorsTensorToWrite> tensors;
  for (int i = 0; i < 5; ++i) data.push_back(std::vector<float>(100 + i, static_cast<float>(i)));
  for (int i = 0; i < 5; ++i)
    tensors.push_back({"layer." + std::to_string(i), SafetensorsDType::kF32, {100 + i}, bytes_of(data[i])});
  write_sharded_safetensors(dir, tensors, 1000);  // ~400 bytes per tensor: 2 per shard -> 3 shards
  EXPECT_TRUE(fs::exists(dir / "model-00003-of-00003.safetensors"));
  SafetensorsCheckpoint ckpt(dir);
  EXPECT_EQ(ckpt.num_shards(), 3u);
  EXPECT_EQ(ckpt.names().size(), 5u);
  EXPECT_EQ(ckpt.total_bytes(), (100 + 101 + 102 + 103 + 104) * 4u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(to_float32(ckpt.view("layer." + std::to_string(i))), data[i]);
  EXPECT_THROW(ckpt.view("layer.9"), InputError);

  // Opening the index path directly, and a single file, work too.
  EXPECT_EQ(SafetensorsCheckpoint(dir / kSafetensorsIndexName).names().size(), 5u);
  EXPECT_EQ(SafetensorsCheckpoint(dir / "model-00001-of-00003.safetensors").names().size(), 2u);

  // An index that names a tensor its shard lacks, or escapes the directory.
  std::ofstream(dir / "bad1.json") << R"({"weight_map": {"layer.0": "model-00002-of-00003.safetensors"}})";
  try {
    SafetensorsCheckpoint bad(dir / "bad1.json");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("weight_map.layer.0"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "bad2.json") << R"({"weight_map": {"layer.0": "../x.safetensors"}})";
  EXPECT_THROW(SafetensorsCheckpoint(dir / "bad2.json"), InputError);
  std::ofstream(dir / "bad3.json") << R"({"metadata": {}})";
  EXPECT_THROW(SafetensorsCheckpoint(dir / "bad3.json"), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(fresh_dir("empty_dir")), InputError);
}

// Tensors made by `fill` when the writer reaches them give the same files as tensors given as bytes, one
// fill call each, in the writer's order, and are sharded by their shapes' sizes.
TEST(Safetensors, TensorsMadeWhenWrittenEqualTensorsGivenAsBytes) {
  std::vector<std::vector<float>> data;
  for (int i = 0; i < 5; ++i) data.push_back(std::vector<float>(100 + i, 0.5f * float(i) - 1.f));
  std::vector<SafetensorsTensorToWrite> given, made;
  std::vector<int> calls(5, 0);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "layer." + std::to_string(i);
    given.push_back({name, SafetensorsDType::kF32, {100 + i}, bytes_of(data[i])});
    made.push_back({name, SafetensorsDType::kF32, {100 + i}, {}, [&, i](std::span<std::byte> out) {
                      ++calls[i];
                      ASSERT_EQ(out.size(), data[i].size() * 4);
                      std::memcpy(out.data(), data[i].data(), out.size());
                    }});
  }
  const fs::path a = fresh_dir("given"), b = fresh_dir("made");
  write_sharded_safetensors(a, given, 1000);
  write_sharded_safetensors(b, made, 1000);
  EXPECT_EQ(calls, std::vector<int>(5, 1));
  for (const char* f : {"model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors",
                        "model.safetensors.index.json"}) {
    std::ifstream fa(a / f, std::ios::binary), fb(b / f, std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(fa)), {}),
        sb((std::istreambuf_iterator<char>(fb)), {});
    EXPECT_FALSE(sa.empty()) << f;
    EXPECT_EQ(sa, sb) << f;
  }
  // A shape whose byte count overflows is refused before anything is made.
  made[0].shape = {int64_t(1) << 62, 8};
  EXPECT_THROW(write_safetensors(b / "bad.safetensors", made), InputError);
  EXPECT_EQ(calls[0], 1);
}

TEST(Safetensors, ReadsFileWrittenByIndependentNumpyWriter) {
  const char* python = "/usr/bin/python3";
  if (!fs::exists(python) || std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "no python3 with numpy";
  const fs::path path = fresh_dir("numpy") / "np.safetensors";
  const std::string cmd = std::string(python) + " " + COORDEXP_SOURCE_DIR +
                          "/tests/io/write_safetensors_numpy.py " + path.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.view("b.half").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(to_float32(file.view("b.half")),
            (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, 0x1p-24f, -0.0f}));
  EXPECT_EQ(to_float32(file.view("a.float")), (std::vector<float>{1.5f, -3.25f, 1e-30f, 3.0e38f}));
  EXPECT_EQ(to_float32(file.view("c.bf16")), (std::vector<float>{1.0f, -256.0f, 0.15625f}));
  EXPECT_EQ(to_float32(file.view("d.long")), (std::vector<float>{-7.0f, 0x1p40f}));
}

}  // namespace
}  // namespace coordexp
