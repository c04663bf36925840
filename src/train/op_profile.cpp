// Operator times from LibTorch's legacy profiler (see op_profile.hpp).
#include "coordexp/train/op_profile.hpp"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

namespace coordexp {

namespace prof = torch::autograd::profiler;

namespace {

std::string shapes_text(const std::vector<std::vector<int64_t>>& shapes) {
  std::string s;
  for (const auto& shape : shapes) {
    if (shape.empty()) continue;  // scalars and non-tensor arguments
    if (!s.empty()) s += ", ";
    s += "[";
    for (size_t i = 0; i < shape.size(); ++i) {
      if (i) s += 'x';
      s += std::to_string(shape[i]);
    }
    s += "]";
  }
  return s;
}

}  // namespace

OpProfile::OpProfile() {
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU,
                                                                   /*report_input_shapes=*/true, false));
}

OpProfile::~OpProfile() {
  if (recording_) prof::disableProfilerLegacy();
}

std::vector<OpTime> OpProfile::stop() {
  recording_ = false;
  const prof::thread_event_lists lists = prof::disableProfilerLegacy();
  std::map<std::string, OpTime> by_name;
  std::map<std::string, std::map<std::string, double>> self_by_shapes;  // name -> input shapes -> self s
  for (const auto& events : lists) {
    // push/pop pairs nest properly on one thread; a frame collects its children's time for self time
    struct Frame {
      const prof::LegacyEvent* push;
      double child_us = 0;
    };
    std::vector<Frame> stack;
    for (const auto& e : events) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const Frame f = stack.back();
        stack.pop_back();
        const double us = f.push->cpuElapsedUs(e), self_s = (us - f.child_us) * 1e-6;
        OpTime& t = by_name[f.push->name()];
        t.calls += 1;
        t.total_s += us * 1e-6;
        t.self_s += self_s;
        const std::string caller = stack.empty() ? "" : std::string(" in ") + stack.back().push->name();
        self_by_shapes[f.push->name()][shapes_text(f.push->shapes()) + caller] += self_s;
        if (!stack.empty()) stack.back().child_us += us;
      }
    }
  }
  std::vector<OpTime> ops;
  for (auto& [name, t] : by_name) {
    t.name = name;
    for (const auto& [shapes, self] : self_by_shapes[name])
      if (self >= t.heaviest_self_s) {
        t.heaviest_shapes = shapes;
        t.heaviest_self_s = self;
      }
    ops.push_back(t);
  }
  std::sort(ops.begin(), ops.end(), [](const OpTime& a, const OpTime& b) { return a.self_s > b.self_s; });
  return ops;
}

std::string op_table(const std::vector<OpTime>& ops, double step_s, size_t rows) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "  %-32s %7s %9s %7s %9s  %s\n", "operator", "calls", "self s", "share",
                "total s", "the inputs and caller that took the most (their self s)");
  out += line;
  for (size_t i = 0; i < std::min(rows, ops.size()); ++i) {
    const OpTime& t = ops[i];
    std::string name = t.name, shapes = t.heaviest_shapes;
    if (name.size() > 32) name.replace(29, std::string::npos, "...");
    if (shapes.size() > 90) shapes.replace(87, std::string::npos, "...");
    std::snprintf(line, sizeof line, "  %-32s %7lld %9.4f %6.1f%% %9.4f  %s (%.4f)\n", name.c_str(),
                  static_cast<long long>(t.calls), t.self_s, step_s > 0 ? 100 * t.self_s / step_s : 0.0,
                  t.total_s, shapes.c_str(), t.heaviest_self_s);
    out += line;
  }
  return out;
}

nlohmann::json op_json(const std::vector<OpTime>& ops) {
  nlohmann::json j = nlohmann::json::array();
  for (const OpTime& t : ops)
    j.push_back({{"name", t.name},
                 {"calls", t.calls},
                 {"self_s", t.self_s},
                 {"total_s", t.total_s},
                 {"heaviest_inputs", t.heaviest_shapes},
                 {"heaviest_self_s", t.heaviest_self_s}});
  return j;
}

}  // namespace coordexp
