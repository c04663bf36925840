// Character n-gram hashing embedder; see include/coordexp/eval/label_embedder.hpp.
#include "coordexp/eval/label_embedder.hpp"

#include <cmath>
#include <cstdint>
#include <string>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

CharNgramEmbedder::CharNgramEmbedder(CharNgramEmbedderConfig config) : config_(config) {
  COORDEXP_CHECK_ARG(config_.dim > 0 && config_.min_n >= 1 && config_.max_n >= config_.min_n,
                     "CharNgramEmbedderConfig", "dim > 0 and 1 <= min_n <= max_n",
                     std::to_string(config_.dim) + ", " + std::to_string(config_.min_n) + ", " +
                         std::to_string(config_.max_n));
}

std::vector<float> CharNgramEmbedder::embed(std::string_view text) const {
  std::vector<float> v(size_t(config_.dim), 0.f);
  const std::string padded = " " + std::string(text) + " ";
  for (int n = config_.min_n; n <= config_.max_n; ++n)
    for (size_t i = 0; i + size_t(n) <= padded.size(); ++i) {
      const std::string_view gram(padded.data() + i, size_t(n));
      const uint64_t h = fnv1a(gram, 0);
      v[h % uint64_t(config_.dim)] += (fnv1a(gram, 0x9e3779b97f4a7c15ULL) & 1) ? 1.f : -1.f;
    }
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  if (norm > 0)
    for (float& x : v) x = float(x / std::sqrt(norm));
  return v;
}

double cosine_similarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += double(a[i]) * b[i];
  return dot;
}

}  // namespace coordexp
