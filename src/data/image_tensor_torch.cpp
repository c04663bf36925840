// Images as model input tensors (see image_tensor.hpp).
#include <torch/torch.h>

#include "coordexp/data/image_tensor.hpp"

namespace coordexp {

torch::Tensor image_to_tensor(const ImageRGB8& image, bool flip) {
  const int64_t H = image.height(), W = image.width();
  auto t = torch::from_blob(const_cast<uint8_t*>(image.pixels().data()), {H, W, 3}, torch::kUInt8)
               .permute({2, 0, 1})
               .to(torch::kFloat);
  if (flip) t = t.flip({2});
  return t / 255.0;
}

}  // namespace coordexp
