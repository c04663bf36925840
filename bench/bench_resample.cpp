// Pillow-exact bicubic resize (data/resample) of a 2000x1333 photo to Qwen2-VL-like sizes, one thread.
// The photo comes from the binary PPM named by COORDEXP_BENCH_PHOTO_PPM (bench/resample_vs_pil.py writes
// one with Pillow and times Pillow beside this program); without it, 2000x1333 noise (the time does not
// depend on the content).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "coordexp/data/resample.hpp"

namespace {

// Reads a binary PPM (P6, maxval 255) as written by Pillow: header fields separated by single whitespace.
coordexp::ImageRGB8 read_ppm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  in >> magic >> w >> h >> maxval;
  in.get();
  if (!in || magic != "P6" || maxval != 255)
    throw std::runtime_error(path + ": expected a P6 PPM, maxval 255");
  coordexp::ImageRGB8 im(w, h);
  in.read(reinterpret_cast<char*>(im.pixels().data()), static_cast<std::streamsize>(im.pixels().size()));
  if (!in) throw std::runtime_error(path + ": truncated PPM");
  return im;
}

const coordexp::ImageRGB8& photo() {
  static const coordexp::ImageRGB8 im = [] {
    if (const char* path = std::getenv("COORDEXP_BENCH_PHOTO_PPM")) return read_ppm(path);
    coordexp::ImageRGB8 noise(2000, 1333);
    std::mt19937 rng(7);
    for (auto& b : noise.pixels()) b = static_cast<std::uint8_t>(rng() & 255);
    return noise;
  }();
  return im;
}

void BM_ResizeBicubicPil(benchmark::State& state) {
  const auto& im = photo();
  const int w = static_cast<int>(state.range(0)), h = static_cast<int>(state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(coordexp::resize_bicubic_pil(im, w, h));
  state.SetLabel(std::to_string(im.width()) + "x" + std::to_string(im.height()) + "->" + std::to_string(w) +
                 "x" + std::to_string(h));
}

BENCHMARK(BM_ResizeBicubicPil)->Args({448, 448})->Args({1008, 672})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
