// Vision warm-up: a short first stage that trains the tiny V-LLM's image encoder before the detector
// training, the role a pretrained vision tower plays for a real V-LLM. A temporary linear head (discarded
// afterwards; the detector has no detection head) reads every image token: a token on an object predicts
// that object's description tokens (a soft target spread evenly over them) and its box (L1 on sigmoid
// outputs); a token on no object predicts "background". Targets come from the training set's annotations,
// so it works on any COCO-format data. Why: naming an object's shape needs features that the full
// V-LLM, at about one step a second on 2 cores, does not learn within the default run (a plain CNN needs
// ~15k object views before shape accuracy leaves chance; dev/probe_shape.cpp), while the encoder alone takes
// a fifth of a step.
#pragma once

#include <cstdint>
#include <string>

#include "coordexp/model/vlm.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/vision_warmup_config.hpp"

namespace coordexp {

class Communicator;

struct VisionWarmupResult {
  double desc_ce = 0, box_l1 = 0;  // means over the last tenth of the steps
  double word_accuracy = 0;        // object tokens whose top-n classes are their n description tokens
  double background_accuracy = 0;  // background tokens predicted as background
  double seconds = 0;
};

// The token cell targets of one image: for each of the g x g image tokens, the index of the object whose
// box holds the cell centre (the smallest such box) or -1; every object also claims the cell holding its
// box centre unless a smaller object holds it. Boxes normalised to [0, 1].
std::vector<int> assign_token_cells(const std::vector<BoxXYXY>& boxes, int64_t grid);

// Runs config.steps steps on batches builder.build(0 .. steps-1) with its own AdamW; gradients are summed
// over data-parallel ranks through `comm` when given. Logs a progress bar to `log` when non-null.
VisionWarmupResult vision_warmup(VisionLanguageModel& model, const BatchBuilder& builder, int64_t vocab_size,
                                 const VisionWarmupConfig& config, Communicator* comm, std::ostream* log);

}  // namespace coordexp
