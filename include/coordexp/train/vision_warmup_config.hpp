// The vision_warmup section of a training config (see vision_warmup.hpp for what the stage does).
#pragma once

#include <cstdint>

namespace coordexp {

struct VisionWarmupConfig {
  int64_t steps = 0;               // 0 = off
  double lr = 1e-3;                // peak learning rate (linear warmup over steps/10, then cosine to lr/10)
  double box_weight = 1.0;         // weight of the per-token box L1 beside the description CE
  double background_weight = 0.2;  // weight of a background token's CE relative to an object token's
};

}  // namespace coordexp
