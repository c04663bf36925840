// The coordinate vocabulary: K tokens <coord_0>..<coord_{K-1}> occupying a contiguous id range, and the
// structure tokens that frame objects. Bin k means the normalised coordinate phi(k) = k / (K - 1); a
// coordinate c in [0, 1] is quantised to round(c * (K - 1)) (halves round away from zero). Coordinates
// outside [0, 1] are clamped first (boxes that spill over the image border are common in real data);
// NaN is an error.
#pragma once

#include <cstdint>
#include <string>

namespace coordexp {

using TokenId = int64_t;

struct StructureTokens {
  TokenId obj_start = -1;   // <obj_start>: opens an object
  TokenId obj_end = -1;     // <obj_end>: closes an object
  TokenId answer_end = -1;  // end of the answer (the model's end-of-sequence token)
};

class CoordVocab {
 public:
  // num_bins = K >= 2. Coordinate tokens are ids first_id .. first_id + K - 1.
  CoordVocab(int num_bins, TokenId first_id);

  int num_bins() const { return num_bins_; }
  TokenId first_id() const { return first_id_; }
  bool is_coord(TokenId id) const { return id >= first_id_ && id < first_id_ + num_bins_; }
  int bin_of(TokenId id) const { return static_cast<int>(id - first_id_); }
  TokenId id_of_bin(int k) const { return first_id_ + k; }

  double dequantize(int k) const { return static_cast<double>(k) / (num_bins_ - 1); }
  int quantize(double c) const;

  static std::string token_text(int k) { return "<coord_" + std::to_string(k) + ">"; }

 private:
  int num_bins_;
  TokenId first_id_;
};

}  // namespace coordexp
