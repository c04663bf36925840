// Quantisation rules of the coordinate vocabulary (see coord_vocab.hpp).
#include "coordexp/text/coord_vocab.hpp"

#include <algorithm>
#include <cmath>

#include "coordexp/util/error.hpp"

namespace coordexp {

CoordVocab::CoordVocab(int num_bins, TokenId first_id) : num_bins_(num_bins), first_id_(first_id) {
  COORDEXP_CHECK_ARG(num_bins >= 2, "num_bins (K)", "at least 2 coordinate bins", std::to_string(num_bins));
  COORDEXP_CHECK_ARG(first_id >= 0, "first_id", "a non-negative token id", std::to_string(first_id));
}

int CoordVocab::quantize(double c) const {
  COORDEXP_CHECK_ARG(!std::isnan(c), "coordinate", "a number in [0, 1]", "NaN");
  const double clamped = std::clamp(c, 0.0, 1.0);
  return static_cast<int>(std::lround(clamped * (num_bins_ - 1)));
}

}  // namespace coordexp
