// Loading speed of a multi-shard safetensors checkpoint from the page cache: 4 shards x 64 MB written
// once to a temp dir, then (a) open + convert every tensor to float32 (GB/s of checkpoint bytes) for
// F32/BF16/F16 sources and (b) open + copy-free views of every tensor (no data touched).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "coordexp/io/float16.hpp"
#include "coordexp/io/safetensors.hpp"
#include "coordexp/io/safetensors_checkpoint.hpp"

namespace coordexp {
namespace {

constexpr int kShards = 4;
constexpr uint64_t kShardBytes = 64ull << 20;
constexpr int kTensorsPerShard = 16;  // 4 MB tensors, like the MLP weights of a small model

struct Fixture {
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("coordexp_bench_safetensors_" + std::to_string(::getpid()));
  std::map<SafetensorsDType, std::filesystem::path> dirs;
  ~Fixture() { std::filesystem::remove_all(root); }

  // Writes the checkpoint for `dtype` on first use.
  const std::filesystem::path& checkpoint(SafetensorsDType dtype) {
    auto it = dirs.find(dtype);
    if (it != dirs.end()) return it->second;
    const size_t elem = safetensors_dtype_size(dtype);
    const size_t tensor_bytes = kShardBytes / kTensorsPerShard;
    std::vector<std::vector<std::byte>> storage;
    std::vector<SafetensorsTensorToWrite> tensors;
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.f, 0.02f);
    for (int t = 0; t < kShards * kTensorsPerShard; ++t) {
      std::vector<std::byte> bytes(tensor_bytes);
      for (size_t i = 0; i < tensor_bytes / elem; ++i) {
        const float v = normal(rng);
        if (dtype == SafetensorsDType::kF32) std::memcpy(&bytes[i * 4], &v, 4);
        const uint16_t h = dtype == SafetensorsDType::kF16 ? float_to_half(v) : float_to_bfloat16(v);
        if (elem == 2) std::memcpy(&bytes[i * 2], &h, 2);
      }
      storage.push_back(std::move(bytes));
      tensors.push_back({"model.layers." + std::to_string(t) + ".mlp.weight",
                         dtype,
                         {static_cast<int64_t>(tensor_bytes / elem / 1024), 1024},
                         storage.back()});
    }
    const auto dir = root / std::string(safetensors_dtype_name(dtype));
    write_sharded_safetensors(dir, tensors, kShardBytes);
    return dirs.emplace(dtype, dir).first->second;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_LoadToFloat32(benchmark::State& state, SafetensorsDType dtype) {
  const auto dir = fixture().checkpoint(dtype);
  uint64_t bytes = 0;
  std::vector<std::vector<float>> out;  // allocated once: measures reading + conversion, not malloc
  {
    SafetensorsCheckpoint ckpt(dir);
    for (const auto& name : ckpt.names()) out.emplace_back(static_cast<size_t>(ckpt.view(name).numel()));
    bytes = ckpt.total_bytes();
  }
  for (auto _ : state) {
    SafetensorsCheckpoint ckpt(dir);
    size_t k = 0;
    for (const auto& name : ckpt.names()) copy_to_float32(ckpt.view(name), out[k++]);
    benchmark::DoNotOptimize(out.back().data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["shards"] = kShards;
}
BENCHMARK_CAPTURE(BM_LoadToFloat32, f32, SafetensorsDType::kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoadToFloat32, bf16, SafetensorsDType::kBF16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoadToFloat32, f16, SafetensorsDType::kF16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Open (mmap + header validation) and take a view of every tensor; what a from_blob wrapper pays.
void BM_OpenAndView(benchmark::State& state) {
  const auto dir = fixture().checkpoint(SafetensorsDType::kF32);
  int64_t views = 0;
  for (auto _ : state) {
    SafetensorsCheckpoint ckpt(dir);
    for (const auto& name : ckpt.names()) {
      const TensorView v = ckpt.view(name);
      benchmark::DoNotOptimize(v.data);
      ++views;
    }
  }
  state.SetItemsProcessed(views);
}
BENCHMARK(BM_OpenAndView)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace coordexp

BENCHMARK_MAIN();
