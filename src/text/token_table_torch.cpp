// Token tables in one or two parts (see token_table.hpp).
#include <torch/torch.h>

#include "coordexp/text/token_table.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

int64_t TokenTable::size() const {
  return base.size(0) + (added.defined() ? added.size(0) : 0);
}

// Rows held in bfloat16 (frozen pretrained rows) come out in float32, the precision activations keep.
torch::Tensor TokenTable::lookup(const torch::Tensor& ids) const {
  const auto as_float = [](torch::Tensor t) {
    return t.scalar_type() == torch::kBFloat16 ? t.to(torch::kFloat) : t;
  };
  const auto rows = [&](const torch::Tensor& table, const torch::Tensor& i) {
    return torch::embedding(table, i, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, sparse_grad);
  };
  if (!added.defined()) return as_float(rows(base, ids));
  const int64_t V0 = base.size(0);
  const auto is_added = ids >= V0;
  auto from_base = as_float(rows(base, ids.clamp_max(V0 - 1)));
  auto from_added = rows(added, (ids - V0).clamp_min(0));
  return torch::where(is_added.unsqueeze(-1), from_added, from_base);
}

torch::Tensor TokenTable::logits(const torch::Tensor& hidden) const {
  // a bfloat16 table is multiplied in bfloat16; the logits come out in the hidden states' precision
  auto z = base.scalar_type() == hidden.scalar_type()
               ? torch::matmul(hidden, base.t())
               : torch::matmul(hidden.to(base.scalar_type()), base.t()).to(hidden.scalar_type());
  if (added.defined()) z = torch::cat({z, torch::matmul(hidden, added.t())}, -1);
  return bias.defined() ? z + bias : z;
}

torch::Tensor TokenTable::rows(int64_t first, int64_t count) const {
  const int64_t V0 = base.size(0);
  COORDEXP_CHECK_ARG(first >= 0 && count >= 0 && first + count <= size(), "token rows",
                     "inside [0, " + std::to_string(size()) + ")",
                     std::to_string(first) + " + " + std::to_string(count));
  if (!added.defined() || first + count <= V0) return base.narrow(0, first, count);
  if (first >= V0) return added.narrow(0, first - V0, count);
  return torch::cat({base.narrow(0, first, V0 - first), added.narrow(0, 0, first + count - V0)});
}

torch::Tensor TokenTable::bias_rows(int64_t first, int64_t count) const {
  return bias.defined() ? bias.narrow(0, first, count) : torch::Tensor();
}

torch::Tensor TokenTable::full() const {
  return added.defined() ? torch::cat({base, added}) : base;
}

}  // namespace coordexp
