// From dataset images to training batches: decoded, resized and normalised images (optionally flipped,
// boxes flipped too), prompt + answer token sequences with roles, and the criterion's per-sequence samples.
// Monte Carlo orderings give R sequences per image (random orders, weight 1/R each). A background thread
// builds the batches of upcoming steps; batch k depends only on (seed, k), so a resumed run sees the same
// data.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/data/image_store.hpp"
#include "coordexp/loss/set_criterion.hpp"
#include "coordexp/text/detection_tokenizer.hpp"
#include "coordexp/train/train_config.hpp"

namespace coordexp {

struct TrainBatch {
  int64_t step = 0;
  std::vector<torch::Tensor> images;     // [B] each [3, H, W] RGB in [0, 1] (one size for the tiny model)
  torch::Tensor tokens;                  // [B*R, T] prompt + answer, right-padded
  torch::Tensor roles;                   // [B*R, T] uint8 TokenRole or kRoleNone
  std::vector<CriterionSample> samples;  // [B*R]
  int64_t sequences_per_image = 1;       // R
  int64_t answer_tokens = 0;             // supervised tokens in the batch (throughput)
};

// Right-pads token sequences with `pad` (their roles with kRoleNone) into [N, T] int64 / uint8 tensors.
std::pair<torch::Tensor, torch::Tensor> pad_sequences(const std::vector<std::vector<TokenId>>& ids,
                                                      const std::vector<std::vector<uint8_t>>& roles,
                                                      TokenId pad);

// Step k's global batch is batch_size * world_size consecutive entries of a per-epoch permutation
// seeded by (seed, epoch); rank r takes entries [r * batch_size, (r + 1) * batch_size). Augmentation
// (flip, orderings) is seeded by (seed, step, position in the global batch), so the union over ranks is
// the same batch a single process with batch_size * world_size builds: data parallelism changes nothing
// but the wall time.
class BatchBuilder {
 public:
  BatchBuilder(const DetectionDataset& dataset, const ImageStore& store, const DetectionTokenizer& tokenizer,
               const DataConfig& config, int64_t batch_size, uint64_t seed, int rank = 0, int world_size = 1);
  TrainBatch build(int64_t step) const;
  std::vector<TokenId> prompt() const { return prompt_; }

 private:
  // (dataset index, position in the global batch) for this rank's share of step `step`
  std::vector<std::pair<size_t, int64_t>> indices_for_step(int64_t step) const;
  struct PromptChoice {
    std::vector<std::string> phrases;  // the prompt's list (empty: "detect all")
    std::vector<size_t> objects;       // the record's objects the answer holds
  };
  PromptChoice choose_prompt(const DatasetImage& image, std::mt19937_64& rng) const;
  const DetectionDataset& dataset_;
  const ImageStore& store_;
  const DetectionTokenizer& tokenizer_;
  DataConfig config_;
  int64_t batch_size_;
  uint64_t seed_;
  int rank_, world_size_;
  std::vector<size_t> usable_;                     // dataset indices with a decoded image
  std::vector<TokenId> prompt_;                    // "detect all"
  std::map<int64_t, std::string> category_names_;  // the prompt's words for each category
};

// Builds batches [first_step, last_step) in a background thread, at most `depth` ahead.
class PrefetchLoader {
 public:
  PrefetchLoader(const BatchBuilder& builder, int64_t first_step, int64_t last_step, int depth = 2);
  ~PrefetchLoader();
  TrainBatch next();  // rethrows an error raised while building

 private:
  const BatchBuilder& builder_;
  std::deque<TrainBatch> queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  int depth_;
  std::thread worker_;
};

}  // namespace coordexp
