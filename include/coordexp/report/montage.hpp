// A grid of pictures in one image (e.g. predictions against ground truth for several val images), each
// tile with an optional caption above it, optionally a title over the whole grid. Tiles of different sizes
// are centred in equal cells.
#pragma once

#include <span>
#include <string>

#include "coordexp/data/image.hpp"

namespace coordexp {

struct MontageConfig {
  int columns = 0;                     // tiles per row; 0 = ceil(sqrt(number of tiles))
  int padding = 10;                    // pixels between and around tiles
  double caption_font_size = 13.0;     // caption text size, pixels
  std::string title;                   // drawn above the grid when non-empty
  double title_font_size = 18.0;       //
  RgbColor background{255, 255, 255};  //
};

// captions: empty, or one per tile (an empty string leaves that tile uncaptioned).
ImageRGB8 make_montage(std::span<const ImageRGB8> tiles, std::span<const std::string> captions = {},
                       const MontageConfig& config = {});

}  // namespace coordexp
