// Helpers shared by the dataset test files (tests/data/test_dataset_*.cpp, test_detection_dataset*.cpp):
// a fresh folder per test under this process's own temporary folder, text and PNG files written into it,
// and the message of an expected InputError. Every dataset is written at test time; no binaries are checked
// in.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "coordexp/data/image.hpp"
#include "coordexp/util/error.hpp"
#include "test_image_util.hpp"

namespace coordexp::dataset_test {

namespace fs = std::filesystem;

// An empty folder named after the running test, inside the test process's own folder (removed at exit).
inline fs::path fresh_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = image_test::temp_dir() / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline fs::path write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A w x h PNG of a plain colour.
inline fs::path write_png(const fs::path& path, int w, int h) {
  save_png(ImageRGB8(w, h, {90, 120, 200}), path.string());
  return path;
}

// The message of the InputError `f` throws ("" and a test failure if it throws nothing or something else).
template <class F>
std::string input_error_of(F&& f) {
  return image_test::input_error_message(std::forward<F>(f));
}

}  // namespace coordexp::dataset_test
