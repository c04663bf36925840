// Where a training step's time goes: named phases, each with its wall time, the process's CPU time (all
// threads) and its page faults (memory the kernel had to map in: a step that reuses its buffers has few), as
// self time (a phase nested in another is subtracted from its parent), so the phases of a step add up to the
// step. Phases are marked by PhaseTimer objects on the training thread; they cost one load and a branch
// unless a StepProfiler is active. Pure C++.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace coordexp {

class StepProfiler {
 public:
  StepProfiler();
  ~StepProfiler();  // deactivates itself
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  static StepProfiler* active();  // the profiler PhaseTimers report to, or null
  void begin_step();              // opens a step; its time outside every phase is "other"
  void end_step();                // closes it (a step may be dropped: warm-up)
  void drop_last_step();          // forgets the last closed step
  void count(const std::string& name,
             double value);  // a per-step figure (tokens, rows), kept beside the times

  struct Phase {
    double wall = 0, cpu = 0;  // seconds (self time)
    double faults = 0;         // the process's page faults (minor and major) in the phase, self
  };
  using Step = std::map<std::string, Phase>;
  const std::vector<Step>& steps() const { return steps_; }
  const std::vector<std::map<std::string, double>>& counts() const { return counts_; }
  std::vector<std::string> phase_order() const { return order_; }  // first-seen order

  // Medians over the steps, per phase and for the whole step: a table and a JSON document.
  std::string table() const;
  nlohmann::json to_json() const;

  // PhaseTimer's side (self-time bookkeeping).
  void enter(const char* name);
  void leave();

 private:
  struct Frame {
    std::string name;
    double wall0, cpu0, faults0, child_wall = 0, child_cpu = 0, child_faults = 0;
  };
  std::vector<Frame> stack_;
  std::vector<Step> steps_;
  std::vector<std::map<std::string, double>> counts_;  // per closed step
  std::map<std::string, double> current_counts_;
  std::vector<std::string> order_;
  Step current_;
  double step_wall0_ = 0, step_cpu0_ = 0, step_faults0_ = 0;
  bool in_step_ = false;
};

// Marks a phase for its scope: PhaseTimer t("backward");
class PhaseTimer {
 public:
  explicit PhaseTimer(const char* name) : profiler_(StepProfiler::active()) {
    if (profiler_) profiler_->enter(name);
  }
  ~PhaseTimer() {
    if (profiler_) profiler_->leave();
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  StepProfiler* profiler_;
};

double process_cpu_seconds();  // CPU time of every thread of the process

}  // namespace coordexp
