// Narrowing float32 -> binary16 / bfloat16 with round-to-nearest-even (see float16.hpp).
#include "coordexp/io/float16.hpp"

#include <cmath>

namespace coordexp {

uint16_t float_to_half(float f) {
  const uint32_t x = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN: NaN stays NaN (quiet bit set), Inf stays Inf
    if (abs == 0x7f800000u) return sign | 0x7c00u;
    return sign | 0x7e00u | static_cast<uint16_t>((abs >> 13) & 0x3ffu);
  }
  // 65520 = 0x477ff000 is halfway between the largest half (65504) and 2^16: it and everything above
  // round to infinity.
  if (abs >= 0x477ff000u) return sign | 0x7c00u;
  if (abs < 0x38800000u) {  // below 2^-14: a half subnormal (or zero); units of 2^-24, rounded RNE
    const float scaled = bits_to_float(abs) * 0x1p24f;  // exact: scaling by a power of two
    // nearbyint rounds half to even in the default rounding mode; 1024 lands on the smallest normal.
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  const uint32_t rebiased = abs - (112u << 23);  // exponent 127 -> 15 bias
  uint32_t h = rebiased >> 13;
  const uint32_t rest = rebiased & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
  return sign | static_cast<uint16_t>(h);
}

uint16_t float_to_bfloat16(float f) {
  const uint32_t x = float_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

}  // namespace coordexp
