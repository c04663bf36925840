// OpenShapes: the embedded synthetic open-vocabulary detection dataset. Images of coloured shapes with
// overlaps, edge truncation, clutter and background texture; each object has a box and a phrase. The same
// config and seed give the same pixels and boxes on every platform (portable RNG, per-image seeds).
// Box contract: the exact analytic bounds of the part of the shape's geometry inside the image (not the
// full shape's box clipped, which can be loose where an edge cuts the shape); placement rejects
// occluders that would move any side of an earlier object's visible extent by more than
// max_extent_shrink_px, so the box is also tight to what is visible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/data/synth_config.hpp"
#include "coordexp/data/synth_shapes.hpp"
#include "coordexp/data/synth_vocab.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

struct SynthObject {
  int category_id = 0;      // SynthCategory::id
  std::string description;  // phrase, e.g. "red star" (the category name by default)
  BoxXYXY box;              // pixels, bounds of the shape inside the image, rounded to 1/100 px
  ShapeGeometry shape;      // the drawn geometry (unclipped)
  RgbColor colour;          // the jittered fill colour
  int visible_pixels = 0;   // pixel centres of this object not covered by later objects
};

struct SynthImage {
  int id = 0;                        // 1-based within its split (COCO image id)
  std::string file_name;             // "<split>/<id, 6 digits>.png", relative to the dataset root
  ImageRGB8 image;                   // may be empty after writing to disk
  std::vector<SynthObject> objects;  // in drawing order (later ones on top)
};

struct SynthDataset {
  SynthSplit split = SynthSplit::kSynthTrain;
  std::vector<SynthCategory> categories;  // all combinations, seen flag set
  std::vector<SynthImage> images;
};

// Image `index` (0-based) of a split; independent of every other image, so any subset can be made in any
// order or in parallel.
SynthImage synthesize_image(const SynthConfig& config, SynthSplit split, int index);
// The whole split in memory (synth_split_size images), made on config.num_threads threads.
SynthDataset synthesize(const SynthConfig& config, SynthSplit split);
// COCO-format JSON of a split: info, images, annotations (ids from 1, bbox [x, y, w, h] px, area = w * h,
// iscrowd 0, "description"), categories (id, name, supercategory = shape, "seen").
nlohmann::json synth_coco_json(const SynthConfig& config, const SynthDataset& dataset);

}  // namespace coordexp
