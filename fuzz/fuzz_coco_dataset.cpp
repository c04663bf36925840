// Fuzzes parse_coco_dataset (COCO / LVIS JSON). Expected rejections are InputError; anything else escaping,
// or a sanitizer report, is a finding. A dataset that parses must survive a write / read round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "coordexp/data/coco.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  coordexp::CocoDataset dataset;
  try {
    dataset = coordexp::parse_coco_dataset(text, "fuzz.json");
  } catch (const coordexp::InputError&) {
    return 0;
  }
  // What we write we must read back: a rejection here is a bug in the writer or the reader.
  const coordexp::CocoDataset again =
      coordexp::parse_coco_dataset(coordexp::coco_dataset_to_json(dataset), "again");
  if (again.images.size() != dataset.images.size() ||
      again.annotations.size() != dataset.annotations.size() ||
      again.categories.size() != dataset.categories.size())
    std::abort();
  return 0;
}
