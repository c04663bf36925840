// The rollout section of a training config (see rollout.hpp for what a rollout step does).
#pragma once

#include <cstdint>

namespace coordexp {

struct RolloutConfig {
  int64_t every = 0;             // a rollout step every `every` steps from start_step (0 = never)
  int64_t start_step = 0;        // first step that may be a rollout step
  double temperature = 0.0;      // 0: greedy rollouts; > 0: sampling
  double top_p = 1.0;            // nucleus mass when sampling
  int64_t max_new_tokens = 0;    // rollout length limit (0 = generation.max_new_tokens)
  double min_iou = 0.0;          // matched pairs below this IoU count as unmatched
  bool append_missed = true;     // missed ground truth appended as teacher-forced targets
  bool desc_consistency = true;  // matched descriptions rewritten to the ground truth's, with CE
};

}  // namespace coordexp
