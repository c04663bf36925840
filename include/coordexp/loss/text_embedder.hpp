// Text embeddings e(d) of object descriptions, used only by the semantic term of the matching cost
// (1 - cos(e(d_hat), e(d))); they carry no gradients. An interface, so a separate frozen sentence embedder
// can replace the default: the mean of the model's own input embeddings over the description's tokens.
#pragma once

#include <torch/types.h>

#include <vector>

#include "coordexp/text/coord_vocab.hpp"
#include "coordexp/text/token_table.hpp"

namespace coordexp {

class TextEmbedder {
 public:
  virtual ~TextEmbedder() = default;
  // descriptions (token ids each) -> [N, E]; rows need not be normalised. An empty description gives a zero
  // row.
  virtual torch::Tensor embed(const std::vector<std::vector<TokenId>>& descriptions) const = 0;
};

class MeanInputEmbedder : public TextEmbedder {
 public:
  explicit MeanInputEmbedder(torch::Tensor input_embedding);  // [V, E], read without gradients
  explicit MeanInputEmbedder(TokenTable input_table);         // the same, in one or two parts
  torch::Tensor embed(const std::vector<std::vector<TokenId>>& descriptions) const override;

 private:
  TokenTable table_;
};

// 1 - cosine similarity: a [N, E], b [M, E] -> [N, M]; a zero row has similarity 0 to everything.
torch::Tensor cosine_distance_matrix(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace coordexp
