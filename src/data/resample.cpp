// Pillow-exact bicubic resize (see resample.hpp). Written from the algorithm of Pillow 9.x Resample.c: the
// filter weights are computed in double with Pillow's expressions and order of operations, converted to the
// same fixed point, and every output is the same integer sum Pillow forms, so the bytes match exactly.
// Speed: with SSE2 (every x86-64) the sums run as 16-bit multiply-adds (pmaddwd) on weights split into a
// high and a low part, which keeps them exact; the portable path is plain C++ and gives the same bytes.
// The double weights assume no fused multiply-add contraction (x86-64 builds without -march have none).
#include "coordexp/data/resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "coordexp/util/error.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#define COORDEXP_RESAMPLE_SSE2 1
#endif

namespace coordexp {
namespace {

// Pillow's fixed point: 8 bits of result, 2 bits of headroom for the filter's negative lobes and overshoot.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr std::int32_t kRoundHalf = std::int32_t{1} << (kPrecisionBits - 1);
constexpr double kBicubicSupport = 2.0;

// Keys' cubic convolution kernel with a = -0.5, written as Pillow writes it so the doubles round the same
// way.
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Fixed-point filter taps of one pass: output o reads inputs first[o] .. first[o] + count[o] - 1 with weights
// weights[o * stride ...].
struct FilterTaps {
  int stride = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
  const std::int32_t* of(int o) const { return weights.data() + static_cast<std::size_t>(o) * stride; }
};

// Pillow's precompute_coeffs (no box: the whole input) followed by normalize_coeffs_8bpc.
FilterTaps bicubic_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kBicubicSupport * filter_scale;
  const double inv_filter_scale = 1.0 / filter_scale;  // Pillow multiplies by this, never divides
  FilterTaps taps;
  taps.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<std::size_t>(out_size) * taps.stride, 0);
  std::vector<double> w(taps.stride);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    // Pillow rounds with (int)(v + 0.5), which truncates towards zero; negative starts clamp to 0 anyway.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = std::max(hi - lo, 0);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
      w[i] = bicubic_kernel((i + lo - center + 0.5) * inv_filter_scale);
      sum += w[i];
    }
    std::int32_t* fixed = taps.weights.data() + static_cast<std::size_t>(o) * taps.stride;
    for (int i = 0; i < n; ++i) {
      const double normalized = sum != 0.0 ? w[i] / sum : w[i];
      const double scaled = normalized * (1 << kPrecisionBits);
      fixed[i] = static_cast<std::int32_t>(normalized < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    taps.first[o] = lo;
    taps.count[o] = n;
  }
  return taps;
}

// Pillow's clip8: the fixed-point sum back to a byte, saturating.
inline std::uint8_t clip8(std::int32_t sum) {
  return static_cast<std::uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255));
}

// Portable passes: Pillow's sums written out.

// One output pixel of the horizontal pass from `n` input pixels at `p`.
inline void horizontal_pixel(const std::uint8_t* p, const std::int32_t* k, int n, std::uint8_t* dst) {
  std::int32_t r = kRoundHalf, g = kRoundHalf, b = kRoundHalf;
  for (int i = 0; i < n; ++i, p += 3) {
    r += p[0] * k[i];
    g += p[1] * k[i];
    b += p[2] * k[i];
  }
  dst[0] = clip8(r), dst[1] = clip8(g), dst[2] = clip8(b);
}

// Horizontal pass over rows [row_begin, row_end) of `in` into rows 0.. of `out` (out.width() == taps size).
void horizontal_portable(const ImageRGB8& in, int row_begin, int row_end, const FilterTaps& taps,
                         ImageRGB8& out) {
  for (int y = row_begin; y < row_end; ++y) {
    const std::uint8_t* src = in.row(y);
    std::uint8_t* dst = out.row(y - row_begin);
    for (int x = 0; x < out.width(); ++x)
      horizontal_pixel(src + 3 * taps.first[x], taps.of(x), taps.count[x], dst + 3 * x);
  }
}

