// Helpers for the eval tests: temporary case files, running the numpy reference
// (tests/eval/ref/cocoeval_ref.py under /usr/bin/python3) and evaluating a case the C++ way.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::test {

inline std::filesystem::path make_temp_dir(const std::string& tag) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("coordexp_eval_" + tag + "_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

inline std::string reference_script() {
  return std::string(COORDEXP_SOURCE_DIR) + "/tests/eval/ref/cocoeval_ref.py";
}

// Runs the reference with `args` and parses its stdout as JSON; fails the test when it cannot run.
inline nlohmann::json run_reference(const std::string& args) {
  const std::string cmd = "/usr/bin/python3 " + reference_script() + " " + args;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error("reference failed (" + std::to_string(rc) + "): " + cmd);
  return nlohmann::json::parse(out);
}

// Whether two tables hold the same doubles bit for bit (-0.0 differs from 0.0, a NaN equals itself).
inline bool same_bytes(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

struct CppEval {
  CocoSummary summary;
  CocoAccumulation acc;
};

inline CppEval evaluate_files(const std::string& gt_path, const std::string& dt_path,
                              CocoEvalOptions options = {}) {
  const auto gt = load_coco_dataset(gt_path);
  const auto dt = load_detection_results(dt_path);
  CocoEvaluator ev(gt, dt, options);
  ev.evaluate();
  ev.accumulate();
  return {summarize_coco(ev, gt), ev.accumulation()};
}

// Builds a small GT + results pair in memory.
struct CaseBuilder {
  nlohmann::json gt = {{"images", nlohmann::json::array()},
                       {"annotations", nlohmann::json::array()},
                       {"categories", nlohmann::json::array()}};
  nlohmann::json dt = nlohmann::json::array();
  CaseBuilder& image(int64_t id) {
    gt["images"].push_back(
        {{"id", id}, {"file_name", std::to_string(id) + ".png"}, {"width", 640}, {"height", 480}});
    return *this;
  }
  CaseBuilder& category(int64_t id) {
    gt["categories"].push_back({{"id", id}, {"name", "cat" + std::to_string(id)}});
    return *this;
  }
  // area < 0 means w * h.
  CaseBuilder& box(int64_t id, int64_t image, int64_t cat, std::array<double, 4> b, double area = -1,
                   bool crowd = false) {
    gt["annotations"].push_back({{"id", id},
                                 {"image_id", image},
                                 {"category_id", cat},
                                 {"bbox", b},
                                 {"area", area < 0 ? b[2] * b[3] : area},
                                 {"iscrowd", crowd ? 1 : 0}});
    return *this;
  }
  CaseBuilder& det(int64_t image, int64_t cat, std::array<double, 4> b, double score) {
    dt.push_back({{"image_id", image}, {"category_id", cat}, {"bbox", b}, {"score", score}});
    return *this;
  }
  CppEval run(CocoEvalOptions options = {}) const {
    const auto g = parse_coco_dataset(gt.dump(), "gt.json");
    const auto d = parse_detection_results(dt.dump(), "dt.json");
    CocoEvaluator ev(g, d, options);
    ev.accumulate();
    return {summarize_coco(ev, g), ev.accumulation()};
  }
};

}  // namespace coordexp::test
