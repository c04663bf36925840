// Grounding supervision (see grounding.hpp): the image cells of each object's box, and the mean, over the
// positions from each object's <obj_start> to its last coordinate, of -log(attention mass the supervised head
// puts on those cells), a logsumexp of the head's log-probabilities so it stays finite where that mass is
// tiny.
#include "coordexp/train/grounding.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "coordexp/util/error.hpp"

namespace coordexp {

std::vector<int64_t> object_cells(const BoxXYXY& box, int64_t grid) {
  std::vector<int64_t> cells;
  const auto cell_of = [grid](double v) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(v * static_cast<double>(grid))), 0, grid - 1);
  };
  const int64_t centre = cell_of((box.y1 + box.y2) / 2) * grid + cell_of((box.x1 + box.x2) / 2);
  for (int64_t r = 0; r < grid; ++r)
    for (int64_t c = 0; c < grid; ++c) {
      const double cx = (static_cast<double>(c) + 0.5) / static_cast<double>(grid),
                   cy = (static_cast<double>(r) + 0.5) / static_cast<double>(grid);
      const bool inside = cx >= box.x1 && cx <= box.x2 && cy >= box.y1 && cy <= box.y2;
      if (inside || r * grid + c == centre) cells.push_back(r * grid + c);
    }
  return cells;
}

GroundingTerm grounding_term(const torch::Tensor& image_attention,
                             const std::vector<CriterionSample>& samples) {
  if (image_attention.dim() != 3 || image_attention.size(0) != static_cast<int64_t>(samples.size())) {
    std::ostringstream found;
    found << image_attention.sizes() << " for " << samples.size() << " samples";
    throw_input_error("argument image_attention", "[N, T, I] with N = samples", found.str());
  }
  const int64_t N = image_attention.size(0), T = image_attention.size(1), I = image_attention.size(2);
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(I))));
  COORDEXP_CHECK_ARG(grid * grid == I, "image_attention", "a square number of image tokens",
                     std::to_string(I));
  // target cells of each supervised position as a mask over [N * T, I], built on the CPU
  auto cell_mask = torch::zeros({N, T, I}, torch::kBool);
  auto row_mask = torch::zeros({N, T}, torch::kBool);
  auto cells_acc = cell_mask.accessor<bool, 3>();
  auto rows_acc = row_mask.accessor<bool, 2>();
  for (int64_t n = 0; n < N; ++n)
    for (const auto& o : samples[n].objects) {
      if (o.source_index < 0 || o.source_index >= static_cast<int64_t>(samples[n].ground_truth.size()))
        continue;
      const auto cells = object_cells(samples[n].ground_truth[o.source_index].box, grid);
      for (int64_t t = std::max<int64_t>(0, o.open_pos); t <= o.coord_pos[3] && t < T; ++t) {
        rows_acc[n][t] = true;
        for (int64_t c : cells) cells_acc[n][t][c] = true;
      }
    }
  GroundingTerm out;
  out.positions = static_cast<double>(row_mask.sum().item<int64_t>());
  if (out.positions == 0) {
    out.value = image_attention.sum() * 0.0;  // keeps the graph; no supervised position
    return out;
  }
  const auto device = image_attention.device();
  auto mass = image_attention.masked_fill(cell_mask.to(device).logical_not(), -1e30).logsumexp(-1);  // [N, T]
  auto rows = row_mask.to(device);
  out.value = -(mass.masked_fill(rows.logical_not(), 0.0)).sum() / out.positions;
  return out;
}

}  // namespace coordexp
