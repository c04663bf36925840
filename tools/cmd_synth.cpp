// `coordexp synth`: writes the OpenShapes dataset (PNG images + COCO JSON per split, synonyms.json,
// dataset.json) into --out. Settings come from the defaults, then --quick, then --config FILE (JSON object of
// SynthConfig fields), then the explicit flags, the later winning.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "coordexp/data/synth_writer.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::cli {
namespace {

struct SynthArgs {
  std::string out;
  std::string config_file;
  std::uint64_t seed = 0;
  int train = 0, val = 0, novel = 0, dense = 0, size = 0, threads = 0;
  bool quick = false;
};

SynthConfig resolve_config(const SynthArgs& a, const CLI::App& sub) {
  SynthConfig cfg;
  if (a.quick) cfg.num_train = 200, cfg.num_val = 40, cfg.num_novel = 40, cfg.num_dense = 20;
  if (!a.config_file.empty()) {
    std::ifstream in(a.config_file);
    if (!in) throw_input_error(a.config_file, "a readable JSON config file", "a file that cannot be opened");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw_input_error(a.config_file, "valid JSON", "a parse error");
    SynthConfig from_file = synth_config_from_json(j, a.config_file);
    if (a.quick) {  // --quick sizes stay unless the file sets them
      if (!j.contains("num_train")) from_file.num_train = cfg.num_train;
      if (!j.contains("num_val")) from_file.num_val = cfg.num_val;
      if (!j.contains("num_novel")) from_file.num_novel = cfg.num_novel;
      if (!j.contains("num_dense")) from_file.num_dense = cfg.num_dense;
    }
    cfg = from_file;
  }
  if (sub.count("--seed")) cfg.seed = a.seed;
  if (sub.count("--train")) cfg.num_train = a.train;
  if (sub.count("--val")) cfg.num_val = a.val;
  if (sub.count("--novel")) cfg.num_novel = a.novel;
  if (sub.count("--dense")) cfg.num_dense = a.dense;
  if (sub.count("--size")) cfg.image_width = cfg.image_height = a.size;
  if (sub.count("--threads")) cfg.num_threads = a.threads;
  return cfg;
}

int run_synth(const SynthArgs& args, const CLI::App& sub) {
  SynthConfig cfg = resolve_config(args, sub);
  validate_synth_config(cfg);
  std::cout << "synth: OpenShapes seed " << cfg.seed << ", " << cfg.image_width << "x" << cfg.image_height
            << " px, " << synth_held_out(cfg).size() << " held-out combinations -> " << args.out << "\n";
  // On a terminal one line per split is rewritten in place; in a log, a line every 25%.
  const bool tty = isatty(fileno(stdout));
  int last_step = -1;
  auto progress = [&](SynthSplit split, int done, int total) {
    const int percent = total > 0 ? 100 * done / total : 100;
    const int step = tty ? percent : percent / 25;
    if (step == last_step && done != total) return;
    last_step = done == total ? -1 : step;
    std::printf(tty ? "\r  %-6s %6d / %-6d images (%3d%%)" : "  %-6s %6d / %-6d images (%3d%%)\n",
                synth_split_name(split).c_str(), done, total, percent);
    if (tty && done == total) std::printf("\n");
    std::fflush(stdout);
  };
  SynthWriteSummary summary = write_synth_dataset(cfg, args.out, progress);
  int images = 0;
  for (const SynthSplitSummary& s : summary.splits) {
    images += s.images;
    std::printf("  %-6s %6d images, %7d objects (%d..%d per image), %.2f s -> %s\n",
                synth_split_name(s.split).c_str(), s.images, s.objects, s.min_objects_per_image,
                s.max_objects_per_image, s.seconds, s.annotation_file.c_str());
  }
  std::printf("synth: %d images in %.2f s (%.0f images/s); synonyms.json and dataset.json written\n", images,
              summary.seconds, summary.seconds > 0 ? images / summary.seconds : 0.0);
  return 0;
}

const CommandRegistrar kRegisterSynth(
    "synth", "Generate the OpenShapes synthetic open-vocabulary dataset (PNG + COCO JSON)",
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<SynthArgs>();
      sub.add_option("--out", args->out, "Output directory")->required();
      sub.add_option("--config", args->config_file, "JSON object of SynthConfig fields")
          ->check(CLI::ExistingFile);
      sub.add_option("--seed", args->seed, "Master seed (default 0)");
      sub.add_option("--train", args->train, "Images in the train split (default 4000)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--val", args->val, "Images in the val split (default 500)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--novel", args->novel, "Images in the novel split (default 500)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--dense", args->dense, "Images in the dense split (default 200)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--size", args->size, "Image width and height in pixels (default 128)");
      sub.add_option("--threads", args->threads, "Worker threads (default: all cores)");
      sub.add_flag("--quick", args->quick, "Small splits for smoke tests (200/40/40/20)");
      return [args, &sub] { return run_synth(*args, sub); };
    });

}  // namespace
}  // namespace coordexp::cli
