// Batch building and prefetching (see batch_builder.hpp).
#include "coordexp/train/batch_builder.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "coordexp/data/image_tensor.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

BatchBuilder::BatchBuilder(const DetectionDataset& dataset, const ImageStore& store,
                           const DetectionTokenizer& tokenizer, const DataConfig& config, int64_t batch_size,
                           uint64_t seed, int rank, int world_size)
    : dataset_(dataset),
      store_(store),
      tokenizer_(tokenizer),
      config_(config),
      batch_size_(batch_size),
      seed_(seed),
      rank_(rank),
      world_size_(world_size) {
  COORDEXP_CHECK_ARG(world_size >= 1 && rank >= 0 && rank < world_size, "rank",
                     "in [0, world_size = " + std::to_string(world_size) + ")", std::to_string(rank));
  for (size_t i = 0; i < dataset.images.size(); ++i)
    if (store.usable(i)) usable_.push_back(i);
  if (usable_.empty())
    throw_input_error("training images", "at least one readable image", "none (" + store.first_error() + ")");
  prompt_ = tokenizer.prompt_ids({});
  for (const auto& c : dataset.coco.categories) category_names_[c.id] = c.name;
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

// What record `img` is asked for. A grounding record: its phrase. A record whose labels are exhaustive:
// "detect all" (every object), or with probability category_prompt_prob a list of categories. A record whose
// labels are not (LVIS): always a list, drawn from its verified categories only. A list holds the categories
// present (up to max_prompt_categories, in random order) and verified absent ones to fill it, and the target
// is the objects of the listed categories. The random draws happen only when a list is possible, so configs
// without lists see the random stream they always saw.
BatchBuilder::PromptChoice BatchBuilder::choose_prompt(const DatasetImage& img, std::mt19937_64& rng) const {
  PromptChoice c;
  if (!img.phrase.empty()) {
    c.phrases = {img.phrase};
    for (size_t j = 0; j < img.objects.size(); ++j) c.objects.push_back(j);
    return c;
  }
  const bool list =
      !img.exhaustive || (config_.category_prompt_prob > 0 &&
                          std::uniform_real_distribution<double>(0, 1)(rng) < config_.category_prompt_prob);
  if (!list) {
    for (size_t j = 0; j < img.objects.size(); ++j) c.objects.push_back(j);
    return c;
  }
  std::vector<int64_t> candidates = img.verified_categories;
  if (candidates.empty() && img.exhaustive)
    for (const auto& [id, name] : category_names_) candidates.push_back(id);
  std::vector<int64_t> present, absent;
  for (int64_t id : candidates) {
    const bool here = std::any_of(img.objects.begin(), img.objects.end(),
                                  [&](const DatasetObject& o) { return o.category_id == id; });
    (here ? present : absent).push_back(id);
  }
  std::shuffle(present.begin(), present.end(), rng);
  std::shuffle(absent.begin(), absent.end(), rng);
  const auto room = static_cast<size_t>(std::max(1, config_.max_prompt_categories));
  std::vector<int64_t> asked(present.begin(), present.begin() + std::min(room, present.size()));
  for (size_t a = 0; asked.size() < room && a < absent.size(); ++a) asked.push_back(absent[a]);
  std::shuffle(asked.begin(), asked.end(), rng);
  for (int64_t id : asked) c.phrases.push_back(category_names_.at(id));
  for (size_t j = 0; j < img.objects.size(); ++j)
    if (std::find(asked.begin(), asked.end(), img.objects[j].category_id) != asked.end())
      c.objects.push_back(j);
  if (c.phrases.empty()) c.objects.clear();  // nothing verified to ask for: an empty answer to "detect all"
  return c;
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
  std::vector<size_t> wanted;
  for (const auto& [i, position] : idx) wanted.push_back(i);
  const auto fitted = store_.get_many(wanted);  // decoded now unless the store caches every image
  for (size_t k = 0; k < idx.size(); ++k) {
    const auto& [i, position] = idx[k];
    if (!fitted[k]) continue;  // could not be decoded: counted by the store, left out of the batch
    std::seed_seq seq{seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(position)};
    std::mt19937_64 rng(seq);
    const DatasetImage& img = dataset_.images[i];
    const bool flip = std::uniform_real_distribution<double>(0, 1)(rng) < config_.flip_prob;
    images.push_back(image_to_tensor(fitted[k]->pixels, flip));
    const PromptChoice prompt = choose_prompt(img, rng);
    const std::vector<TokenId> prompt_ids =
        prompt.phrases.empty() ? prompt_ : tokenizer_.prompt_ids(prompt.phrases);
    const int64_t P = static_cast<int64_t>(prompt_ids.size());
    std::vector<DescribedBox> objects;
    for (size_t j : prompt.objects) {
      const DatasetObject& o = img.objects[j];
      BoxXYXY b = fitted[k]->fit.to_frame(o.box);  // targets live in the model frame
      if (flip) b = {1 - b.x2, b.y1, 1 - b.x1, b.y2};
      objects.push_back({tokenizer_.encode(img.phrase.empty() ? o.description : img.phrase), b});
    }
    if (static_cast<int64_t>(objects.size()) > config_.max_objects) {  // keep the largest
      std::stable_sort(objects.begin(), objects.end(),
                       [](const auto& a, const auto& b) { return box_area(a.box) > box_area(b.box); });
      objects.resize(config_.max_objects);
    }
    for (int64_t r = 0; r < R; ++r) {
      const auto perm = order_objects(objects, order, vocab, rng(), config_.raster_grid);
      const EncodedAnswer a = encode_answer(objects, perm, vocab, st);
      std::vector<TokenId> ids = prompt_ids;
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
  if (images.empty())
    throw_input_error("training images of step " + std::to_string(step), "at least one that decodes",
                      "none (" + store_.first_error() + ")");
  std::tie(batch.tokens, batch.roles) = pad_sequences(seqs, roles, tokenizer_.pad_id());
  batch.images = std::move(images);
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
