// Text embedders for label mapping: an interface (unit-length vectors, cosine = dot product) and the
// default, a dependency-free character n-gram hashing embedder (robust to typos and word order changes).
#pragma once

#include <string_view>
#include <vector>

namespace coordexp {

class LabelEmbedder {
 public:
  virtual ~LabelEmbedder() = default;
  // A unit-length vector (all zeros for text without characters); equal inputs give equal vectors.
  virtual std::vector<float> embed(std::string_view text) const = 0;
};

struct CharNgramEmbedderConfig {
  int dim = 512;  // vector length (hash buckets)
  int min_n = 2;  // shortest character n-gram
  int max_n = 4;  // longest character n-gram
};

// Hashes the character n-grams of " text " (padded with spaces so word edges count) into buckets,
// with a second hash choosing the sign, then L2-normalises.
class CharNgramEmbedder : public LabelEmbedder {
 public:
  explicit CharNgramEmbedder(CharNgramEmbedderConfig config = {});
  std::vector<float> embed(std::string_view text) const override;

 private:
  CharNgramEmbedderConfig config_;
};

// Dot product of two unit vectors; 0 when the lengths differ or either is empty.
double cosine_similarity(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace coordexp
