// Batch building and prefetching (see batch_builder.hpp).
#include "coordexp/train/batch_builder.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "coordexp/data/image_tensor.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

BatchBuilder::BatchBuilder(const DetectionDataset& dataset, const ImageCache& cache,
                           const DetectionTokenizer& tokenizer, const DataConfig& config, int64_t batch_size,
                           uint64_t seed, int rank, int world_size)
    : dataset_(dataset),
      cache_(cache),
      tokenizer_(tokenizer),
      config_(config),
      batch_size_(batch_size),
      seed_(seed),
      rank_(rank),
      world_size_(world_size) {
  COORDEXP_CHECK_ARG(world_size >= 1 && rank >= 0 && rank < world_size, "rank",
                     "in [0, world_size = " + std::to_string(world_size) + ")", std::to_string(rank));
  for (size_t i = 0; i < dataset.images.size(); ++i)
    if (cache.usable(i)) usable_.push_back(i);
  if (usable_.empty())
    throw_input_error("training images", "at least one readable image", "none (" + cache.first_error() + ")");
  prompt_ = tokenizer.prompt_ids({});
  parse_object_order(config.order);
}

std::vector<std::pair<size_t, int64_t>> BatchBuilder::indices_for_step(int64_t step) const {
  const size_t n = usable_.size();
  const int64_t global = batch_size_ * world_size_;
  std::vector<std::pair<size_t, int64_t>> out;
  int64_t cached_epoch = -1;
  std::vector<size_t> perm;
  for (int64_t k = 0; k < batch_size_; ++k) {
    const int64_t position = rank_ * batch_size_ + k;
    const int64_t flat = step * global + position;
    const int64_t epoch = flat / static_cast<int64_t>(n);
    if (epoch != cached_epoch) {
      perm = usable_;
      std::mt19937_64 rng(seed_ * 1000003 + static_cast<uint64_t>(epoch));
      std::shuffle(perm.begin(), perm.end(), rng);
      cached_epoch = epoch;
    }
    out.emplace_back(perm[flat % n], position);
  }
  return out;
}

TrainBatch BatchBuilder::build(int64_t step) const {
  TrainBatch batch;
  batch.step = step;
  const auto idx = indices_for_step(step);
  const int64_t R = config_.mc_orderings;
  batch.sequences_per_image = R;
  const CoordVocab vocab = tokenizer_.coord_vocab();
  const StructureTokens st = tokenizer_.structure();
  const ObjectOrder order = R > 1 ? ObjectOrder::kRandom : parse_object_order(config_.order);
  std::vector<torch::Tensor> images;
  std::vector<std::vector<TokenId>> seqs;
  std::vector<std::vector<uint8_t>> roles;
  const int64_t P = static_cast<int64_t>(prompt_.size());
  for (const auto& [i, position] : idx) {
    std::seed_seq seq{seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(position)};
    std::mt19937_64 rng(seq);
    const DatasetImage& img = dataset_.images[i];
    const bool flip = std::uniform_real_distribution<double>(0, 1)(rng) < config_.flip_prob;
    images.push_back(image_to_tensor(cache_.image(i), flip));
    std::vector<DescribedBox> objects;
    for (const auto& o : img.objects) {
      BoxXYXY b = o.box;
      if (flip) b = {1 - o.box.x2, o.box.y1, 1 - o.box.x1, o.box.y2};
      objects.push_back({tokenizer_.encode(o.description), b});
    }
    if (static_cast<int64_t>(objects.size()) > config_.max_objects) {  // keep the largest
      std::stable_sort(objects.begin(), objects.end(),
                       [](const auto& a, const auto& b) { return box_area(a.box) > box_area(b.box); });
      objects.resize(config_.max_objects);
    }
    for (int64_t r = 0; r < R; ++r) {
      const auto perm = order_objects(objects, order, vocab, rng(), config_.raster_grid);
      const EncodedAnswer a = encode_answer(objects, perm, vocab, st);
      std::vector<TokenId> ids = prompt_;
      std::vector<uint8_t> role(P, kRoleNone);
      ids.insert(ids.end(), a.ids.begin(), a.ids.end());
      for (auto x : a.roles) role.push_back(static_cast<uint8_t>(x));
      CriterionSample s;
      for (auto span : a.objects) {
        span.open_pos += P;
        for (auto& p : span.desc_pos) p += P;
        for (auto& p : span.coord_pos) p += P;
        s.objects.push_back(std::move(span));
      }
      s.ground_truth = objects;
      s.weight = 1.0 / static_cast<double>(R);
      batch.samples.push_back(std::move(s));
      batch.answer_tokens += static_cast<int64_t>(a.ids.size());
      seqs.push_back(std::move(ids));
      roles.push_back(std::move(role));
    }
  }
  std::tie(batch.tokens, batch.roles) = pad_sequences(seqs, roles, tokenizer_.pad_id());
  batch.images = torch::stack(images);
  return batch;
}

std::pair<torch::Tensor, torch::Tensor> pad_sequences(const std::vector<std::vector<TokenId>>& ids,
                                                      const std::vector<std::vector<uint8_t>>& roles,
                                                      TokenId pad) {
  size_t T = 0;
  for (const auto& s : ids) T = std::max(T, s.size());
  const int64_t N = static_cast<int64_t>(ids.size());
  auto tokens = torch::full({N, static_cast<int64_t>(T)}, pad, torch::kLong);
  auto role_tensor = torch::full({N, static_cast<int64_t>(T)}, kRoleNone, torch::kUInt8);
  auto tok = tokens.accessor<int64_t, 2>();
  auto rol = role_tensor.accessor<uint8_t, 2>();
  for (int64_t n = 0; n < N; ++n)
    for (size_t t = 0; t < ids[n].size(); ++t) {
      tok[n][t] = ids[n][t];
      rol[n][t] = roles[n][t];
    }
  return {tokens, role_tensor};
}

PrefetchLoader::PrefetchLoader(const BatchBuilder& builder, int64_t first_step, int64_t last_step, int depth)
    : builder_(builder), depth_(depth) {
  worker_ = std::thread([this, first_step, last_step] {
    for (int64_t s = first_step; s < last_step; ++s) {
      TrainBatch b;
      try {
        b = builder_.build(s);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        cv_.notify_all();
        return;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < depth_; });
      if (stop_) return;
      queue_.push_back(std::move(b));
      cv_.notify_all();
    }
  });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

TrainBatch PrefetchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || error_; });
  if (queue_.empty() && error_) std::rethrow_exception(error_);
  TrainBatch b = std::move(queue_.front());
  queue_.pop_front();
  cv_.notify_all();
  return b;
}

}  // namespace coordexp