// Vertical pass: output row y sums input rows taps.first[y] - row_offset + i, whole rows at a time into an
// int32 row (integer sums do not depend on the order, so this equals Pillow's column walk).
void vertical_portable(const ImageRGB8& in, int row_offset, const FilterTaps& taps, ImageRGB8& out) {
  const std::size_t row_bytes = static_cast<std::size_t>(in.width()) * 3;
  std::vector<std::int32_t> acc(row_bytes);
  for (int y = 0; y < out.height(); ++y) {
    std::fill(acc.begin(), acc.end(), kRoundHalf);
    for (int i = 0; i < taps.count[y]; ++i) {
      const std::uint8_t* src = in.row(taps.first[y] - row_offset + i);
      const std::int32_t w = taps.of(y)[i];
      for (std::size_t j = 0; j < row_bytes; ++j) acc[j] += src[j] * w;
    }
    std::uint8_t* dst = out.row(y);
    for (std::size_t j = 0; j < row_bytes; ++j) dst[j] = clip8(acc[j]);
  }
}

#if COORDEXP_RESAMPLE_SSE2
// SSE2 passes. A weight w (|w| < 2^23) is split as w = 256 * high + low with low in 0..255, both fitting
// int16, so pmaddwd forms pixel * high and pixel * low sums exactly in int32 lanes; the sum Pillow forms is
// 256 * high_sum + low_sum, recombined once per output. Taps go in pairs (an odd count gets a zero weight).

constexpr int kSplitBits = 8;

// The high and low parts of two weights, each pair as the two int16 halves of one int32 (pmaddwd's operand
// layout), ready to broadcast.
struct SplitPair {
  std::int32_t high, low;
};

SplitPair split_pair(std::int32_t w0, std::int32_t w1) {
  auto pack = [](std::int32_t a, std::int32_t b) {
    return static_cast<std::int32_t>(static_cast<std::uint16_t>(a) |
                                     (static_cast<std::uint32_t>(static_cast<std::uint16_t>(b)) << 16));
  };
  constexpr std::int32_t kLowMask = (1 << kSplitBits) - 1;
  return {pack(w0 >> kSplitBits, w1 >> kSplitBits), pack(w0 & kLowMask, w1 & kLowMask)};
}

// Whether every weight's high part fits int16 (normalised bicubic weights stay below 2 in magnitude, 2^23 in
// fixed point, so this always holds; the portable path covers the impossible case).
bool splits_exactly(const FilterTaps& taps) {
  constexpr std::int32_t kLimit = std::int32_t{1} << (15 + kSplitBits);
  return std::all_of(taps.weights.begin(), taps.weights.end(),
                     [](std::int32_t w) { return w >= -kLimit && w < kLimit; });
}

// Per output: (count + 1) / 2 split pairs, padded with a zero weight.
std::vector<SplitPair> split_pairs(const FilterTaps& taps, int& pair_stride) {
  pair_stride = (taps.stride + 1) / 2;
  std::vector<SplitPair> pairs(taps.first.size() * static_cast<std::size_t>(pair_stride), SplitPair{});
  for (std::size_t o = 0; o < taps.first.size(); ++o) {
    const std::int32_t* k = taps.of(static_cast<int>(o));
    for (int i = 0; i < taps.count[o]; i += 2)
      pairs[o * pair_stride + i / 2] = split_pair(k[i], i + 1 < taps.count[o] ? k[i + 1] : 0);
  }
  return pairs;
}

// 256 * high + low + half, shifted down and saturated to bytes (packs/packus saturate exactly as clip8 does);
// the low 4 bytes of the result hold lanes 0..3.
inline __m128i finish_sums(__m128i high, __m128i low) {
  __m128i sum =
      _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(high, kSplitBits), low), _mm_set1_epi32(kRoundHalf));
  sum = _mm_srai_epi32(sum, kPrecisionBits);
  sum = _mm_packs_epi32(sum, sum);
  return _mm_packus_epi16(sum, sum);
}

