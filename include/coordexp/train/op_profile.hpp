// Which LibTorch operators a stretch of work spends its time in: LibTorch's (legacy) profiler records every
// operator call on the threads that run them (a backward pass included: on CPU it runs on the calling
// thread), and the calls are summed per operator name as total and self time (the operators called inside
// an operator are subtracted from it), with their call counts. `coordexp train --profile N --profile-ops`
// records one extra step this way after the timed ones.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace coordexp {

struct OpTime {
  std::string name;
  int64_t calls = 0;
  double self_s = 0, total_s = 0;  // wall time on the recording threads
  std::string
      heaviest_shapes;  // the input shapes (and enclosing operator) whose calls took the most self time
  double heaviest_self_s = 0;
};

class OpProfile {
 public:
  OpProfile();   // starts recording on this thread (and what it hands to at::launch)
  ~OpProfile();  // stops recording if stop() was not called
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // Stops recording; the operators by self time, largest first.
  std::vector<OpTime> stop();

 private:
  bool recording_ = true;
};

// The first `rows` operators as a table, with each one's share of `step_s` (a step's wall time).
std::string op_table(const std::vector<OpTime>& ops, double step_s, size_t rows);
nlohmann::json op_json(const std::vector<OpTime>& ops);

}  // namespace coordexp
