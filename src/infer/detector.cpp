// Dataset-level detection and evaluation (see detector.hpp).
#include "coordexp/infer/detector.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "coordexp/data/image_tensor.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

GrammarTokens grammar_for(const DetectionTokenizer& tokenizer, int64_t model_vocab_size) {
  COORDEXP_CHECK_ARG(model_vocab_size >= tokenizer.vocab_size(), "model_vocab_size",
                     ">= the tokenizer's " + std::to_string(tokenizer.vocab_size()) + " ids",
                     std::to_string(model_vocab_size));
  auto text = torch::zeros({model_vocab_size}, torch::kBool);
  auto mask = text.accessor<bool, 1>();
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) mask[id] = tokenizer.is_description_token(id);
  return {tokenizer.coord_vocab(), tokenizer.structure(), text, tokenizer.pad_id()};
}

DetectionRun detect_dataset(VisionLanguageModel& model, const DetectionDataset& dataset,
                            const ImageStore& store, const DetectionTokenizer& tokenizer,
                            const LabelMapper& mapper, const GenerationConfig& config, int64_t batch_size,
                            int64_t max_images, int shard, int num_shards) {
  COORDEXP_CHECK_ARG(num_shards >= 1 && shard >= 0 && shard < num_shards, "shard",
                     "in [0, num_shards = " + std::to_string(num_shards) + ")", std::to_string(shard));
  const auto t0 = std::chrono::steady_clock::now();
  DetectionRun run;
  int64_t selected = 0;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    if (!store.usable(i)) continue;
    if (max_images > 0 && selected >= max_images) break;
    if (selected++ % num_shards == shard) run.images.push_back(i);
  }
  const GrammarTokens grammar = grammar_for(tokenizer, model.vocab_size());
  const auto prompt_ids = tokenizer.prompt_ids({});
  const bool was_training = model.is_training();
  model.eval();
  std::vector<size_t> selected_images = std::move(run.images);
  run.images.clear();
  for (size_t start = 0; start < selected_images.size(); start += batch_size) {
    const size_t end = std::min(selected_images.size(), start + static_cast<size_t>(batch_size));
    const std::vector<size_t> wanted(selected_images.begin() + start, selected_images.begin() + end);
    const auto fitted = store.get_many(wanted);
    std::vector<torch::Tensor> imgs;
    std::vector<size_t> kept;  // images that decoded (the others are counted by the store)
    for (size_t k = 0; k < wanted.size(); ++k)
      if (fitted[k]) imgs.push_back(image_to_tensor(fitted[k]->pixels, false)), kept.push_back(k);
    if (imgs.empty()) continue;
    const int64_t B = static_cast<int64_t>(imgs.size());
    auto prompt = torch::tensor(prompt_ids, torch::kLong).unsqueeze(0).repeat({B, 1});
    auto gens = generate(model, imgs, prompt, grammar, config);
    for (int64_t b = 0; b < B; ++b) {
      const size_t i = wanted[kept[b]];
      run.images.push_back(i);
      const DatasetImage& img = dataset.images[i];
      for (auto& o : gens[b].objects) o.box = fitted[kept[b]]->fit.to_image(o.box);  // model frame -> image
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
        // The same box under the likeliest other labels, each category once (alternatives whose text maps
        // to no category, or to one already reported for this box, are left out).
        std::vector<int64_t> categories{m.category_id};
        for (const auto& alt : o.alternatives) {
          std::vector<TokenId> ids = o.desc_ids;
          ids.back() = alt.token;
          Detection a = d;
          a.description = tokenizer.decode(ids);
          const LabelMatch am = mapper.map(a.description);
          if (am.kind == LabelMatchKind::kLabelMatchDropped ||
              std::find(categories.begin(), categories.end(), am.category_id) != categories.end())
            continue;
          categories.push_back(am.category_id);
          a.category_id = am.category_id;
          a.score = alternative_score(config.score, o, alt);
          a.label_rank = static_cast<int64_t>(categories.size()) - 1;
          a.index = static_cast<int64_t>(run.detections.size());
          run.detections.push_back(a);
        }
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
  out.agnostic_stats = summarize_coco_class_agnostic(gt, results).stats;
  out.label_accuracy = evaluate_label_accuracy(gt, results);
  return out;
}

}  // namespace coordexp

