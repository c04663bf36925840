// Rollout batches (see rollout.hpp).
#include "coordexp/train/rollout.hpp"

#include <algorithm>
#include <map>

#include "coordexp/eval/duplicates.hpp"
#include "coordexp/infer/detector.hpp"

namespace coordexp {

void RolloutStats::add(const RolloutStats& o) {
  images += o.images, generated += o.generated, matched += o.matched, duplicates += o.duplicates;
  missed += o.missed, ground_truth += o.ground_truth, tokens += o.tokens, unterminated += o.unterminated;
  degenerate += o.degenerate, empty += o.empty;
}

namespace {

// Appends tokens with their roles to one sequence under construction; returns the token's position.
struct SequenceWriter {
  std::vector<TokenId>& ids;
  std::vector<uint8_t>& roles;
  int64_t put(TokenId id, uint8_t role) {
    ids.push_back(id);
    roles.push_back(role);
    return static_cast<int64_t>(ids.size()) - 1;
  }
};

constexpr uint8_t role(TokenRole r) {
  return static_cast<uint8_t>(r);
}

// Objects with IoU > 0.8 to another of the same description (the evaluation's duplicate rule).
int64_t count_duplicates(const std::vector<ParsedObject>& objects) {
  std::map<std::vector<TokenId>, int64_t> group_of;
  std::vector<int64_t> groups;
  std::vector<BoxXYXY> boxes;
  for (const auto& o : objects) {
    groups.push_back(group_of.emplace(o.desc_ids, group_of.size()).first->second);
    boxes.push_back(o.box);
  }
  const auto dup = mark_duplicates(boxes, groups, 0.8);
  return std::count(dup.begin(), dup.end(), true);
}

// The batch's rollouts: greedy or sampled (rollout.temperature / top_p) under the grammar, the model in eval
// mode while it generates, no gradients.
std::vector<Generation> generate_rollouts(VisionLanguageModel& model, const TrainBatch& batch,
                                          const DetectionTokenizer& tokenizer,
                                          const std::vector<TokenId>& prompt, const RolloutConfig& rollout,
                                          const GenerationConfig& generation) {
  GenerationConfig g = generation;
  g.temperature = rollout.temperature;
  g.top_p = rollout.top_p;
  g.seed = generation.seed + static_cast<uint64_t>(batch.step);
  if (rollout.max_new_tokens > 0) g.max_new_tokens = rollout.max_new_tokens;
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto B = static_cast<int64_t>(batch.images.size());
  auto p = torch::tensor(prompt, torch::kLong).unsqueeze(0).repeat({B, 1});
  auto gens = generate(model, batch.images, p, grammar_for(tokenizer, model.vocab_size()), g);
  if (was_training) model.train();
  return gens;
}

// One rollout parsed (salvage) and matched as a set to the image's ground truth; its statistics counted.
struct MatchedRollout {
  ParseResult parsed;
  std::vector<int64_t> match_of;  // [n] ground-truth index of each generated object, -1 if unmatched
  std::vector<bool> found;        // [M] ground truth some generated object matched
  RolloutStats stats;
};

MatchedRollout match_rollout(const Generation& gen, const std::vector<DescribedBox>& gt,
                             const CoordVocab& vocab, const StructureTokens& st, const MatcherConfig& matcher,
                             const TextEmbedder& embedder) {
  MatchedRollout r;
  r.parsed = parse_answer(gen.tokens, vocab, st, ParseMode::kSalvage);
  RolloutStats& s = r.stats;
  s.images = 1;
  s.tokens = static_cast<int64_t>(gen.tokens.size());
  s.unterminated = gen.terminated ? 0 : 1;
  s.generated = static_cast<int64_t>(r.parsed.objects.size());
  s.empty = r.parsed.objects.empty() ? 1 : 0;
  s.ground_truth = static_cast<int64_t>(gt.size());
  s.duplicates = count_duplicates(r.parsed.objects);
  const int64_t n = s.generated;
  std::vector<double> vals;
  std::vector<std::vector<TokenId>> descs;
  for (const auto& o : r.parsed.objects) {
    vals.insert(vals.end(), {o.box.x1, o.box.y1, o.box.x2, o.box.y2});
    descs.push_back(o.desc_ids);
    if (o.box.x2 <= o.box.x1 || o.box.y2 <= o.box.y1) ++s.degenerate;
  }
  const MatchResult m = match_objects(torch::tensor(vals, torch::kDouble).view({n, 4}), descs,
                                      std::vector<int64_t>(n, -1), gt, matcher, &embedder);
  r.match_of.assign(n, -1);
  r.found.assign(gt.size(), false);
  for (size_t k = 0; k < m.pred_idx.size(); ++k) {
    r.match_of[m.pred_idx[k]] = m.gt_idx[k];
    r.found[m.gt_idx[k]] = true;
  }
  s.matched = static_cast<int64_t>(m.pred_idx.size());
  s.missed = s.ground_truth - s.matched;
  return r;
}

// The teacher-forced sequence of one rollout: the prompt, then the generated objects (matched ones supervised
// on structure and, with description consistency, on their ground truth's description), then the missed
// ground truth in `missed_order` (with append_missed), then the end. Returns the criterion's sample.
CriterionSample rollout_sequence(const MatchedRollout& r, const std::vector<DescribedBox>& gt,
                                 const std::vector<TokenId>& prompt, const DetectionTokenizer& tokenizer,
                                 const RolloutConfig& rollout, ObjectOrder missed_order, int raster_grid,
                                 uint64_t image_seed, SequenceWriter& w) {
  const CoordVocab vocab = tokenizer.coord_vocab();
  const StructureTokens st = tokenizer.structure();
  for (TokenId id : prompt) w.put(id, kRoleNone);
  CriterionSample sample;
  sample.ground_truth = gt;
  sample.desc_from_sequence = true;
  MatchResult fixed;
  for (size_t i = 0; i < r.parsed.objects.size(); ++i) {
    const ParsedObject& o = r.parsed.objects[i];
    const int64_t target = r.match_of[i];
    const uint8_t structure = target >= 0 ? role(TokenRole::kStructure) : kRoleNone;
    ObjectSpan span;
    span.open_pos = w.put(st.obj_start, structure);
    const bool rewrite = target >= 0 && rollout.desc_consistency;
    for (TokenId id : rewrite ? gt[target].desc_ids : o.desc_ids)
      span.desc_pos.push_back(w.put(id, rewrite ? role(TokenRole::kDescription) : kRoleNone));
    for (int c = 0; c < 4; ++c) span.coord_pos[c] = w.put(vocab.id_of_bin(o.span.bins[c]), kRoleNone);
    span.bins = o.span.bins;
    w.put(st.obj_end, structure);
    if (target >= 0) {
      fixed.pred_idx.push_back(static_cast<int64_t>(i));
      fixed.gt_idx.push_back(target);
    }
    sample.objects.push_back(std::move(span));
  }
  std::vector<DescribedBox> missed;
  std::vector<int64_t> missed_idx;
  for (size_t j = 0; j < gt.size(); ++j)
    if (!r.found[j]) missed.push_back(gt[j]), missed_idx.push_back(static_cast<int64_t>(j));
  if (rollout.append_missed && !missed.empty()) {
    const auto order = order_objects(missed, missed_order, vocab, image_seed, raster_grid);
    const EncodedAnswer a = encode_answer(missed, order, vocab, st);
    const int64_t base = static_cast<int64_t>(w.ids.size());
    for (size_t t = 0; t + 1 < a.ids.size(); ++t) w.put(a.ids[t], role(a.roles[t]));  // its end comes below
    for (ObjectSpan span : a.objects) {
      const int64_t gt_index = missed_idx[span.source_index];
      span.open_pos += base;
      for (auto& p : span.desc_pos) p += base;
      for (auto& p : span.coord_pos) p += base;
      span.source_index = gt_index;
      fixed.pred_idx.push_back(static_cast<int64_t>(sample.objects.size()));
      fixed.gt_idx.push_back(gt_index);
      sample.objects.push_back(std::move(span));
    }
  }
  // the end is right when nothing was missed or the missed objects were appended
  w.put(st.answer_end, missed.empty() || rollout.append_missed ? role(TokenRole::kStructure) : kRoleNone);
  sample.fixed_match = std::move(fixed);
  return sample;
}

}  // namespace

TrainBatch build_rollout_batch(VisionLanguageModel& model, const TrainBatch& batch,
                               const DetectionTokenizer& tokenizer, const std::vector<TokenId>& prompt,
                               const CriterionConfig& criterion, const RolloutConfig& rollout,
                               const GenerationConfig& generation, const TextEmbedder& embedder,
                               RolloutStats* stats, ObjectOrder missed_order, int raster_grid) {
  const auto B = static_cast<int64_t>(batch.images.size());
  const int64_t R = batch.sequences_per_image;
  const std::vector<Generation> gens =
      generate_rollouts(model, batch, tokenizer, prompt, rollout, generation);
  MatcherConfig matcher = criterion.matcher();
  matcher.min_iou = rollout.min_iou;
  if (matcher.matching == MatchingMode::kIndex) matcher.matching = MatchingMode::kHungarian;  // no order

  TrainBatch out;
  out.step = batch.step;
  out.images = batch.images;
  out.sequences_per_image = 1;
  RolloutStats total;
  std::vector<std::vector<TokenId>> seq_ids(B);
  std::vector<std::vector<uint8_t>> seq_roles(B);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<DescribedBox>& gt = batch.samples[b * R].ground_truth;
    const MatchedRollout r =
        match_rollout(gens[b], gt, tokenizer.coord_vocab(), tokenizer.structure(), matcher, embedder);
    SequenceWriter w{seq_ids[b], seq_roles[b]};
    out.samples.push_back(rollout_sequence(r, gt, prompt, tokenizer, rollout, missed_order, raster_grid,
                                           static_cast<uint64_t>(b), w));
    out.answer_tokens += static_cast<int64_t>(w.ids.size() - prompt.size());
    total.add(r.stats);
  }
  std::tie(out.tokens, out.roles) = pad_sequences(seq_ids, seq_roles, tokenizer.pad_id());
  if (stats) *stats = total;
  return out;
}

}  // namespace coordexp
