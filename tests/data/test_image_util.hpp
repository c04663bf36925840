// Helpers shared by the image test files (tests/data/test_image*.cpp): a per-process temporary folder, file
// bytes in and out, a gradient test image, pixel differences, and the message of an expected InputError.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::image_test {

namespace fs = std::filesystem;

// A folder of this test process's own, removed when the process exits.
inline fs::path temp_dir() {
  struct Folder {
    fs::path path;
    Folder() {
      std::random_device rd;
      path = fs::temp_directory_path() / ("coordexp_image_test_" + std::to_string(rd()));
      fs::create_directories(path);
    }
    ~Folder() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Folder folder;
  return folder.path;
}

inline void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline ImageRGB8 gradient_image(int w, int h) {
  ImageRGB8 im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      im.set(x, y,
             {static_cast<std::uint8_t>(x * 7), static_cast<std::uint8_t>(y * 11),
              static_cast<std::uint8_t>((x * y) & 255)});
  return im;
}

// Largest |a - b| over all channels; -1 when the sizes differ.
inline int max_abs_diff(const ImageRGB8& a, const ImageRGB8& b) {
  if (a.width() != b.width() || a.height() != b.height()) return -1;
  int worst = 0;
  for (std::size_t i = 0; i < a.pixels().size(); ++i)
    worst = std::max(worst, std::abs(int{a.pixels()[i]} - int{b.pixels()[i]}));
  return worst;
}

// The message of the InputError `f` throws ("" and a test failure if it throws nothing or something else).
template <class F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected InputError, nothing was thrown";
  return "";
}

}  // namespace coordexp::image_test
