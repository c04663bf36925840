// The training loop (see trainer.hpp).
#include "coordexp/train/trainer.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "coordexp/infer/detector.hpp"
#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/run_report.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/progress.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw_input_error("output " + path.string(), "a writable file", "a write failure");
}

WordTokenizer build_tokenizer(const TrainConfig& cfg, const std::vector<const DetectionDataset*>& splits) {
  std::vector<std::string> texts;
  for (const auto* d : splits) {
    for (const auto& c : d->coco.categories) texts.push_back(c.name);
    for (const auto& img : d->images)
      for (const auto& o : img.objects) texts.push_back(o.description);
  }
  return WordTokenizer::build(texts, cfg.data.num_bins);
}

double learning_rate(const OptimConfig& o, int64_t step) {
  if (step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double progress =
      static_cast<double>(step - o.warmup_steps) / std::max<int64_t>(1, o.steps - o.warmup_steps);
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cosine);
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(VisionLanguageModel& model, const OptimConfig& o) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.named_parameters()) (p.value().dim() >= 2 ? decay : no_decay).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(wd));
  };
  groups.emplace_back(decay, opts(o.weight_decay));
  groups.emplace_back(no_decay, opts(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o.lr));
}

std::string terms_line(const CriterionOutput& out) {
  std::ostringstream s;
  s.precision(4);
  s << "loss " << out.total.item<double>();
  for (const auto& [name, v] : out.terms) s << " " << name << " " << v.item<double>();
  return s.str();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

TrainSummary train(const TrainConfig& cfg, const TrainOptions& options) {
  const auto t_start = std::chrono::steady_clock::now();
  const int threads =
      cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, threads));
  torch::manual_seed(cfg.run.seed);
  const fs::path out(cfg.run.out_dir);
  fs::create_directories(out);

  // ---- data and tokenizer --------------------------------------------------------------------------------
  std::cerr << "coordexp train: loading " << cfg.data.train_json << "\n";
  DetectionDataset train_set =
      load_detection_dataset(cfg.data.train_json, cfg.data.image_root, cfg.data.use_description);
  std::vector<std::pair<std::string, DetectionDataset>> eval_sets;
  if (!cfg.data.val_json.empty())
    eval_sets.emplace_back(
        "val", load_detection_dataset(cfg.data.val_json, cfg.data.image_root, cfg.data.use_description));
  if (!cfg.data.extra_eval_json.empty()) {
    const std::string name = fs::path(cfg.data.extra_eval_json).stem().string();
    eval_sets.emplace_back(
        name == "val" ? "extra" : name,
        load_detection_dataset(cfg.data.extra_eval_json, cfg.data.image_root, cfg.data.use_description));
  }
  if (!train_set.describe_skips().empty())
    std::cerr << "coordexp train: train: " << train_set.describe_skips() << "\n";
  std::vector<const DetectionDataset*> all{&train_set};
  for (auto& [n, d] : eval_sets) all.push_back(&d);
  const WordTokenizer tokenizer = fs::exists(out / "tokenizer.json") && options.resume
                                      ? WordTokenizer::load((out / "tokenizer.json").string())
                                      : build_tokenizer(cfg, all);
  tokenizer.save((out / "tokenizer.json").string());
  TrainConfig resolved = cfg;
  resolved.model.vocab_size = tokenizer.vocab_size();
  resolved.model.coord_first_id = tokenizer.coord_vocab().first_id();
  resolved.model.num_coord_bins = tokenizer.coord_vocab().num_bins();
  write_text(out / "config.json", train_config_to_json(resolved) + "\n");

  ImageCache train_cache(train_set, cfg.model.image_size, threads);
  if (train_cache.corrupt() > 0)
    std::cerr << "coordexp train: skipped " << train_cache.corrupt()
              << " unreadable training images (first: " << train_cache.first_error() << ")\n";
  std::vector<std::unique_ptr<ImageCache>> eval_caches;
  for (auto& [n, d] : eval_sets)
    eval_caches.push_back(std::make_unique<ImageCache>(d, cfg.model.image_size, threads));

  // ---- model, criterion, optimiser -----------------------------------------------------------------------
  auto model = build_tiny_vlm(resolved.model);
  model->train();
  auto optimizer = make_optimizer(*model, cfg.optim);
  const SetCriterion criterion(cfg.criterion, tokenizer.coord_vocab(), tokenizer.structure());
  const LabelMapper mapper(eval_sets.empty() ? train_set.coco.categories
                                             : eval_sets.front().second.coco.categories);
  int64_t step = 0;
  const std::string ckpt = (out / "checkpoint.pt").string();
  if (options.resume && fs::exists(ckpt)) {
    step = load_checkpoint(ckpt, *model, optimizer.get(), tokenizer.vocab_size()).step;
    std::cerr << "coordexp train: resumed from " << ckpt << " at step " << step << "\n";
  }
  std::ofstream metrics(out / "metrics.jsonl", step > 0 ? std::ios::app : std::ios::trunc);

  BatchBuilder builder(train_set, train_cache, tokenizer, cfg.data, cfg.optim.batch_size, cfg.run.seed);
  const int64_t last =
      options.stop_after >= 0 ? std::min(cfg.optim.steps, step + options.stop_after) : cfg.optim.steps;
  PrefetchLoader loader(builder, step, last);
  ProgressBar bar("train", cfg.optim.steps, step, cfg.run.log_every);
  TrainSummary summary;
  int64_t tokens_seen = 0;
  const auto t_loop = std::chrono::steady_clock::now();
  auto save = [&] { save_checkpoint(ckpt, *model, optimizer.get(), {step, tokenizer.vocab_size()}); };

  while (step < last) {
    TrainBatch batch = loader.next();
    const double lr = learning_rate(cfg.optim, step);
    for (auto& g : optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    auto img = model->encode_images(batch.images);
    if (batch.sequences_per_image > 1) img = img.repeat_interleave(batch.sequences_per_image, 0);
    CriterionBatch cb;
    cb.hidden = model->forward_text(img, batch.tokens);
    cb.tokens = batch.tokens;
    cb.roles = batch.roles;
    cb.lm_head_weight = model->lm_head_weight();
    cb.samples = std::move(batch.samples);
    const MeanInputEmbedder embedder(model->input_embedding());
    CriterionOutput loss = criterion(cb, &embedder);
    if (!loss.finite()) {
      throw std::runtime_error("non-finite loss at step " + std::to_string(step) + ": " + loss.describe() +
                               "; the last good checkpoint is " + ckpt + " (resume with --resume)");
    }
    optimizer->zero_grad();
    loss.total.backward();
    double grad_norm = 0;
    if (cfg.optim.grad_clip > 0)
      grad_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.optim.grad_clip);
    optimizer->step();
    ++step;
    tokens_seen += batch.answer_tokens;
    const std::string terms = terms_line(loss);
    bar.update(step, terms);
    if (step % cfg.run.log_every == 0 || step == last) {
      nlohmann::json j = {
          {"step", step},
          {"lr", lr},
          {"loss", loss.total.item<double>()},
          {"grad_norm", grad_norm},
          {"matched", loss.num_matched},
          {"elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()}};
      for (const auto& [name, v] : loss.terms) j[name] = v.item<double>();
      metrics << j.dump() << "\n" << std::flush;
    }
    if (cfg.run.eval_every > 0 && step % cfg.run.eval_every == 0 && step < cfg.optim.steps &&
        !eval_sets.empty()) {
      auto run = detect_dataset(*model, eval_sets[0].second, *eval_caches[0], tokenizer, mapper,
                                cfg.generation, cfg.run.eval_batch_size, cfg.run.eval_images);
      const auto ev = evaluate_run(eval_sets[0].second, run);
      nlohmann::json j = {{"step", step},
                          {"eval_split", eval_sets[0].first},
                          {"AP", ev.summary.stats[0]},
                          {"AP50", ev.summary.stats[1]},
                          {"AP75", ev.summary.stats[2]},
                          {"images", run.images.size()}};
      metrics << j.dump() << "\n" << std::flush;
      std::cerr << (isatty(fileno(stderr)) ? "\n" : "") << "eval @" << step << " " << eval_sets[0].first
                << ": AP " << ev.summary.stats[0] << " AP50 " << ev.summary.stats[1] << "\n";
    }
    if (step % cfg.run.checkpoint_every == 0 || step == last) save();
    summary.final_loss = loss.total.item<double>();
  }
  const double loop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_loop).count();
  summary.steps_done = step;
  summary.tokens_per_second = loop_s > 0 ? tokens_seen / loop_s : 0;
  if (isatty(fileno(stderr))) std::cerr << "\n";
  std::cerr << "coordexp train: " << step << " steps, " << summary.tokens_per_second
            << " answer tokens/s, peak RSS " << peak_rss_mib() << " MiB\n";

  if (options.final_eval && step == cfg.optim.steps) {
    std::vector<SplitResult> results;
    for (size_t k = 0; k < eval_sets.size(); ++k) {
      auto& [name, data] = eval_sets[k];
      const LabelMapper split_mapper(data.coco.categories);
      auto run = detect_dataset(*model, data, *eval_caches[k], tokenizer, split_mapper, cfg.generation,
                                cfg.run.eval_batch_size, 0);
      auto ev = evaluate_run(data, run);
      save_detection_results(run.detections, (out / ("detections_" + name + ".json")).string());
      std::cerr << "coordexp train: " << name << ": AP " << ev.summary.stats[0] << " AP50 "
                << ev.summary.stats[1] << " AP75 " << ev.summary.stats[2] << " (" << run.images.size()
                << " images, " << run.generated_tokens / std::max(1e-9, run.seconds)
                << " generated tokens/s)\n";
      results.push_back({name, &data, eval_caches[k].get(), std::move(run), std::move(ev)});
    }
    RunFacts facts{summary.tokens_per_second, peak_rss_mib(), loop_s, step};
    write_run_report(out.string(), resolved, tokenizer, results, facts);
    std::cerr << "coordexp train: report written to " << (out / "report.md").string() << "\n";
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return summary;
}

}  // namespace coordexp
