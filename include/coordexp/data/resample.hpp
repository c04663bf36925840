// Bicubic resize giving Pillow's Image.resize((w, h), Image.BICUBIC) byte for byte on 8-bit RGB (Pillow 9.x
// Resample.c), as Qwen2-VL's image processor in transformers resizes every image; antialiased when shrinking.
// Contract: same pixels and size in, Pillow's bytes out (tests/data/test_resample.cpp checks real photos).
#pragma once

#include "coordexp/data/image.hpp"

namespace coordexp {

// Resizes `image` to width x height with Pillow's BICUBIC filter (a = -0.5, support 2 input pixels scaled up
// by the reduction factor when shrinking, so every input pixel contributes), as Image.resize with
// reducing_gap=None and no box: a horizontal pass, rounded to 8 bits, then a vertical pass; a pass whose side
// does not change is skipped, so an unchanged size returns a copy. Throws InputError naming the argument
// when `image` is empty or a side is not in 1..kMaxImageSide.
ImageRGB8 resize_bicubic_pil(const ImageRGB8& image, int width, int height);

namespace detail {
// The same resize; allow_simd = false forces the portable C++ sums that builds without SSE2 use (the tests
// check both paths against Pillow). Same bytes either way.
ImageRGB8 resize_bicubic_pil(const ImageRGB8& image, int width, int height, bool allow_simd);
}  // namespace detail

}  // namespace coordexp
