// load_detection_results: a results file read in pieces of whole entries that are parsed on every core,
// without the whole text in memory at once. A list is cut after a '}' that a ',' follows, at about every
// kPieceBytes; each piece is parsed as a list of its own ("[" + piece + "]"). A cut inside a string or
// inside an entry leaves some piece malformed (a piece that ends in a string has an odd number of quotes,
// one that ends inside an entry has unbalanced brackets), and any piece that fails, for that or for a bad
// entry, sends the whole file through the one-document reader, whose errors name the right entry.
#include <algorithm>
#include <fstream>
#include <optional>
#include <vector>

#include "../util/json_fields.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "parallel_for.hpp"
#include "results_json.hpp"

namespace coordexp {

namespace {

// Pieces of about this size keep each worker's buffers small and give two cores ~50 pieces per GB.
constexpr size_t kPieceBytes = size_t(8) << 20;

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// One piece of the list: the bytes [begin, end), closed with "]" unless it is the last (which keeps the
// file's own "]").
struct Piece {
  size_t begin, end;
  bool last;
};

// Reads [offset, offset + n) of the file to `into`; false when the file is shorter.
bool read_range(std::ifstream& in, size_t offset, size_t n, char* into) {
  in.clear();
  in.seekg(std::streamoff(offset));
  in.read(into, std::streamsize(n));
  return size_t(in.gcount()) == n;
}

// Each worker's piece text and parser, kept from piece to piece (the workers end with the load; the calling
// thread, which works too, lets go of its own afterwards).
thread_local std::string piece_text;
thread_local simdjson::ondemand::parser piece_parser;

// Parses one piece into `out`; returns its number of entries, or -1 when it cannot be read or parsed.
int64_t parse_piece(const std::string& path, const Piece& piece, const ResultsLoadOptions& options,
                    DetectionResults& out) {
  std::ifstream in(path, std::ios::binary);
  const size_t n = piece.end - piece.begin;
  piece_text.resize(1 + n + 1 + simdjson::SIMDJSON_PADDING, ' ');
  piece_text[0] = '[';
  if (!in || !read_range(in, piece.begin, n, piece_text.data() + 1)) return -1;
  piece_text[1 + n] = piece.last ? ' ' : ']';
  try {
    return results_json::read_entries(piece_parser, std::string_view(piece_text.data(), n + 2), path, options,
                                      out);
  } catch (...) {  // malformed (a wrong cut, or a bad file) or a bad entry: the one-document reader decides
    return -1;
  }
}

// Cuts the list the file holds into pieces of about kPieceBytes (one piece below 1.5 kPieceBytes). Empty
// when the file does not start with a list (an object with "annotations" is read as one document).
std::vector<Piece> cut_into_pieces(std::ifstream& in, size_t file_size) {
  std::string window(std::min<size_t>(file_size, 4096), ' ');
  size_t pos = 0;
  if (!read_range(in, 0, window.size(), window.data())) return {};
  while (pos < window.size() && is_space(window[pos])) ++pos;
  if (pos == window.size() || window[pos] != '[') return {};
  std::vector<Piece> pieces;
  size_t begin = pos + 1;
  while (file_size - begin > kPieceBytes + kPieceBytes / 2) {
    // From the target offset on: '}', optional whitespace, ','. The window grows until one is found.
    const size_t from = begin + kPieceBytes;
    size_t cut = 0, next = 0;
    for (size_t len = 1 << 16; !cut && from < file_size; len *= 4) {
      const size_t n = std::min(len, file_size - from);
      window.resize(n);
      if (!read_range(in, from, n, window.data())) return {};
      for (size_t i = 0; i < n && !cut; ++i) {
        if (window[i] != '}') continue;
        size_t j = i + 1;
        while (j < n && is_space(window[j])) ++j;
        if (j < n && window[j] == ',') cut = from + i + 1, next = from + j + 1;
      }
      if (n == file_size - from) break;
    }
    if (!cut) break;
    pieces.push_back({begin, cut, false});
    begin = next;
  }
  pieces.push_back({begin, file_size, true});
  return pieces;
}

// Parses every piece on `threads` workers; nullopt when any piece fails (the caller then reads the file as
// one document). Entry indices and counts come out as the one-document reader gives them.
std::optional<DetectionResults> load_in_pieces(const std::string& path, const ResultsLoadOptions& options) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const size_t file_size = size_t(in.tellg());
  const std::vector<Piece> pieces = cut_into_pieces(in, file_size);
  if (pieces.empty()) return std::nullopt;
  std::vector<DetectionResults> parts(pieces.size());
  std::vector<int64_t> entries(pieces.size(), 0);
  std::vector<uint8_t> failed(pieces.size(), 0);
  eval_internal::parallel_for(pieces.size(), options.num_threads, [&](size_t i) {
    entries[i] = parse_piece(path, pieces[i], options, parts[i]);
    failed[i] = entries[i] < 0;
  });
  piece_text = {};
  piece_parser = simdjson::ondemand::parser();
  if (std::find(failed.begin(), failed.end(), 1) != failed.end()) return std::nullopt;
  if (parts.size() == 1) {
    parts[0].source = path;
    return std::move(parts[0]);
  }
  DetectionResults out;
  out.source = path;
  size_t total = 0;
  for (const auto& part : parts) total += part.detections.size();
  out.detections.reserve(total);
  int64_t first = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    for (Detection& det : parts[i].detections) {
      det.index += first;
      out.detections.push_back(std::move(det));
    }
    out.skipped_invalid_box += parts[i].skipped_invalid_box;
    first += entries[i];
    parts[i] = {};
  }
  return out;
}

}  // namespace

DetectionResults load_detection_results(const std::string& path, const ResultsLoadOptions& options) {
  if (auto pieces = load_in_pieces(path, options)) return std::move(*pieces);
  const simdjson::padded_string text = json_fields::load_padded(path);
  return results_json::parse_document(std::string_view(text.data(), text.size()), path, options);
}

}  // namespace coordexp
