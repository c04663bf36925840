// Writing OpenShapes to disk (see synth_writer.hpp): workers take image indices from an atomic counter,
// render, encode and write each PNG, keep only the annotations; the JSON files are written at the end.
#include "coordexp/data/synth_writer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

namespace fs = std::filesystem;

void write_json_file(const nlohmann::json& j, const fs::path& path) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw_input_error(path.string(), "a writable file", "a file that cannot be created");
    out << j.dump(1) << "\n";
    if (!out) throw_input_error(path.string(), "a writable file", "a write error (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw_input_error(path.string(), "a writable file", "a rename error: " + ec.message());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

SynthSplitSummary write_split(const SynthConfig& cfg, SynthSplit split, const fs::path& root,
                              const SynthProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const int n = synth_split_size(cfg, split);
  const fs::path dir = root / synth_split_name(split);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error(dir.string(), "a directory that can be created", ec.message());

  SynthDataset ds;
  ds.split = split;
  ds.categories = synth_categories(synth_held_out(cfg));
  ds.images.resize(n);
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  const int threads = std::max(1, std::min(n, cfg.num_threads > 0 ? cfg.num_threads : hw));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  int done = 0;
  std::exception_ptr error;
  auto work = [&] {
    for (int i = next++; i < n && !failed; i = next++) {
      try {
        SynthImage im = synthesize_image(cfg, split, i);
        save_png(im.image, (root / im.file_name).string(), cfg.png_compression);
        im.image = ImageRGB8();
        ds.images[i] = std::move(im);
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        if (progress) progress(split, done, n);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  SynthSplitSummary s;
  s.split = split;
  s.images = n;
  s.min_objects_per_image = n > 0 ? 1 << 30 : 0;
  for (const SynthImage& im : ds.images) {
    const int k = static_cast<int>(im.objects.size());
    s.objects += k;
    s.min_objects_per_image = std::min(s.min_objects_per_image, k);
    s.max_objects_per_image = std::max(s.max_objects_per_image, k);
  }
  const fs::path ann = root / (synth_split_name(split) + ".json");
  write_json_file(synth_coco_json(cfg, ds), ann);
  s.annotation_file = ann.string();
  s.seconds = seconds_since(t0);
  return s;
}

}  // namespace

SynthWriteSummary write_synth_dataset(const SynthConfig& cfg, const std::string& out_dir,
                                      const SynthProgress& progress) {
  validate_synth_config(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path root(out_dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw_input_error(out_dir, "a directory that can be created", ec.message());

  SynthWriteSummary summary;
  summary.out_dir = out_dir;
  for (SynthSplit split : kAllSynthSplits)
    if (synth_split_size(cfg, split) > 0) summary.splits.push_back(write_split(cfg, split, root, progress));

  write_json_file(synth_synonyms_json(), root / "synonyms.json");
  nlohmann::json meta;
  meta["dataset"] = "OpenShapes";
  meta["config"] = synth_config_to_json(cfg);
  meta["held_out"] = synth_held_out(cfg);
  nlohmann::json splits = nlohmann::json::object();
  for (const SynthSplitSummary& s : summary.splits)
    splits[synth_split_name(s.split)] = {{"images", s.images},
                                         {"objects", s.objects},
                                         {"min_objects_per_image", s.min_objects_per_image},
                                         {"max_objects_per_image", s.max_objects_per_image},
                                         {"annotations", synth_split_name(s.split) + ".json"}};
  meta["splits"] = splits;
  meta["notes"] =
      "bbox is [x, y, w, h] in pixels: the analytic bounds of each shape clipped to the image. "
      "train/val/dense hold seen combinations only; novel holds held-out combinations "
      "(plus seen ones when novel_seen_fraction > 0). file_name is relative to this directory.";
  write_json_file(meta, root / "dataset.json");
  summary.seconds = seconds_since(t0);
  return summary;
}

}  // namespace coordexp