// Output pixels of kRows consecutive rows (`row_bytes` apart) at one column: lanes R, G, B of the high and
// low sums over `pairs` pairs of pixels starting at `p`, the weights loaded once for all rows. Reads 8 bytes
// per pair (2 bytes beyond the pair), so the caller keeps 2 bytes of room after the last row's window.
template <int kRows>
inline void horizontal_pixels_sse2(const std::uint8_t* p, std::size_t row_bytes, const SplitPair* w,
                                   int pairs, std::uint8_t* dst, std::size_t dst_row_bytes) {
  const __m128i zero = _mm_setzero_si128();
  __m128i high[kRows], low[kRows];
  for (int r = 0; r < kRows; ++r) high[r] = low[r] = zero;
  for (int i = 0; i < pairs; ++i, p += 6) {
    const __m128i wh = _mm_set1_epi32(w[i].high), wl = _mm_set1_epi32(w[i].low);
    for (int r = 0; r < kRows; ++r) {
      // [R0 G0 B0 R1 G1 B1 R2 G2] as int16 and the same one pixel on, interleaved: R0 R1 G0 G1 B0 B1 . .
      const __m128i a =
          _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + r * row_bytes)), zero);
      const __m128i pix = _mm_unpacklo_epi16(a, _mm_srli_si128(a, 6));
      high[r] = _mm_add_epi32(high[r], _mm_madd_epi16(pix, wh));
      low[r] = _mm_add_epi32(low[r], _mm_madd_epi16(pix, wl));
    }
  }
  for (int r = 0; r < kRows; ++r) {
    const std::uint32_t rgbx = static_cast<std::uint32_t>(_mm_cvtsi128_si32(finish_sums(high[r], low[r])));
    std::uint8_t* d = dst + r * dst_row_bytes;
    d[0] = static_cast<std::uint8_t>(rgbx), d[1] = static_cast<std::uint8_t>(rgbx >> 8);
    d[2] = static_cast<std::uint8_t>(rgbx >> 16);
  }
}

// Rows in blocks of kRowBlock sharing each weight load; the image's last bytes, where a window has no room
// to read past its end, go through the portable sum.
void horizontal_sse2(const ImageRGB8& in, int row_begin, int row_end, const FilterTaps& taps,
                     ImageRGB8& out) {
  constexpr int kRowBlock = 4;
  int stride = 0;
  const std::vector<SplitPair> pairs = split_pairs(taps, stride);
  const std::size_t total = in.pixels().size(), row_bytes = static_cast<std::size_t>(in.width()) * 3;
  const std::size_t dst_row_bytes = static_cast<std::size_t>(out.width()) * 3;
  for (int y = row_begin; y < row_end;) {
    const int rows = row_end - y >= kRowBlock ? kRowBlock : 1;
    const std::uint8_t* src = in.row(y);
    std::uint8_t* dst = out.row(y - row_begin);
    const std::size_t room =
        total - static_cast<std::size_t>(y + rows - 1) * row_bytes;  // last row to the end
    for (int x = 0; x < out.width(); ++x) {
      const int n_pairs = (taps.count[x] + 1) / 2;
      const std::uint8_t* p = src + 3 * taps.first[x];
      const SplitPair* w = &pairs[static_cast<std::size_t>(x) * stride];
      if (3 * static_cast<std::size_t>(taps.first[x] + 2 * n_pairs) + 2 > room) {
        for (int r = 0; r < rows; ++r)
          horizontal_pixel(p + r * row_bytes, taps.of(x), taps.count[x], dst + r * dst_row_bytes + 3 * x);
      } else if (rows == kRowBlock) {
        horizontal_pixels_sse2<kRowBlock>(p, row_bytes, w, n_pairs, dst + 3 * x, dst_row_bytes);
      } else {
        horizontal_pixels_sse2<1>(p, row_bytes, w, n_pairs, dst + 3 * x, dst_row_bytes);
      }
    }
    y += rows;
  }
}

