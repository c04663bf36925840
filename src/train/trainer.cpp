// The training loop (see trainer.hpp).
#include "coordexp/train/trainer.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "coordexp/infer/detector.hpp"
#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/distributed.hpp"
#include "coordexp/train/grounding.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/rollout.hpp"
#include "coordexp/train/run_report.hpp"
#include "coordexp/train/vision_warmup.hpp"
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

double learning_rate(const OptimConfig& o, int64_t step) {
  if (step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double progress =
      static_cast<double>(step - o.warmup_steps) / std::max<int64_t>(1, o.steps - o.warmup_steps);
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cosine);
}

// Trainable parameters only; matrices decay, vectors, bias tables (names ending in "bias", such as the tiny
// model's pointer_bias) and partially frozen tables do not.
std::unique_ptr<torch::optim::AdamW> make_optimizer(const ModelBundle& bundle, const OptimConfig& o) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : bundle.model->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string& name = p.key();
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    (p.value().dim() >= 2 && !bias && !is_partially_frozen(bundle, p.value()) ? decay : no_decay)
        .push_back(p.value());
  }
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

// Where the non-zero ranks of a data-parallel run send their progress lines.
std::ostream& null_stream() {
  static std::ostream sink(nullptr);
  return sink;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

TrainSummary train(const TrainConfig& cfg, const TrainOptions& options) {
  const auto t_start = std::chrono::steady_clock::now();
  // Data parallel when launched with WORLD_SIZE > 1 (torchrun-style variables or `train --nproc`).
  const DistributedEnv env = distributed_env_from_environment();
  Communicator comm(env, std::chrono::seconds(cfg.run.dist_timeout_s));
  const bool main_rank = comm.is_main();
  // One intra-op thread per rank when data parallel: OpenMP ranks oversubscribing the cores ran 30x slower.
  const int threads = cfg.run.threads > 0  ? cfg.run.threads
                      : env.world_size > 1 ? 1
                                           : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, threads));
  torch::manual_seed(cfg.run.seed);
  const fs::path out(cfg.run.out_dir);
  if (main_rank) fs::create_directories(out);
  std::ostream& log = main_rank ? std::cerr : null_stream();

  // ---- data and tokenizer --------------------------------------------------------------------------------
  log << "coordexp train: loading " << cfg.data.train_json
      << (env.world_size > 1 ? " (" + std::to_string(env.world_size) + " data-parallel workers)" : "")
      << "\n";
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
    log << "coordexp train: train: " << train_set.describe_skips() << "\n";
  std::vector<const DetectionDataset*> all{&train_set};
  for (auto& [n, d] : eval_sets) all.push_back(&d);
  // A resumed run reuses its tokenizer file and never rewrites it: data-parallel workers read it while rank 0
  // would be writing it.
  ModelBundle bundle = build_model_for_training(cfg, all, out, options.resume);
  const DetectionTokenizer& tokenizer = *bundle.tokenizer;
  const TrainConfig& resolved = bundle.resolved;
  VisionLanguageModel* const model = bundle.model.get();
  if (main_rank) {
    if (!bundle.tokenizer_reused) tokenizer.save((out / "tokenizer.json").string());
    write_text(out / "config.json", train_config_to_json(resolved) + "\n");
  }

  ImageCache train_cache(train_set, cfg.model.image_size, threads);
  if (train_cache.corrupt() > 0)
    log << "coordexp train: skipped " << train_cache.corrupt()
        << " unreadable training images (first: " << train_cache.first_error() << ")\n";
  std::vector<std::unique_ptr<ImageCache>> eval_caches;
  for (auto& [n, d] : eval_sets)
    eval_caches.push_back(std::make_unique<ImageCache>(d, cfg.model.image_size, threads));
  // Evaluation is sharded: every rank generates for every world_size-th image, rank 0 gathers and scores.
  auto detect_sharded = [&](VisionLanguageModel& m, size_t k, const LabelMapper& mp, int64_t max_images) {
    DetectionRun local =
        detect_dataset(m, eval_sets[k].second, *eval_caches[k], tokenizer, mp, cfg.generation,
                       cfg.run.eval_batch_size, max_images, env.rank, env.world_size);
    if (env.world_size == 1) return local;
    std::vector<DetectionRun> shards;
    for (const auto& bytes : comm.all_gather(serialize_detection_run(local)))
      shards.push_back(deserialize_detection_run(bytes));
    return merge_detection_runs(std::move(shards), eval_sets[k].second);
  };

  // ---- model, criterion, optimiser -----------------------------------------------------------------------
  model->train();
  auto optimizer = make_optimizer(bundle, cfg.optim);
  const SetCriterion criterion(cfg.criterion, tokenizer.coord_vocab(), tokenizer.structure());
  const LabelMapper mapper(eval_sets.empty() ? train_set.coco.categories
                                             : eval_sets.front().second.coco.categories);
  int64_t step = 0;
  const std::string ckpt = (out / "checkpoint.pt").string();
  const bool resumed = options.resume && fs::exists(ckpt);
  if (resumed) {
    step = load_checkpoint(ckpt, *model, optimizer.get(), model->vocab_size()).step;
    log << "coordexp train: resumed from " << ckpt << " at step " << step << "\n";
  }
  if (env.world_size > 1) {
    // every rank must resume from the same step (out_dir visible to all); rank 0's parameters win
    const auto steps = comm.all_reduce_sum({static_cast<double>(step), static_cast<double>(step) * step});
    if (steps[0] * steps[0] != steps[1] * env.world_size)
      throw_input_error("checkpoint " + ckpt, "the same step on every data-parallel worker",
                        "different steps", "run.out_dir must be on a file system every worker sees");
    comm.broadcast(model->parameters());
  }
  std::ofstream metrics;
  if (main_rank) metrics.open(out / "metrics.jsonl", resumed ? std::ios::app : std::ios::trunc);

  DataConfig data_cfg = cfg.data;  // the raster order scans the tiny model's patch grid
  if (cfg.hf.path.empty())
    data_cfg.raster_grid = static_cast<int>(cfg.model.image_size / cfg.model.patch_size);
  BatchBuilder builder(train_set, train_cache, tokenizer, data_cfg, cfg.optim.batch_size, cfg.run.seed,
                       env.rank, env.world_size);
  if (!resumed && cfg.vision_warmup.steps > 0) {
    // the encoder's first stage; a checkpoint at step 0 afterwards, so --resume never repeats it
    const VisionWarmupResult w = vision_warmup(*model, builder, model->vocab_size(), cfg.vision_warmup, &comm,
                                               main_rank ? &log : nullptr);
    log << "coordexp train: vision warm-up " << cfg.vision_warmup.steps << " steps in "
        << format_duration(w.seconds) << ": description CE " << w.desc_ce << ", word accuracy on objects "
        << w.word_accuracy << ", background accuracy " << w.background_accuracy << ", box L1 " << w.box_l1
        << "\n";
    if (main_rank) {
      metrics << nlohmann::json({{"vision_warmup_steps", cfg.vision_warmup.steps},
                                 {"desc_ce", w.desc_ce},
                                 {"word_accuracy", w.word_accuracy},
                                 {"background_accuracy", w.background_accuracy},
                                 {"box_l1", w.box_l1},
                                 {"seconds", w.seconds}})
                     .dump()
              << "\n"
              << std::flush;
      save_checkpoint(ckpt, *model, optimizer.get(), {step, model->vocab_size()});
    }
  }
  const int64_t last =
      options.stop_after >= 0 ? std::min(cfg.optim.steps, step + options.stop_after) : cfg.optim.steps;
  PrefetchLoader loader(builder, step, last);
  ProgressBar bar("train", cfg.optim.steps, step, cfg.run.log_every);
  TrainSummary summary;
  int64_t tokens_seen = 0;
  const auto t_loop = std::chrono::steady_clock::now();
  auto save = [&] {
    if (main_rank) save_checkpoint(ckpt, *model, optimizer.get(), {step, model->vocab_size()});
  };
  std::vector<torch::Tensor> params;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  // Fault injection for the data-parallel tests: COORDEXP_FAULT_KILL=RANK:STEP kills that worker there.
  int64_t fault_kill_step = -1;
  if (const char* f = std::getenv("COORDEXP_FAULT_KILL"); f != nullptr) {
    int r = -1;
    long long k = -1;
    if (std::sscanf(f, "%d:%lld", &r, &k) == 2 && r == env.rank) fault_kill_step = k;
  }

  // rollout steps and teacher-forced steps timed apart (the cost ratio is a figure of the method)
  double rollout_seconds = 0, tf_seconds = 0;
  int64_t rollout_steps = 0, tf_steps = 0;
  RolloutStats rollout_total, rollout_since_log;
  double rollout_seconds_since_log = 0;
  const RolloutConfig& rc = cfg.rollout;
  while (step < last) {
    if (fault_kill_step >= 0 && step == fault_kill_step) std::raise(SIGKILL);
    TrainBatch batch = loader.next();
    const auto t_step = std::chrono::steady_clock::now();
    const bool rollout_step = rc.every > 0 && step >= rc.start_step && (step - rc.start_step) % rc.every == 0;
    const MeanInputEmbedder embedder(model->input_embedding());
    RolloutStats rollout_stats;
    if (rollout_step)
      batch = build_rollout_batch(*model, batch, tokenizer, builder.prompt(), cfg.criterion, rc,
                                  cfg.generation, embedder, &rollout_stats,
                                  parse_object_order(data_cfg.order), data_cfg.raster_grid);
    const double lr = learning_rate(cfg.optim, step);
    for (auto& g : optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    auto img = model->encode_images(batch.images);
    if (batch.sequences_per_image > 1) img = img.repeat_interleave(batch.sequences_per_image, 0);
    const bool grounded = cfg.optim.grounding_weight > 0 && !rollout_step;
    model->record_image_attention(grounded);
    CriterionBatch cb;
    cb.hidden = model->forward_text(img, batch.tokens);
    const torch::Tensor image_attention = grounded ? model->image_attention() : torch::Tensor();
    model->record_image_attention(false);
    cb.tokens = batch.tokens;
    cb.roles = batch.roles;
    cb.lm_head_weight = model->lm_head_weight();
    cb.samples = std::move(batch.samples);
    CriterionOutput loss = criterion(cb, &embedder);
    if (cfg.optim.coord_loss_warmup_steps > 0 && step < cfg.optim.coord_loss_warmup_steps) {
      const double ramp = static_cast<double>(step) / static_cast<double>(cfg.optim.coord_loss_warmup_steps);
      for (const char* name : {"coord_ce", "l1", "giou"})
        if (loss.weights.count(name)) loss.weights[name] *= ramp;
      loss.total = loss.total_with_denominators(loss.denominators);
    }
    if (image_attention.defined()) {
      const GroundingTerm g = grounding_term(image_attention, cb.samples);
      loss.terms["grounding"] = g.value;
      loss.weights["grounding"] = cfg.optim.grounding_weight;
      loss.denominators["grounding"] = g.positions;
      loss.total = loss.total_with_denominators(loss.denominators);
    }
    torch::Tensor objective = loss.total;
    bool finite = loss.finite();
    if (env.world_size > 1) {
      // global denominators (and whether any rank's loss is non-finite) before backward: the sum over
      // ranks of the renormalised totals is the loss of the global batch
      std::vector<double> local{finite ? 0.0 : 1.0};
      for (const auto& [name, d] : loss.denominators) local.push_back(d);
      const auto global = comm.all_reduce_sum(local);
      finite = global[0] == 0;
      std::map<std::string, double> denominators;
      size_t k = 1;
      for (const auto& [name, d] : loss.denominators) denominators[name] = global[k++];
      if (finite) {
        objective = loss.total_with_denominators(denominators);
        for (auto& [name, v] : loss.terms)
          v = v * (loss.denominators[name] / std::max(1e-300, denominators[name]));
      }
    }
    if (!finite) {
      throw std::runtime_error("non-finite loss at step " + std::to_string(step) + ": " + loss.describe() +
                               "; the last good checkpoint is " + ckpt + " (resume with --resume)");
    }
    optimizer->zero_grad();
    objective.backward();
    comm.all_reduce_gradients(params);
    if (env.world_size > 1) {  // logged terms and loss: sums of the ranks' shares
      std::vector<double> local{objective.item<double>(), static_cast<double>(loss.num_matched)};
      for (const auto& [name, v] : loss.terms) local.push_back(v.item<double>());
      const auto global = comm.all_reduce_sum(local);
      loss.total = torch::tensor(global[0]);
      loss.num_matched = static_cast<int64_t>(global[1]);
      size_t k = 2;
      for (auto& [name, v] : loss.terms) v = torch::tensor(global[k++]);
    }
    double grad_norm = 0;
    if (cfg.optim.grad_clip > 0) grad_norm = torch::nn::utils::clip_grad_norm_(params, cfg.optim.grad_clip);
    optimizer->step();
    ++step;
    tokens_seen += batch.answer_tokens;
    const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_step).count();
    (rollout_step ? rollout_seconds : tf_seconds) += step_s;
    ++(rollout_step ? rollout_steps : tf_steps);
    std::string terms = terms_line(loss);
    if (rollout_step) {
      rollout_total.add(rollout_stats);
      rollout_since_log.add(rollout_stats);
      rollout_seconds_since_log += step_s;
      const RolloutStats& r = rollout_stats;
      std::ostringstream s;
      s << " | rollout match " << r.matched << "/" << r.generated << " dup " << r.duplicates << " missed "
        << r.missed << "/" << r.ground_truth << " len " << r.tokens / std::max<int64_t>(1, r.images);
      terms += s.str();
    }
    if (main_rank) bar.update(step, terms);
    if (main_rank && (step % cfg.run.log_every == 0 || step == last)) {
      nlohmann::json j = {
          {"step", step},
          {"lr", lr},
          {"loss", loss.total.item<double>()},
          {"grad_norm", grad_norm},
          {"matched", loss.num_matched},
          {"comm_s", comm.communication_seconds()},
          {"elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()}};
      for (const auto& [name, v] : loss.terms) j[name] = v.item<double>();
      if (rollout_since_log.images > 0) {  // the rollout steps since the last line, summed
        const RolloutStats& r = rollout_since_log;
        j["rollout"] = {{"images", r.images},
                        {"generated", r.generated},
                        {"matched", r.matched},
                        {"duplicates", r.duplicates},
                        {"missed", r.missed},
                        {"ground_truth", r.ground_truth},
                        {"tokens", r.tokens},
                        {"unterminated", r.unterminated},
                        {"degenerate", r.degenerate},
                        {"empty", r.empty},
                        {"seconds", rollout_seconds_since_log}};
        rollout_since_log = {};
        rollout_seconds_since_log = 0;
      }
      metrics << j.dump() << "\n" << std::flush;
    }
    if (cfg.run.eval_every > 0 && step % cfg.run.eval_every == 0 && step < cfg.optim.steps &&
        !eval_sets.empty()) {
      const auto run = detect_sharded(*model, 0, mapper, cfg.run.eval_images);
      if (main_rank) {
        const auto ev = evaluate_run(eval_sets[0].second, run);
        nlohmann::json j = {{"step", step},
                            {"eval_split", eval_sets[0].first},
                            {"AP", ev.summary.stats[0]},
                            {"AP50", ev.summary.stats[1]},
                            {"AP75", ev.summary.stats[2]},
                            {"agnostic_AP50", ev.agnostic_stats[1]},
                            {"images", run.images.size()}};
        metrics << j.dump() << "\n" << std::flush;
        std::cerr << (isatty(fileno(stderr)) ? "\n" : "") << "eval @" << step << " " << eval_sets[0].first
                  << ": AP " << ev.summary.stats[0] << " AP50 " << ev.summary.stats[1]
                  << " (class-agnostic AP50 " << ev.agnostic_stats[1] << ")\n";
      }
    }
    if (step % cfg.run.checkpoint_every == 0 || step == last) save();
    summary.final_loss = loss.total.item<double>();
  }
  if (step == cfg.optim.steps && !fs::exists(ckpt)) save();  // a 0-step run (initial weights evaluated) too
  const double loop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_loop).count();
  summary.steps_done = step;
  summary.tokens_per_second = loop_s > 0 ? tokens_seen / loop_s : 0;
  summary.communication_share = loop_s > 0 ? comm.communication_seconds() / loop_s : 0;
  if (main_rank && isatty(fileno(stderr))) std::cerr << "\n";
  log << "coordexp train: " << step << " steps, " << summary.tokens_per_second * env.world_size
      << " answer tokens/s" << (env.world_size > 1 ? " (all workers)" : "") << ", peak RSS " << peak_rss_mib()
      << " MiB";
  if (env.world_size > 1) log << ", communication " << 100 * summary.communication_share << "% of the loop";
  log << "\n";
  if (rollout_steps > 0) {
    const double r = rollout_seconds / rollout_steps, t = tf_steps > 0 ? tf_seconds / tf_steps : 0;
    const RolloutStats& s = rollout_total;
    log << "coordexp train: " << rollout_steps << " rollout steps, " << r << " s each";
    if (t > 0) log << " (" << r / t << "x a teacher-forced step, " << t << " s)";
    log << "; matched " << s.matched << "/" << s.generated << " generated, duplicates " << s.duplicates
        << ", missed " << s.missed << "/" << s.ground_truth << ", unterminated " << s.unterminated
        << ", empty " << s.empty << ", degenerate boxes " << s.degenerate << "\n";
    summary.rollout_time_ratio = t > 0 ? r / t : 0;
  }

  // A fine-tuned Hugging Face model is also written in its own format, readable by other tools.
  if (auto* qwen = dynamic_cast<QwenVLModel*>(model); qwen && main_rank && step == cfg.optim.steps) {
    save_qwen_vl(*qwen, out / "hf");
    tokenizer.save((out / "hf" / "tokenizer.json").string());
    log << "coordexp train: Hugging Face model written to " << (out / "hf").string() << "\n";
  }

  if (options.final_eval && step == cfg.optim.steps) {
    std::vector<SplitResult> results;
    for (size_t k = 0; k < eval_sets.size(); ++k) {
      auto& [name, data] = eval_sets[k];
      const LabelMapper split_mapper(data.coco.categories);
      auto run = detect_sharded(*model, k, split_mapper, 0);
      if (!main_rank) continue;
      auto ev = evaluate_run(data, run);
      save_detection_results(run.detections, (out / ("detections_" + name + ".json")).string());
      std::cerr << "coordexp train: " << name << ": AP " << ev.summary.stats[0] << " AP50 "
                << ev.summary.stats[1] << " AP75 " << ev.summary.stats[2] << "; class-agnostic AP "
                << ev.agnostic_stats[0] << " AP50 " << ev.agnostic_stats[1] << "; "
                << format_label_accuracy(ev.label_accuracy) << " (" << run.images.size() << " images, "
                << run.generated_tokens / std::max(1e-9, run.seconds) << " generated tokens/s)\n";
      results.push_back({name, &data, eval_caches[k].get(), std::move(run), std::move(ev)});
    }
    if (main_rank) {
      RunFacts facts{summary.tokens_per_second, peak_rss_mib(), loop_s, step};
      write_run_report(out.string(), resolved, tokenizer, results, facts);
      std::cerr << "coordexp train: report written to " << (out / "report.md").string() << "\n";
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return summary;
}

}  // namespace coordexp
