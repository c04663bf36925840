// Dataset-level detection and evaluation (see detector.hpp).
#include "coordexp/infer/detector.hpp"

#include <chrono>
#include <unordered_set>

namespace coordexp {

GrammarTokens grammar_for(const WordTokenizer& tokenizer) {
  const int64_t V = tokenizer.vocab_size();
  auto text = torch::zeros({V}, torch::kBool);
  for (int64_t id = 0; id < V; ++id)
    if (tokenizer.is_text(id) && id != tokenizer.unk_id()) text[id] = true;
  return {tokenizer.coord_vocab(), tokenizer.structure(), text, tokenizer.pad_id()};
}

DetectionRun detect_dataset(VisionLanguageModel& model, const DetectionDataset& dataset,
                            const ImageCache& cache, const WordTokenizer& tokenizer,
                            const LabelMapper& mapper, const GenerationConfig& config, int64_t batch_size,
                            int64_t max_images) {
  const auto t0 = std::chrono::steady_clock::now();
  DetectionRun run;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    if (!cache.usable(i)) continue;
    if (max_images > 0 && static_cast<int64_t>(run.images.size()) >= max_images) break;
    run.images.push_back(i);
  }
  const GrammarTokens grammar = grammar_for(tokenizer);
  const auto prompt_ids = tokenizer.prompt_ids({});
  const bool was_training = model.is_training();
  model.eval();
  for (size_t start = 0; start < run.images.size(); start += batch_size) {
    const size_t end = std::min(run.images.size(), start + static_cast<size_t>(batch_size));
    std::vector<torch::Tensor> imgs;
    for (size_t k = start; k < end; ++k) imgs.push_back(image_to_tensor(cache.image(run.images[k]), false));
    const int64_t B = static_cast<int64_t>(imgs.size());
    auto prompt = torch::tensor(prompt_ids, torch::kLong).unsqueeze(0).repeat({B, 1});
    auto gens = generate(model, torch::stack(imgs), prompt, grammar, config);
    for (int64_t b = 0; b < B; ++b) {
      const DatasetImage& img = dataset.images[run.images[start + b]];
      run.generated_tokens += static_cast<int64_t>(gens[b].tokens.size());
      run.unterminated += gens[b].terminated ? 0 : 1;
      for (const auto& o : gens[b].objects) {
        const std::string desc = tokenizer.decode(o.desc_ids);
        const LabelMatch m = mapper.map(desc);
        switch (m.kind) {
          case LabelMatchKind::kLabelMatchExact:
            ++run.label_counts.exact;
            break;
          case LabelMatchKind::kLabelMatchSynonym:
            ++run.label_counts.synonym;
            break;
          case LabelMatchKind::kLabelMatchEmbedding:
            ++run.label_counts.embedding;
            break;
          case LabelMatchKind::kLabelMatchDropped:
            ++run.label_counts.dropped;
            continue;
        }
        Detection d;
        d.image_id = img.image_id;
        d.category_id = m.category_id;
        const double W = static_cast<double>(img.width), H = static_cast<double>(img.height);
        d.bbox = {o.box.x1 * W, o.box.y1 * H, (o.box.x2 - o.box.x1) * W, (o.box.y2 - o.box.y1) * H};
        d.score = o.score;
        d.description = desc;
        d.index = static_cast<int64_t>(run.detections.size());
        run.detections.push_back(d);
      }
      run.generated.push_back(gens[b].objects);
    }
  }
  if (was_training) model.train();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

RunEvaluation evaluate_run(const DetectionDataset& dataset, const DetectionRun& run) {
  std::unordered_set<int64_t> ids;
  for (size_t i : run.images) ids.insert(dataset.images[i].image_id);
  CocoDataset gt;
  gt.categories = dataset.coco.categories;
  gt.source = dataset.coco.source;
  for (const auto& img : dataset.coco.images)
    if (ids.count(img.id)) gt.images.push_back(img);
  for (const auto& a : dataset.coco.annotations)
    if (ids.count(a.image_id)) gt.annotations.push_back(a);
  DetectionResults results;
  results.detections = run.detections;
  results.source = "generated detections";
  CocoEvaluator evaluator(gt, results);
  evaluator.evaluate();
  evaluator.accumulate();
  RunEvaluation out;
  out.summary = summarize_coco(evaluator, gt);
  out.accumulation = evaluator.accumulation();
  out.params = evaluator.params();
  out.category_ids.assign(evaluator.category_ids().begin(), evaluator.category_ids().end());
  return out;
}

}  // namespace coordexp
