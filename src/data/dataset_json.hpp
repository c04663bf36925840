// Private to src/data: the dataset readers' shared step from a parsed JSON document to a CocoDataset, so the
// format dispatcher (detection_dataset.cpp) parses a COCO-family file once, whatever it finds in it.
// simdjson stays out of public headers.
#pragma once

#include <simdjson.h>

#include <string>

#include "coordexp/data/coco.hpp"

namespace coordexp {

// The COCO / LVIS / referring-expression dataset held by a parsed document (coco.cpp). Same checks and
// errors as parse_coco_dataset; `source` names the file in them.
CocoDataset coco_dataset_from_json(simdjson::dom::element root, const std::string& source);

}  // namespace coordexp
