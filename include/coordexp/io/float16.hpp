// Conversions between float32 and the two 16-bit float formats found in checkpoints: IEEE binary16 (F16)
// and bfloat16 (BF16). Widening is exact for every input (subnormals, infinities, NaN payloads kept);
// narrowing rounds to nearest, ties to even, overflows to infinity and keeps NaN a (quiet) NaN.
#pragma once

#include <cstdint>
#include <cstring>

namespace coordexp {

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// binary16 -> float32. Shifting exponent+mantissa into float32 position and multiplying by 2^112 rebiases
// the exponent (15 -> 127) and normalises subnormals in one exact multiply; only Inf/NaN need a fix-up.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const uint32_t finite = float_to_bits(bits_to_float(magnitude) * 0x1p112f);
  // Written as a select, not a branch, so conversion loops vectorise.
  const uint32_t bits =
      (h & 0x7c00u) == 0x7c00u ? (0x7f800000u | magnitude) : finite;  // Inf/NaN keep payload
  return bits_to_float(sign | bits);
}

// float32 -> binary16, round to nearest even.
uint16_t float_to_half(float f);

// bfloat16 is the upper half of a float32, so widening is a shift.
inline float bfloat16_to_float(uint16_t b) {
  return bits_to_float(static_cast<uint32_t>(b) << 16);
}

// float32 -> bfloat16, round to nearest even.
uint16_t float_to_bfloat16(float f);

}  // namespace coordexp
