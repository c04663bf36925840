// A detection dataset ready for training and evaluation: one record type for every format read (COCO, LVIS,
// ODVG jsonl detection and grounding records, referring expressions), images with their objects as described,
// boxes normalised to the image, and what each record's labels promise (which prompts it may be trained
// with). Bad data is met with counted, documented skips (see load_detection_dataset); the images themselves
// are decoded by the image store (image_store.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

struct DatasetObject {
  std::string description;  // the annotation's description, its category name, or its record's phrase
  int64_t category_id = 0;  // kNoCategoryId for an ODVG grounding object (it has a phrase, not a category)
  BoxXYXY box;              // normalised to [0, 1] by the image size, clipped to the image
};

struct DatasetImage {
  int64_t image_id = 0;
  std::string path;  // image file on disk
  int64_t width = 0, height = 0;
  std::vector<DatasetObject> objects;
  // What the labels promise. exhaustive: every object of every category is labelled, so "detect all" is a
  // true prompt (COCO, ODVG detection). verified_categories: the categories a category-list prompt may name,
  // because the record labels all of their objects or none is present (LVIS: the positive categories that
  // are exhaustively annotated, plus neg_category_ids); empty with exhaustive = every category. A category
  // outside it is never asked for, so an unlabelled object is never taught as absent.
  bool exhaustive = true;
  std::vector<int64_t> verified_categories;
  // A grounding record (ODVG grounding, referring expressions): the phrase whose boxes `objects` are; it is
  // prompted with this phrase alone and its objects are described by it.
  std::string phrase;
};

// category_id of the objects of an ODVG grounding record: they have a phrase, not a category.
inline constexpr int64_t kNoCategoryId = -1;

struct DatasetSkips {
  int64_t missing_image_files = 0;  // images whose file does not exist: skipped
  int64_t images_without_size = 0;  // width/height absent or <= 0: skipped
  int64_t degenerate_boxes = 0;     // zero width or height after clipping: annotation dropped
  int64_t crowd_boxes = 0;          // iscrowd regions: not a single object, not trained on
  int64_t unknown_categories = 0;   // category id absent from "categories": annotation dropped
  int64_t clipped_boxes = 0;        // reaching more than 1 px outside the image: clipped to it, kept
  // LVIS: ids in neg_category_ids / not_exhaustive_category_ids absent from "categories": ignored.
  int64_t unknown_listed_categories = 0;
  // LVIS: no category a prompt may name (every positive one not exhaustive, no negative): skipped.
  int64_t images_without_verified_categories = 0;
  // A referring-expression image entry without "caption", an ODVG grounding record without regions: skipped.
  int64_t records_without_phrase = 0;
};

// The first kMaxSkipNames things each DatasetSkips count counted (crowd regions excepted), each named by
// its file and place ("train.json: annotations[12] (image 3)", "train.jsonl:7: detection.instances[0]")
// or by its image path, for `coordexp data check` and for messages.
inline constexpr size_t kMaxSkipNames = 20;
struct DatasetSkipNames {
  std::vector<std::string> missing_image_files, images_without_size, degenerate_boxes, unknown_categories,
      clipped_boxes, unknown_listed_categories, images_without_verified_categories, records_without_phrase;
};

struct DetectionDataset {
  std::string format;                // "coco", "lvis", "odvg" or "refexp"
  CocoDataset coco;                  // the file as read, or as COCO for other formats (for evaluation)
  std::vector<DatasetImage> images;  // in file order
  int64_t records_in_file = 0;       // image entries (COCO family) or non-blank lines (ODVG) in the file
  DatasetSkips skips;
  DatasetSkipNames skip_names;
  std::string describe_skips() const;  // "" when nothing was skipped
};

// Reads a dataset file of any of these formats, told apart by content (never by the file name):
// - ODVG JSON Lines (Grounding DINO): the first non-blank line is, on its own, a JSON object without
//   "images" (a one-line file: a JSON object with "filename"). Each line is an image with a "detection"
//   and/or a "grounding" object (dataset_odvg.hpp). Detection records: exhaustive, categories from the
//   instances' (label, category) pairs, `coco` built from them (ids: records numbered from 1 in file
//   order). Grounding records: one DatasetImage per distinct region phrase (phrase set, objects = that
//   phrase's boxes, category_id kNoCategoryId, not exhaustive, no verified categories); absent from `coco`.
// - Otherwise one JSON document of the COCO family ("images", "annotations", "categories"), then:
//   - LVIS when coco_looks_like_lvis: not exhaustive; verified_categories = the image's positive categories
//     (a box there, no crowd region) less not_exhaustive_category_ids, plus neg_category_ids (sorted,
//     unique; unknown ids counted); an image with none is skipped (counted);
//   - referring expressions (RefCOCO as MDETR / GLIP ship it) when coco_looks_like_refexp: each image entry
//     is one expression, phrase = its "caption", its annotations the boxes referred to, each described by
//     the caption; not exhaustive, no verified categories; an entry without caption is skipped (counted);
//   - COCO otherwise: exhaustive; images without annotations kept (they teach "nothing here").
// Every format: iscrowd regions stay out of the targets (counted), boxes are clipped to the image (counted
// when more than 1 px outside), boxes with no area left are dropped (counted), images with no size or no
// file are skipped (counted). image_root: folder file names are relative to ("" = the dataset file's
// folder). use_description: prefer the annotation's free-text "description" over the category name (COCO,
// LVIS). Malformed files and fields are InputErrors naming the file, the entry (ODVG: the line) and the
// field. Throws InputError when no image is usable.
DetectionDataset load_detection_dataset(const std::string& json_path, const std::string& image_root,
                                        bool use_description);
// Same, but a dataset with no usable image is returned (its skips counted and named) instead of thrown:
// for checkers that report why.
DetectionDataset load_detection_dataset_allow_empty(const std::string& json_path,
                                                    const std::string& image_root, bool use_description);

// Whether a COCO-format file is LVIS: some category carries "frequency" and some image carries
// neg_category_ids or not_exhaustive_category_ids (eval's looks_like_lvis applies the same rule).
bool coco_looks_like_lvis(const CocoDataset& coco);
// Whether a COCO-format file holds referring expressions: some image entry carries a non-empty "caption".
bool coco_looks_like_refexp(const CocoDataset& coco);

}  // namespace coordexp
