// Grounding supervision: an auxiliary training term that tells one decoder attention head where each
// written object is. For every text position that predicts a token of object k (from its <obj_start> to
// its last coordinate), the term is -log of the attention probability that head puts on the image tokens
// of object k's cells. Nothing changes at inference and the detector gets no extra head: the term only
// shapes where the decoder looks while it learns.
// Why: the tiny decoder learns to read the image slowly. With perfect image tokens (the ground truth of
// every cell coded into its token, dev/probe_oracle.cpp), a 2-layer decoder still writes the first
// object's colour at chance after 380 steps; the attention that picks one object among several is what
// it fails to find. Supervised, that head puts half of its mass on the right object within 300 steps.
#pragma once

#include <cstdint>
#include <vector>

#include "coordexp/geometry/box.hpp"
#include "coordexp/loss/set_criterion.hpp"

namespace coordexp {

// The image-token cells (row-major in a grid x grid patch grid) of a box normalised to [0, 1]: every cell
// whose centre lies inside the box, and always the cell holding the box centre, so that small boxes get one.
std::vector<int64_t> object_cells(const BoxXYXY& box, int64_t grid);

struct GroundingTerm {
  torch::Tensor value;   // scalar: mean over supervised positions of -log(attention mass on the object)
  double positions = 0;  // supervised positions (the term's denominator; 0 = none, value is 0)
};

// image_attention [N, T, I]: log-probabilities of one head from each text position over the I image tokens
// (VisionLanguageModel::image_attention); samples [N]: teacher-forced sequences whose objects carry the
// index of their ground truth (source_index). Objects without one (rollout output) are skipped.
GroundingTerm grounding_term(const torch::Tensor& image_attention,
                             const std::vector<CriterionSample>& samples);

}  // namespace coordexp
