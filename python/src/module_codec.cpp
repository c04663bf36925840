// coordexp._coordexp's object codec part, for coordexp.codec (python/coordexp/codec.py): the answer parser
// (parse_answer, strict or salvage), the encoder (order_objects + encode_answer) and box quantisation of
// include/coordexp/text/object_codec.hpp on token ids. Turning text into ids and back is the Python side's;
// here ids go in and plain Python lists, tuples and dicts come out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>
#include <vector>

#include "coordexp/text/object_codec.hpp"
#include "coordexp/util/error.hpp"

namespace py = pybind11;

namespace coordexp::python {
namespace {

// The ids a codec call needs: K bins from first_coord, and the three structure tokens.
struct CodecIds {
  CoordVocab vocab;
  StructureTokens structure;
};

CodecIds codec_ids(int num_bins, TokenId first_coord, TokenId obj_start, TokenId obj_end,
                   TokenId answer_end) {
  CodecIds ids{CoordVocab(num_bins, first_coord), {obj_start, obj_end, answer_end}};
  const TokenId structure[3] = {obj_start, obj_end, answer_end};
  const char* names[3] = {"obj_start", "obj_end", "answer_end"};
  for (int i = 0; i < 3; ++i) {
    if (ids.vocab.is_coord(structure[i]))
      throw_input_error(std::string("token id ") + names[i],
                        "an id outside the coordinate range [" + std::to_string(first_coord) + ", " +
                            std::to_string(first_coord + num_bins) + ")",
                        std::to_string(structure[i]));
    for (int j = 0; j < i; ++j)
      if (structure[i] == structure[j])
        throw_input_error(std::string("token id ") + names[i], std::string("an id other than ") + names[j],
                          std::to_string(structure[i]));
  }
  return ids;
}

std::array<int, 4> checked_bins(const std::array<int, 4>& bins, const CoordVocab& vocab) {
  for (int c = 0; c < 4; ++c)
    if (bins[c] < 0 || bins[c] >= vocab.num_bins())
      throw_input_error("bins[" + std::to_string(c) + "]",
                        "a bin in [0, " + std::to_string(vocab.num_bins() - 1) + "]",
                        std::to_string(bins[c]));
  return bins;
}

py::tuple box_tuple(const BoxXYXY& b) {
  return py::make_tuple(b.x1, b.y1, b.x2, b.y2);
}

// {"objects": [{"desc_ids", "bins", "box", "open_pos", "close_pos", "desc_pos", "coord_pos"}],
//  "issues": {name: count, ...} (every ParseIssue, in enum order), "terminated": bool}.
py::dict parse(const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& ids, bool strict,
               int num_bins, TokenId first_coord, TokenId obj_start, TokenId obj_end, TokenId answer_end) {
  if (ids.ndim() != 1)
    throw_input_error("tokens", "a 1-D sequence of token ids", std::to_string(ids.ndim()) + " dimensions");
  const CodecIds c = codec_ids(num_bins, first_coord, obj_start, obj_end, answer_end);
  ParseResult r;
  {
    py::gil_scoped_release unlocked;
    r = parse_answer({ids.data(), static_cast<size_t>(ids.size())}, c.vocab, c.structure,
                     strict ? ParseMode::kStrict : ParseMode::kSalvage);
  }
  py::list objects;
  for (const auto& o : r.objects) {
    py::dict d;
    d["desc_ids"] = o.desc_ids;
    d["bins"] = py::make_tuple(o.span.bins[0], o.span.bins[1], o.span.bins[2], o.span.bins[3]);
    d["box"] = box_tuple(o.box);
    d["open_pos"] = o.span.open_pos;
    d["close_pos"] = o.close_pos;
    d["desc_pos"] = o.span.desc_pos;
    d["coord_pos"] = o.span.coord_pos;
    objects.append(d);
  }
  py::dict issues;
  for (int k = 0; k < static_cast<int>(ParseIssue::kCount); ++k)
    issues[parse_issue_name(static_cast<ParseIssue>(k))] = r.issues[k];
  py::dict out;
  out["objects"] = objects;
  out["issues"] = issues;
  out["terminated"] = r.terminated;
  return out;
}

// order_objects + encode_answer: (ids, order) where order lists the objects' indices in sequence order.
py::tuple encode(const std::vector<std::vector<TokenId>>& descriptions,
                 const std::vector<std::array<double, 4>>& boxes, const std::string& order, uint64_t seed,
                 int raster_grid, int num_bins, TokenId first_coord, TokenId obj_start, TokenId obj_end,
                 TokenId answer_end) {
  if (descriptions.size() != boxes.size())
    throw_input_error(
        "objects", "a box for every description",
        std::to_string(descriptions.size()) + " descriptions and " + std::to_string(boxes.size()) + " boxes");
  const CodecIds c = codec_ids(num_bins, first_coord, obj_start, obj_end, answer_end);
  std::vector<DescribedBox> objects;
  for (size_t i = 0; i < boxes.size(); ++i)
    objects.push_back({descriptions[i], {boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3]}});
  const std::vector<int64_t> perm =
      order_objects(objects, parse_object_order(order), c.vocab, seed, raster_grid);
  EncodedAnswer a = encode_answer(objects, perm, c.vocab, c.structure);
  return py::make_tuple(std::move(a.ids), perm);
}

}  // namespace

void bind_codec(py::module_& m) {
  m.def("parse_answer", &parse, py::arg("ids"), py::arg("strict"), py::arg("num_bins"),
        py::arg("first_coord"), py::arg("obj_start"), py::arg("obj_end"), py::arg("answer_end"));
  m.def("encode_answer", &encode, py::arg("descriptions"), py::arg("boxes"), py::arg("order"),
        py::arg("seed"), py::arg("raster_grid"), py::arg("num_bins"), py::arg("first_coord"),
        py::arg("obj_start"), py::arg("obj_end"), py::arg("answer_end"));
  m.def(
      "quantize_box",
      [](const std::array<double, 4>& box, int num_bins) {
        const auto b = quantize_box({box[0], box[1], box[2], box[3]}, CoordVocab(num_bins, 0));
        return py::make_tuple(b[0], b[1], b[2], b[3]);
      },
      py::arg("box"), py::arg("num_bins"));
  m.def(
      "dequantize_box",
      [](const std::array<int, 4>& bins, int num_bins) {
        const CoordVocab vocab(num_bins, 0);
        return box_tuple(dequantize_box(checked_bins(bins, vocab), vocab));
      },
      py::arg("bins"), py::arg("num_bins"));
  py::list names;
  for (int k = 0; k < static_cast<int>(ParseIssue::kCount); ++k)
    names.append(parse_issue_name(ParseIssue(k)));
  m.attr("PARSE_ISSUES") = py::tuple(names);
}

}  // namespace coordexp::python
