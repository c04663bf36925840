// Step profiler (see step_profile.hpp).
#include "coordexp/util/step_profile.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace coordexp {

namespace {

std::atomic<StepProfiler*> g_active{nullptr};

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

constexpr const char* kOther = "other";

double process_page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_minflt + u.ru_majflt);
}

}  // namespace

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

StepProfiler::StepProfiler() {
  g_active.store(this);
}

StepProfiler::~StepProfiler() {
  StepProfiler* self = this;
  g_active.compare_exchange_strong(self, nullptr);
}

StepProfiler* StepProfiler::active() {
  return g_active.load(std::memory_order_relaxed);
}

void StepProfiler::count(const std::string& name, double value) {
  if (in_step_) current_counts_[name] = value;
}

void StepProfiler::begin_step() {
  current_.clear();
  current_counts_.clear();
  stack_.clear();
  in_step_ = true;
  step_wall0_ = wall_seconds();
  step_cpu0_ = process_cpu_seconds();
  step_faults0_ = process_page_faults();
}

void StepProfiler::end_step() {
  if (!in_step_) return;
  in_step_ = false;
  double wall = wall_seconds() - step_wall0_, cpu = process_cpu_seconds() - step_cpu0_;
  double faults = process_page_faults() - step_faults0_;
  for (const auto& [name, p] : current_) wall -= p.wall, cpu -= p.cpu, faults -= p.faults;
  Phase& other = current_[kOther];
  other.wall += std::max(0.0, wall), other.cpu += std::max(0.0, cpu), other.faults += std::max(0.0, faults);
  if (std::find(order_.begin(), order_.end(), kOther) == order_.end()) order_.push_back(kOther);
  steps_.push_back(std::move(current_));
  counts_.push_back(std::move(current_counts_));
  current_.clear();
  current_counts_.clear();
}

void StepProfiler::drop_last_step() {
  if (!steps_.empty()) steps_.pop_back(), counts_.pop_back();
}

void StepProfiler::enter(const char* name) {
  if (!in_step_) return;
  stack_.push_back({name, wall_seconds(), process_cpu_seconds(), process_page_faults()});
  // "other" goes last in the table: keep it there when a phase is first seen after it.
  if (std::find(order_.begin(), order_.end(), name) == order_.end())
    order_.insert(std::find(order_.begin(), order_.end(), kOther), name);
}

void StepProfiler::leave() {
  if (!in_step_ || stack_.empty()) return;
  const Frame f = stack_.back();
  stack_.pop_back();
  const double wall = wall_seconds() - f.wall0, cpu = process_cpu_seconds() - f.cpu0;
  const double faults = process_page_faults() - f.faults0;
  Phase& p = current_[f.name];
  p.wall += wall - f.child_wall, p.cpu += cpu - f.child_cpu, p.faults += faults - f.child_faults;
  if (!stack_.empty()) {
    Frame& parent = stack_.back();
    parent.child_wall += wall, parent.child_cpu += cpu, parent.child_faults += faults;
  }
}

nlohmann::json StepProfiler::to_json() const {
  nlohmann::json phases = nlohmann::json::array();
  std::vector<double> total_wall(steps_.size(), 0), total_cpu(steps_.size(), 0),
      total_faults(steps_.size(), 0);
  for (const std::string& name : order_) {
    std::vector<double> wall, cpu, faults;
    for (size_t s = 0; s < steps_.size(); ++s) {
      const auto it = steps_[s].find(name);
      const Phase p = it == steps_[s].end() ? Phase{} : it->second;
      wall.push_back(p.wall), cpu.push_back(p.cpu), faults.push_back(p.faults);
      total_wall[s] += p.wall, total_cpu[s] += p.cpu, total_faults[s] += p.faults;
    }
    phases.push_back({{"phase", name},
                      {"wall_s", wall},
                      {"cpu_s", cpu},
                      {"page_faults", faults},
                      {"median_wall_s", median(wall)},
                      {"median_cpu_s", median(cpu)},
                      {"median_page_faults", median(faults)}});
  }
  std::map<std::string, std::vector<double>> counts;
  for (const auto& step : counts_)
    for (const auto& [name, v] : step) counts[name].push_back(v);
  return {{"steps", steps_.size()},
          {"counts", counts},
          {"phases", phases},
          {"step_wall_s", total_wall},
          {"median_step_wall_s", median(total_wall)},
          {"median_step_cpu_s", median(total_cpu)},
          {"median_step_page_faults", median(total_faults)}};
}

std::string StepProfiler::table() const {
  const nlohmann::json j = to_json();
  const double step = j["median_step_wall_s"].get<double>();
  std::string out = fmt::format("{:<22} {:>10} {:>7} {:>10} {:>9} {:>12}\n",
                                "phase (median of " + std::to_string(steps_.size()) + ")", "wall ms", "share",
                                "CPU ms", "CPU/wall", "page faults");
  for (const auto& p : j["phases"]) {
    const double w = p["median_wall_s"].get<double>(), c = p["median_cpu_s"].get<double>();
    out += fmt::format("{:<22} {:>10.1f} {:>6.1f}% {:>10.1f} {:>9.2f} {:>12.0f}\n",
                       p["phase"].get<std::string>(), 1e3 * w, step > 0 ? 100 * w / step : 0.0, 1e3 * c,
                       w > 0 ? c / w : 0.0, p["median_page_faults"].get<double>());
  }
  out += fmt::format("{:<22} {:>10.1f} {:>7} {:>10.1f} {:>9.2f} {:>12.0f}\n", "step", 1e3 * step, "",
                     1e3 * j["median_step_cpu_s"].get<double>(),
                     step > 0 ? j["median_step_cpu_s"].get<double>() / step : 0.0,
                     j["median_step_page_faults"].get<double>());
  return out;
}

}  // namespace coordexp
