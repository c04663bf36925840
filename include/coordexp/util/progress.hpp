// A progress line for long work: done/total, a bar, rate, ETA and caller-supplied terms (loss terms).
// On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line every `every` updates.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace coordexp {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, int64_t start = 0, int64_t every = 10);
  void update(int64_t done, const std::string& terms);  // done in [start, total]
  void finish(const std::string& terms);
  // A line of its own above the bar (a run started or finished); the next update redraws the bar.
  void note(const std::string& line);
  double rate() const;  // units per second since start

 private:
  std::string label_;
  int64_t total_, start_, every_, done_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace coordexp