// One output row of the vertical pass: 16 bytes at a time, rows taken in pairs with their bytes interleaved.
// rows[0 .. 2 * pairs) are the input rows (an odd count repeats the last, with a zero weight); the bytes
// after the last multiple of 16 use the unsplit weights k[0 .. n).
void vertical_row_sse2(const std::uint8_t* const* rows, const SplitPair* w, int pairs, const std::int32_t* k,
                       int n, std::size_t row_bytes, std::uint8_t* dst) {
  const __m128i zero = _mm_setzero_si128();
  std::size_t j = 0;
  for (; j + 16 <= row_bytes; j += 16) {
    __m128i high[4] = {zero, zero, zero, zero}, low[4] = {zero, zero, zero, zero};
    for (int i = 0; i < pairs; ++i) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * i] + j));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * i + 1] + j));
      const __m128i ab[2] = {_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b)};  // a0 b0 a1 b1 ...
      const __m128i wh = _mm_set1_epi32(w[i].high), wl = _mm_set1_epi32(w[i].low);
      for (int q = 0; q < 4; ++q) {
        const __m128i pix =
            (q % 2 == 0) ? _mm_unpacklo_epi8(ab[q / 2], zero) : _mm_unpackhi_epi8(ab[q / 2], zero);
        high[q] = _mm_add_epi32(high[q], _mm_madd_epi16(pix, wh));
        low[q] = _mm_add_epi32(low[q], _mm_madd_epi16(pix, wl));
      }
    }
    __m128i bytes[4];
    for (int q = 0; q < 4; ++q) bytes[q] = finish_sums(high[q], low[q]);
    const __m128i lo =
        _mm_unpacklo_epi32(_mm_unpacklo_epi32(bytes[0], bytes[2]), _mm_unpacklo_epi32(bytes[1], bytes[3]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), lo);
  }
  for (; j < row_bytes; ++j) {  // the row's last bytes
    std::int32_t sum = kRoundHalf;
    for (int i = 0; i < n; ++i) sum += rows[i][j] * k[i];
    dst[j] = clip8(sum);
  }
}

void vertical_sse2(const ImageRGB8& in, int row_offset, const FilterTaps& taps, ImageRGB8& out) {
  int stride = 0;
  const std::vector<SplitPair> pairs = split_pairs(taps, stride);
  const std::size_t row_bytes = static_cast<std::size_t>(in.width()) * 3;
  std::vector<const std::uint8_t*> rows(2 * stride);
  for (int y = 0; y < out.height(); ++y) {
    const int n = taps.count[y], n_pairs = (n + 1) / 2;
    for (int i = 0; i < 2 * n_pairs; ++i) rows[i] = in.row(taps.first[y] - row_offset + std::min(i, n - 1));
    vertical_row_sse2(rows.data(), &pairs[static_cast<std::size_t>(y) * stride], n_pairs, taps.of(y), n,
                      row_bytes, out.row(y));
  }
}
#endif

}  // namespace

namespace detail {

ImageRGB8 resize_bicubic_pil(const ImageRGB8& image, int width, int height, bool allow_simd) {
  COORDEXP_CHECK_ARG(!image.empty(), "image", "a non-empty image", "an empty image");
  COORDEXP_CHECK_ARG(width > 0 && width <= kMaxImageSide, "width", "1.." + std::to_string(kMaxImageSide),
                     std::to_string(width));
  COORDEXP_CHECK_ARG(height > 0 && height <= kMaxImageSide, "height", "1.." + std::to_string(kMaxImageSide),
                     std::to_string(height));
  const bool need_horizontal = width != image.width();
  const bool need_vertical = height != image.height();
  if (!need_horizontal && !need_vertical) return image;
  const FilterTaps horizontal_taps = need_horizontal ? bicubic_taps(image.width(), width) : FilterTaps{};
  const FilterTaps vertical_taps = need_vertical ? bicubic_taps(image.height(), height) : FilterTaps{};
  auto horizontal = horizontal_portable;
  auto vertical = vertical_portable;
#if COORDEXP_RESAMPLE_SSE2
  if (allow_simd && splits_exactly(horizontal_taps)) horizontal = horizontal_sse2;
  if (allow_simd && splits_exactly(vertical_taps)) vertical = vertical_sse2;
#endif
  if (!need_vertical) {
    ImageRGB8 out(width, height);
    horizontal(image, 0, image.height(), horizontal_taps, out);
    return out;
  }
  if (!need_horizontal) {
    ImageRGB8 out(width, height);
    vertical(image, 0, vertical_taps, out);
    return out;
  }
  // As Pillow: the horizontal pass covers only the input rows the vertical pass reads.
  const int row_begin = vertical_taps.first.front();
  const int row_end = vertical_taps.first.back() + vertical_taps.count.back();
  ImageRGB8 temp(width, row_end - row_begin);
  horizontal(image, row_begin, row_end, horizontal_taps, temp);
  ImageRGB8 out(width, height);
  vertical(temp, row_begin, vertical_taps, out);
  return out;
}

}  // namespace detail

ImageRGB8 resize_bicubic_pil(const ImageRGB8& image, int width, int height) {
  return detail::resize_bicubic_pil(image, width, height, /*allow_simd=*/true);
}

}  // namespace coordexp