namespace coordexp {

DetectionRun merge_detection_runs(std::vector<DetectionRun> shards, const DetectionDataset& dataset) {
  if (shards.size() == 1) return std::move(shards[0]);
  struct ImageResult {
    size_t index;
    std::vector<GeneratedObject> generated;
    std::vector<Detection> detections;
  };
  std::vector<ImageResult> images;
  DetectionRun out;
  for (auto& s : shards) {
    std::map<int64_t, std::vector<Detection>> by_image;
    for (auto& d : s.detections) by_image[d.image_id].push_back(std::move(d));
    for (size_t k = 0; k < s.images.size(); ++k) {
      COORDEXP_CHECK_ARG(s.images[k] < dataset.images.size(), "shard image index",
                         "< " + std::to_string(dataset.images.size()), std::to_string(s.images[k]));
      ImageResult r{s.images[k],
                    k < s.generated.size() ? std::move(s.generated[k]) : std::vector<GeneratedObject>{},
                    {}};
      auto it = by_image.find(dataset.images[s.images[k]].image_id);
      if (it != by_image.end()) r.detections = std::move(it->second);
      images.push_back(std::move(r));
    }
    out.label_counts.exact += s.label_counts.exact;
    out.label_counts.synonym += s.label_counts.synonym;
    out.label_counts.embedding += s.label_counts.embedding;
    out.label_counts.dropped += s.label_counts.dropped;
    out.label_counts.kept_category += s.label_counts.kept_category;
    out.generated_tokens += s.generated_tokens;
    out.unterminated += s.unterminated;
    out.seconds = std::max(out.seconds, s.seconds);
  }
  std::sort(images.begin(), images.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  for (auto& r : images) {
    out.images.push_back(r.index);
    out.generated.push_back(std::move(r.generated));
    for (auto& d : r.detections) {
      d.index = static_cast<int64_t>(out.detections.size());
      out.detections.push_back(std::move(d));
    }
  }
  return out;
}

std::string serialize_detection_run(const DetectionRun& run) {
  nlohmann::json j;
  j["images"] = run.images;
  auto& dets = j["detections"] = nlohmann::json::array();
  for (const auto& d : run.detections)
    dets.push_back({d.image_id, d.category_id, d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h, d.score, d.description,
                    d.label_rank});
  auto& gen = j["generated"] = nlohmann::json::array();
  for (const auto& objects : run.generated) {
    auto list = nlohmann::json::array();
    for (const auto& o : objects)
      list.push_back({o.desc_ids, o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.score});
    gen.push_back(std::move(list));
  }
  const auto& c = run.label_counts;
  j["counts"] = {c.exact,         c.synonym, c.embedding, c.dropped, c.kept_category, run.generated_tokens,
                 run.unterminated};
  j["seconds"] = run.seconds;
  return j.dump();
}

DetectionRun deserialize_detection_run(const std::string& bytes) {
  DetectionRun run;
  try {
    const auto j = nlohmann::json::parse(bytes);
    run.images = j.at("images").get<std::vector<size_t>>();
    for (const auto& d : j.at("detections")) {
      Detection x;
      x.image_id = d.at(0).get<int64_t>();
      x.category_id = d.at(1).get<int64_t>();
      x.bbox = {d.at(2).get<double>(), d.at(3).get<double>(), d.at(4).get<double>(), d.at(5).get<double>()};
      x.score = d.at(6).get<double>();
      x.description = d.at(7).get<std::string>();
      x.label_rank = d.at(8).get<int64_t>();
      x.index = static_cast<int64_t>(run.detections.size());
      run.detections.push_back(std::move(x));
    }
    for (const auto& list : j.at("generated")) {
      std::vector<GeneratedObject> objects;
      for (const auto& o : list) {
        GeneratedObject g;
        g.desc_ids = o.at(0).get<std::vector<TokenId>>();
        g.box = {o.at(1).get<double>(), o.at(2).get<double>(), o.at(3).get<double>(), o.at(4).get<double>()};
        g.score = o.at(5).get<double>();
        objects.push_back(std::move(g));
      }
      run.generated.push_back(std::move(objects));
    }
    const auto& c = j.at("counts");
    run.label_counts = {c.at(0).get<int64_t>(), c.at(1).get<int64_t>(), c.at(2).get<int64_t>(),
                        c.at(3).get<int64_t>(), c.at(4).get<int64_t>()};
    run.generated_tokens = c.at(5).get<int64_t>();
    run.unterminated = c.at(6).get<int64_t>();
    run.seconds = j.at("seconds").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("serialized detection run", "the JSON written by serialize_detection_run",
                      std::string("a malformed document: ") + e.what());
  }
  return run;
}

}  // namespace coordexp
