// AdamW in one pass over memory. LibTorch's AdamW updates a parameter with nine tensor operations, two of
// them making parameter-sized temporaries (sqrt(v) and its quotient), so an update reads and writes each
// parameter's four tensors about twelve times over; for a Qwen-sized vocabulary table that is most of the
// optimiser's time. FusedAdamW does the same arithmetic element by element in one parallel loop (read p,
// g, m, v; write p, m, v), with the same state (AdamWParamState under the same keys), so its checkpoints
// are LibTorch's AdamW's and either one resumes the other's. Float and double parameters with dense
// contiguous tensors take the fused loop; anything else (amsgrad, other dtypes, strided tensors) takes
// LibTorch's operations. A sparse gradient is made dense first.
#pragma once

#include <torch/torch.h>

namespace coordexp {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace coordexp
