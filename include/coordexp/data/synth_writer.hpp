// Writes an OpenShapes dataset to disk: <out>/<split>/NNNNNN.png images, <out>/<split>.json (COCO, file_name
// relative to <out>), <out>/synonyms.json (phrase table for label mapping) and <out>/dataset.json (the
// resolved config, held-out combinations and counts). Images are made and encoded on worker threads; the
// output bytes do not depend on the number of threads.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coordexp/data/synth.hpp"

namespace coordexp {

struct SynthSplitSummary {
  SynthSplit split = SynthSplit::kSynthTrain;
  int images = 0;
  int objects = 0;
  int min_objects_per_image = 0;
  int max_objects_per_image = 0;
  std::string annotation_file;  // path of <split>.json
  double seconds = 0;
};

struct SynthWriteSummary {
  std::string out_dir;
  std::vector<SynthSplitSummary> splits;  // splits with at least one image, in train, val, novel, dense order
  double seconds = 0;
};

// Called from the writing thread after each finished image: (split, images done, images in split).
using SynthProgress = std::function<void(SynthSplit split, int done, int total)>;

// Validates the config, creates out_dir and writes every split whose size is > 0. Throws InputError naming
// the path if a file cannot be written.
SynthWriteSummary write_synth_dataset(const SynthConfig& config, const std::string& out_dir,
                                      const SynthProgress& progress = {});

}  // namespace coordexp
