// Portable random numbers for the synthetic dataset: std::mt19937_64 (whose output the standard fixes) with
// our own uniform / normal / integer helpers, because std::*_distribution outputs differ between standard
// libraries. Same seed -> same sequence on every platform; seeds for sub-streams come from splitmix64.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace coordexp {

// splitmix64 finaliser: a well-mixed 64-bit hash, used to derive independent per-image seeds.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Hashes a sequence of keys into one seed (order matters).
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ (b + 0x632BE59BD9B4E019ull));
}

class SynthRng {
 public:
  explicit SynthRng(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi] (inclusive); unbiased by rejection.
  int uniform_int(int lo, int hi) {
    if (hi <= lo) return lo;
    const std::uint64_t range = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo) + 1;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t v;
    do v = engine_();
    while (v >= limit);
    return lo + static_cast<int>(v % range);
  }
  // Log-uniform in [lo, hi): small values as likely per octave as large ones.
  double log_uniform(double lo, double hi) { return lo * std::exp(uniform() * std::log(hi / lo)); }
  // Normal via Box-Muller; one pair per call, the second value discarded so no state is cached.
  double normal(double mean = 0.0, double stddev = 1.0) {
    double u1 = uniform();
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1 - u1 is in (0, 1]: log is finite
    return mean + stddev * r * std::cos(2.0 * 3.14159265358979323846 * u2);
  }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace coordexp
