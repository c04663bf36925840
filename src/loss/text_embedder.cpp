// The default description embedder and the cosine distance used by semantic matching.
#include "coordexp/loss/text_embedder.hpp"

#include <torch/torch.h>

#include "coordexp/util/error.hpp"

namespace coordexp {

MeanInputEmbedder::MeanInputEmbedder(torch::Tensor input_embedding)
    : MeanInputEmbedder(TokenTable{std::move(input_embedding), {}, {}}) {}

MeanInputEmbedder::MeanInputEmbedder(TokenTable input_table) : table_(std::move(input_table)) {
  COORDEXP_CHECK_ARG(table_.base.dim() == 2, "input_embedding", "a [V, E] table",
                     c10::str(table_.base.sizes()));
  table_.base = table_.base.detach();
  if (table_.added.defined()) table_.added = table_.added.detach();
}

torch::Tensor MeanInputEmbedder::embed(const std::vector<std::vector<TokenId>>& descriptions) const {
  torch::NoGradGuard no_grad;
  const int64_t V = table_.size();
  auto out = torch::zeros({static_cast<int64_t>(descriptions.size()), table_.width()}, table_.base.options());
  for (size_t i = 0; i < descriptions.size(); ++i) {
    const auto& d = descriptions[i];
    if (d.empty()) continue;
    for (TokenId id : d)
      COORDEXP_CHECK_ARG(id >= 0 && id < V, "description token", "an id in [0, " + std::to_string(V) + ")",
                         std::to_string(id));
    auto ids = torch::tensor(d, torch::kLong).to(table_.base.device());
    out[i] = table_.lookup(ids).mean(0);
  }
  return out;
}

torch::Tensor cosine_distance_matrix(const torch::Tensor& a, const torch::Tensor& b) {
  auto an = a / a.norm(2, 1, true).clamp_min(1e-12);
  auto bn = b / b.norm(2, 1, true).clamp_min(1e-12);
  return 1 - torch::matmul(an, bn.t());
}

}  // namespace coordexp
