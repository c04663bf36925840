// Fuzzes parse_odvg (ODVG JSON Lines) and the records' conversion to a dataset (categories from the
// (label, category) pairs, one grounding record per phrase). Expected rejections are InputError; anything
// else escaping, or a sanitizer report, is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "coordexp/data/dataset_odvg.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<coordexp::OdvgRecord> records;
  try {
    records = coordexp::parse_odvg(text, "fuzz.jsonl");
  } catch (const coordexp::InputError&) {
    return 0;
  }
  for (const auto& r : records) {
    if (r.filename.empty() || (!r.has_detection && !r.has_grounding)) std::abort();
    for (const auto& inst : r.instances)
      if (!(inst.box.x1 <= inst.box.x2 && inst.box.y1 <= inst.box.y2)) std::abort();
  }
  try {
    const coordexp::DetectionDataset ds =
        coordexp::odvg_detection_dataset(records, "fuzz.jsonl", "/nonexistent-coordexp-fuzz-root");
    for (const auto& img : ds.images)
      for (const auto& o : img.objects)
        if (!(o.box.x1 >= 0 && o.box.x2 <= 1 && o.box.x1 < o.box.x2 && o.box.y1 < o.box.y2)) std::abort();
  } catch (const coordexp::InputError&) {
  }
  return 0;
}
