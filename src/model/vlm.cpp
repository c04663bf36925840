// The parts of the model interface every family shares (see vlm.hpp): image tokens of mixed-size batches.
#include "coordexp/model/vlm.hpp"

#include <limits>
#include <map>

#include "coordexp/util/error.hpp"

namespace coordexp {

bool ImageTokens::padded() const {
  const int64_t I = embeds.size(1);
  for (size_t b = 0; b < rows.size(); ++b)
    if (count(b) != I) return true;
  return false;
}

ImageTokens ImageTokens::uniform(torch::Tensor embeds, int64_t rows, int64_t cols) {
  COORDEXP_CHECK_ARG(embeds.dim() == 3 && embeds.size(1) == rows * cols, "image embeddings",
                     "[B, rows * cols, D] with rows * cols = " + std::to_string(rows * cols),
                     c10::str(embeds.sizes()));
  const auto B = static_cast<size_t>(embeds.size(0));
  return ImageTokens{std::move(embeds), std::vector<int64_t>(B, rows), std::vector<int64_t>(B, cols)};
}

ImageTokens ImageTokens::repeat_interleave(int64_t repeats) const {
  if (repeats == 1) return *this;
  ImageTokens out{embeds.repeat_interleave(repeats, 0), {}, {}};
  for (size_t b = 0; b < rows.size(); ++b) {
    out.rows.insert(out.rows.end(), repeats, rows[b]);
    out.cols.insert(out.cols.end(), repeats, cols[b]);
  }
  return out;
}

torch::Tensor ImageTokens::key_mask() const {
  if (!padded()) return {};
  const int64_t B = batch(), I = embeds.size(1);
  auto mask = torch::zeros({B, 1, 1, I}, embeds.options());
  for (int64_t b = 0; b < B; ++b)
    mask[b].narrow(-1, count(b), I - count(b)).fill_(-std::numeric_limits<float>::infinity());
  return mask;
}

const AdapterSet& VisionLanguageModel::attach_adapters(const AdapterConfig& config) {
  COORDEXP_CHECK_ARG(adapters_.empty(), "adapters", "a model without adapters", "one that has them");
  adapters_.attach(adaptable_linears(), config);
  return adapters_;
}

ImageTokens VisionLanguageModel::encode_image_list(const std::vector<torch::Tensor>& images) {
  COORDEXP_CHECK_ARG(!images.empty(), "images", "at least one image", "none");
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> groups;  // (H, W) -> rows, in order
  for (size_t b = 0; b < images.size(); ++b) {
    COORDEXP_CHECK_ARG(images[b].dim() == 3 && images[b].size(0) == 3, "images[" + std::to_string(b) + "]",
                       "[3, H, W]", c10::str(images[b].sizes()));
    groups[{images[b].size(1), images[b].size(2)}].push_back(b);
  }
  if (groups.size() == 1) return encode_images(torch::stack(images));
  const auto B = static_cast<int64_t>(images.size());
  std::vector<ImageTokens> encoded;
  int64_t I = 0;
  for (const auto& [size, members] : groups) {
    std::vector<torch::Tensor> group;
    for (size_t b : members) group.push_back(images[b]);
    encoded.push_back(encode_images(torch::stack(group)));
    I = std::max(I, encoded.back().embeds.size(1));
  }
  ImageTokens out{torch::Tensor(), std::vector<int64_t>(B), std::vector<int64_t>(B)};
  size_t g = 0;
  std::vector<torch::Tensor> rows(B);
  for (const auto& [size, members] : groups) {
    const ImageTokens& e = encoded[g++];
    for (size_t k = 0; k < members.size(); ++k) {
      const size_t b = members[k];
      out.rows[b] = e.rows[k];
      out.cols[b] = e.cols[k];
      rows[b] = torch::constant_pad_nd(e.embeds[k], {0, 0, 0, I - e.embeds.size(1)});  // [I, D]
    }
  }
  out.embeds = torch::stack(rows);  // differentiable: the gradient reaches each group's encoding
  return out;
}

}  // namespace coordexp
