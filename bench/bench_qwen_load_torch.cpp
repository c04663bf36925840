// Loading a multi-shard Qwen2-VL checkpoint (~440 MB of float32 weights in 4 shards, written once) from the
// page cache into the LibTorch model: GB/s of checkpoint bytes, and resident memory at its peak during the
// load over the model's own size (the mapping's pages are released tensor by tensor, so the peak should be
// the model plus a small constant, not twice the model).
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "coordexp/model/qwen2_vl.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

// "VmRSS" / "VmHWM" of /proc/self/status in MiB.
double status_mib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  return 0;
}

const fs::path& checkpoint() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("coordexp_bench_qwen_" + std::to_string(::getpid()));
    TinyQwenSpec s;
    s.hidden = 1024, s.layers = 8, s.heads = 16, s.kv_heads = 4, s.intermediate = 2816;
    s.vision_width = 512, s.vision_depth = 4, s.vision_heads = 8, s.vision_intermediate = 2048;
    s.shards = 4;
    // written by a child process, so this process's heap has not held a model before the measured load
    const pid_t child = ::fork();
    if (child == 0) {
      write_tiny_qwen_checkpoint(d, s);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("writing the checkpoint failed");
    return d;
  }();
  return dir;
}

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("coordexp_bench_qwen_" + std::to_string(::getpid())), ec);
  }
} cleanup;

void BM_LoadQwenCheckpoint(benchmark::State& state) {
  const fs::path& dir = checkpoint();
  // Warm the page cache by reading the files (not by loading: a freed model's heap would be reused and hide
  // the first load's peak, which is the one measured).
  std::vector<char> buffer(1 << 20);
  for (const auto& e : fs::directory_iterator(dir))
    for (std::ifstream f(e.path(), std::ios::binary);
         f.read(buffer.data(), buffer.size()) || f.gcount() > 0;) {
    }
  uint64_t bytes = 0;
  double peak_over_model = 0, model_mib = 0;
  bool first = true;
  for (auto _ : state) {
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
    const double before = status_mib("VmRSS");
    QwenLoadReport report;
    auto model = load_qwen_vl(dir, &report);
    bytes += report.bytes_read;
    model_mib = report.bytes_read / 1048576.0;
    if (first) peak_over_model = status_mib("VmHWM") - before - model_mib;
    first = false;
    benchmark::DoNotOptimize(model.get());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["model_MiB"] = model_mib;
  state.counters["peak_over_model_MiB"] = peak_over_model;  // first load, fresh heap
}
BENCHMARK(BM_LoadQwenCheckpoint)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace
}  // namespace coordexp

BENCHMARK_MAIN();
