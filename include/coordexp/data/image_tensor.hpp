// Images as model input tensors (the LibTorch side of the data layer, built into coordexp_torch).
#pragma once

#include <torch/types.h>

#include "coordexp/data/image.hpp"

namespace coordexp {

// [3, H, W] float RGB in [0, 1], mirrored left-right when `flip` (models normalise themselves, see
// VisionLanguageModel::encode_images).
torch::Tensor image_to_tensor(const ImageRGB8& image, bool flip);

}  // namespace coordexp
