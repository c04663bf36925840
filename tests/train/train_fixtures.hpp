// Shared by the test_train cases: a small OpenShapes dataset written once per process.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "coordexp/data/synth_writer.hpp"
#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/train_config.hpp"

namespace coordexp::testing {

// <build>/tests/train_<pid>/data: 40 train, 8 val, 4 novel images of 32x32 with 1-3 objects. One folder per
// process because CTest runs the cases as parallel processes; removed when the process exits. Runs of the
// tests go beside data/ in the same folder.
inline const std::filesystem::path& test_root() {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    fs::path d = fs::path(COORDEXP_BINARY_DIR) / "tests" / ("train_" + std::to_string(::getpid()));
    fs::remove_all(d);
    SynthConfig c;
    c.num_train = 40, c.num_val = 8, c.num_novel = 4, c.num_dense = 0;
    c.image_width = c.image_height = 32;
    c.min_object_size = 6, c.max_object_size = 14, c.max_objects = 3;
    c.num_threads = 1;
    write_synth_dataset(c, (d / "data").string());
    return d;
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

inline std::filesystem::path test_data_dir() {
  return test_root() / "data";
}

// The parameters of a tiny-model run's checkpoint, in registration order.
inline std::vector<torch::Tensor> load_params(const std::filesystem::path& ckpt, int64_t vocab,
                                              const TrainConfig& cfg) {
  TinyVlmConfig m = cfg.model;
  m.vocab_size = vocab;
  auto model = build_tiny_vlm(m);
  load_checkpoint(ckpt.string(), *model, nullptr, vocab);
  return model->parameters();
}

}  // namespace coordexp::testing
