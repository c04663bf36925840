// Decode + resize throughput on real JPEG photos: every file of a folder read with load_image and resized
// to SIZE x SIZE, on a pool of T threads, timed over whole passes (1 warm-up, then R repetitions; median,
// min, max images/s). Modes: "full" (decode at full size) and "dct" (DecodeOptions target = the resize
// size, so TurboJPEG decodes at 1/2..1/8 where it can). Prints one JSON object per (mode, threads) line
// for bench/decode_vs_pillow.py, which times Pillow beside it. A plain timed main, not Google Benchmark:
// the unit is a pass over all photos, whose sizes differ.
// Usage: bench_image_decode --images DIR [--size 448] [--threads 1,2] [--repetitions 5]
//                           [--modes full,dct] [--resize bicubic_pil|bilinear]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/data/image_decode.hpp"
#include "coordexp/data/resample.hpp"

namespace {

using coordexp::ImageRGB8;

struct Args {
  std::string images;
  int size = 448;
  std::vector<int> threads = {1, 2};
  int repetitions = 5;
  std::vector<std::string> modes = {"full", "dct"};
  std::string resize = "bicubic_pil";  // Pillow's BICUBIC, what Qwen2-VL's processor uses
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_image_decode: %s\nusage: bench_image_decode --images DIR [--size 448] [--threads 1,2] "
               "[--repetitions 5] [--modes full,dct] [--resize bicubic_pil|bilinear]\n",
               why);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage(("no value after " + key).c_str());
    const std::string value = argv[++i];
    if (key == "--images")
      a.images = value;
    else if (key == "--size")
      a.size = std::atoi(value.c_str());
    else if (key == "--repetitions")
      a.repetitions = std::atoi(value.c_str());
    else if (key == "--modes")
      a.modes = split(value);
    else if (key == "--resize")
      a.resize = value;
    else if (key == "--threads") {
      a.threads.clear();
      for (const std::string& t : split(value)) a.threads.push_back(std::atoi(t.c_str()));
    } else
      usage(("unknown option " + key).c_str());
  }
  if (a.images.empty()) usage("--images is required");
  if (a.size <= 0 || a.repetitions <= 0) usage("--size and --repetitions must be > 0");
  if (a.resize != "bicubic_pil" && a.resize != "bilinear") usage("--resize is bicubic_pil or bilinear");
  return a;
}

std::vector<std::string> list_jpegs(const std::string& dir) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg")) paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// One pass over all photos on `threads` threads; returns the wall time in seconds.
double timed_pass(const std::vector<std::string>& paths, const Args& args, bool dct, int threads,
                  std::uint64_t* checksum) {
  coordexp::DecodeOptions options;
  if (dct) options.target_width = options.target_height = args.size;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> sum{0};
  auto worker = [&] {
    std::uint64_t local = 0;
    for (std::size_t i; (i = next.fetch_add(1)) < paths.size();) {
      const ImageRGB8 decoded = coordexp::load_image(paths[i], options).pixels;
      const ImageRGB8 resized = args.resize == "bilinear"
                                    ? coordexp::resize_bilinear(decoded, args.size, args.size)
                                    : coordexp::resize_bicubic_pil(decoded, args.size, args.size);
      local += resized.pixels()[resized.pixels().size() / 2];
    }
    sum += local;
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *checksum += sum;
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  const std::vector<std::string> paths = list_jpegs(args.images);
  if (paths.empty()) usage(("no .jpg files in " + args.images).c_str());
  std::uint64_t checksum = 0;
  for (const std::string& mode : args.modes) {
    if (mode != "full" && mode != "dct") usage(("unknown mode " + mode).c_str());
    for (int threads : args.threads) {
      timed_pass(paths, args, mode == "dct", threads, &checksum);  // warm-up: page cache, allocator
      std::vector<double> ips;
      for (int r = 0; r < args.repetitions; ++r)
        ips.push_back(paths.size() / timed_pass(paths, args, mode == "dct", threads, &checksum));
      std::sort(ips.begin(), ips.end());
      std::printf(
          "{\"impl\": \"coordexp\", \"mode\": \"%s\", \"resize\": \"%s\", \"threads\": %d, \"images\": %zu, "
          "\"median_ips\": %.2f, \"min_ips\": %.2f, \"max_ips\": %.2f}\n",
          mode.c_str(), args.resize.c_str(), threads, paths.size(), ips[ips.size() / 2], ips.front(),
          ips.back());
      std::fflush(stdout);
    }
  }
  std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(checksum));
  return 0;
}
