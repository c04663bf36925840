// The training loop (see trainer.hpp). train() is a short driver over named steps: setup_run (data, model,
// optimiser, resume or vision warm-up), train_step (one optimiser step: forward, the criterion's loss table
// plus grounding, its schedule, the data-parallel share, backward, clip, update), log_step (progress bar and
// metrics.jsonl), maybe_evaluate (the periodic evaluation), save (the checkpoint) and finish_run (summary,
// Hugging Face export, final evaluation and report).
#include "coordexp/train/trainer.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "coordexp/infer/detector.hpp"
#include "coordexp/loss/text_embedder.hpp"
#include "coordexp/model/adapter_io.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/distributed.hpp"
#include "coordexp/train/grounding.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/op_profile.hpp"
#include "coordexp/train/optimizer.hpp"
#include "coordexp/train/rollout.hpp"
#include "coordexp/train/run_report.hpp"
#include "coordexp/train/vision_warmup.hpp"
#include "coordexp/util/allocator.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/progress.hpp"
#include "coordexp/util/step_profile.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw_input_error("output " + path.string(), "a writable file", "a write failure");
}

// Where the non-zero ranks of a data-parallel run send their progress lines.
std::ostream& null_stream() {
  static std::ostream sink(nullptr);
  return sink;
}

// Parameters that train and that do not, and the memory a step holds for them: weights (in their
// precision), gradients (float32, trainable only) and AdamW's two moments.
std::string describe_parameter_memory(VisionLanguageModel& model) {
  int64_t trainable = 0, frozen = 0, trainable_bytes = 0, frozen_bytes = 0;
  for (const auto& p : model.parameters()) {
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    (p.requires_grad() ? trainable : frozen) += p.numel();
    (p.requires_grad() ? trainable_bytes : frozen_bytes) += bytes;
  }
  const auto mib = [](int64_t b) {
    std::ostringstream m;
    m << std::fixed << std::setprecision(b < (100 << 20) ? 2 : 0) << static_cast<double>(b) / (1 << 20)
      << " MiB";
    return m.str();
  };
  std::ostringstream s;
  s << "parameters " << trainable << " trainable (" << mib(trainable_bytes) << "), " << frozen << " frozen ("
    << mib(frozen_bytes) << "); a step holds weights " << mib(trainable_bytes + frozen_bytes)
    << ", gradients " << mib(trainable_bytes) << ", AdamW state " << mib(2 * trainable_bytes);
  if (!model.adapters().empty())
    s << "; " << model.adapters().by_name().size() << " " << adapter_type_name(model.adapters().type())
      << " adapters";
  return s.str();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The process's resident high-water mark since the last reset (VmHWM), and its reset (Linux's clear_refs
// "5"), so that the training steps' own peak is told apart from the load's; -1 where /proc does not allow it.
double resident_high_water_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}
bool reset_resident_high_water() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// Rollout steps and teacher-forced steps timed apart (the cost ratio is a figure of the method).
struct StepTimes {
  double rollout_seconds = 0, tf_seconds = 0;
  int64_t rollout_steps = 0, tf_steps = 0;
  RolloutStats rollout_total, rollout_since_log;
  double rollout_seconds_since_log = 0;
};

// Everything a run holds between steps.
struct TrainingRun {
  const TrainConfig& cfg;
  const TrainOptions& options;
  Clock::time_point t_start = Clock::now();
  DistributedEnv env;
  Communicator comm;
  bool main_rank = true;
  std::ostream* log = nullptr;
  int threads = 1;
  fs::path out;
  std::string ckpt;
  DetectionDataset train_set;
  std::vector<std::pair<std::string, DetectionDataset>> eval_sets;  // val first, then the extra split
  ModelBundle bundle;
  VisionLanguageModel* model = nullptr;
  std::unique_ptr<ImageStore> train_images;
  std::vector<std::unique_ptr<ImageStore>> eval_images;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<SetCriterion> criterion;
  LossSchedule schedule;
  std::unique_ptr<LabelMapper> mapper;
  DataConfig data_cfg;
  std::unique_ptr<BatchBuilder> builder;
  std::vector<torch::Tensor> params;  // trainable
  std::ofstream metrics;
  int64_t step = 0;
  bool resumed = false;
  StepTimes times;
  double setup_peak_mib = -1, loop_peak_mib = -1;  // resident peaks of the set-up and of the training steps

  TrainingRun(const TrainConfig& c, const TrainOptions& o)
      : cfg(c),
        options(o),
        env(distributed_env_from_environment()),
        comm(env, std::chrono::seconds(c.run.dist_timeout_s)),
        main_rank(comm.is_main()),
        log(main_rank ? &std::cerr : &null_stream()) {}
  const DetectionTokenizer& tokenizer() const { return *bundle.tokenizer; }
};

// What one step did, as logged: the loss and terms are the global batch's in data-parallel training.
struct StepResult {
  double lr = 0, loss = 0, grad_norm = 0, seconds = 0;
  int64_t matched = 0, answer_tokens = 0;
  std::map<std::string, double> terms;
  bool rollout = false;
  RolloutStats rollout_stats;
};

// A checkpoint of a Hugging Face model holds only what trains: its frozen weights are the base's (hf.path).
CheckpointMeta checkpoint_meta(TrainingRun& run) {
  bool frozen = false;
  for (const auto& p : run.model->parameters()) frozen = frozen || !p.requires_grad();
  return {run.step, run.model->vocab_size(), frozen && !run.cfg.hf.path.empty()};
}

// Training and evaluation splits, the model (tokenizer built or reused), config.json and tokenizer.json.
void load_data_and_model(TrainingRun& run) {
  const TrainConfig& cfg = run.cfg;
  *run.log << "coordexp train: loading " << cfg.data.train_json
           << (run.env.world_size > 1 ? " (" + std::to_string(run.env.world_size) + " data-parallel workers)"
                                      : "")
           << "\n";
  run.train_set = load_detection_dataset(cfg.data.train_json, cfg.data.image_root, cfg.data.use_description);
  if (!cfg.data.val_json.empty())
    run.eval_sets.emplace_back(
        "val", load_detection_dataset(cfg.data.val_json, cfg.data.image_root, cfg.data.use_description));
  if (!cfg.data.extra_eval_json.empty()) {
    const std::string name = fs::path(cfg.data.extra_eval_json).stem().string();
    run.eval_sets.emplace_back(
        name == "val" ? "extra" : name,
        load_detection_dataset(cfg.data.extra_eval_json, cfg.data.image_root, cfg.data.use_description));
  }
  if (!run.train_set.describe_skips().empty())
    *run.log << "coordexp train: train: " << run.train_set.describe_skips() << "\n";
  std::vector<const DetectionDataset*> all{&run.train_set};
  for (auto& [n, d] : run.eval_sets) all.push_back(&d);
  // A resumed run reuses its tokenizer file and never rewrites it: data-parallel workers read it while rank 0
  // would be writing it.
  run.bundle = build_model_for_training(cfg, all, run.out, run.options.resume);
  run.model = run.bundle.model.get();
  run.model->set_gradient_checkpointing(cfg.optim.gradient_checkpointing);
  if (run.main_rank) {
    if (!run.bundle.tokenizer_reused) run.tokenizer().save((run.out / "tokenizer.json").string());
    write_text(run.out / "config.json", train_config_to_json(run.bundle.resolved) + "\n");
  }
  const ImageStoreConfig images = image_store_config(run.bundle, run.threads);
  run.train_images = std::make_unique<ImageStore>(run.train_set, images);
  *run.log << "coordexp train: images fitted " << image_fit_mode_name(images.fit.mode)
           << (run.train_images->cached() ? ", decoded once into memory"
                                          : ", decoded as each step needs them")
           << "\n";
  if (run.train_images->corrupt() > 0)
    *run.log << "coordexp train: skipped " << run.train_images->corrupt()
             << " unusable training images (first: " << run.train_images->first_error() << ")\n";
  for (auto& [n, d] : run.eval_sets) run.eval_images.push_back(std::make_unique<ImageStore>(d, images));
}

// The step to start from: the checkpoint's when resuming, and the same on every data-parallel worker (whose
// parameters then become rank 0's).
void resume_if_asked(TrainingRun& run) {
  run.resumed = run.options.resume && fs::exists(run.ckpt);
  if (run.resumed) {
    run.step = load_checkpoint(run.ckpt, *run.model, run.optimizer.get(), run.model->vocab_size()).step;
    *run.log << "coordexp train: resumed from " << run.ckpt << " at step " << run.step << "\n";
  }
  if (run.env.world_size > 1) {
    const double s = static_cast<double>(run.step);
    const auto steps = run.comm.all_reduce_sum({s, s * s});
    if (steps[0] * steps[0] != steps[1] * run.env.world_size)
      throw_input_error("checkpoint " + run.ckpt, "the same step on every data-parallel worker",
                        "different steps", "run.out_dir must be on a file system every worker sees");
    run.comm.broadcast(run.model->parameters());
  }
}

// The encoder's first stage (a fresh run with vision_warmup.steps > 0), then a checkpoint at step 0 so that
// --resume never repeats it.
void vision_warmup_if_configured(TrainingRun& run) {
  const TrainConfig& cfg = run.cfg;
  if (run.resumed || cfg.vision_warmup.steps <= 0) return;
  const VisionWarmupResult w = vision_warmup(*run.model, *run.builder, run.model->vocab_size(),
                                             cfg.vision_warmup, &run.comm, run.main_rank ? run.log : nullptr);
  *run.log << "coordexp train: vision warm-up " << cfg.vision_warmup.steps << " steps in "
           << format_duration(w.seconds) << ": description CE " << w.desc_ce << ", word accuracy on objects "
           << w.word_accuracy << ", background accuracy " << w.background_accuracy << ", box L1 " << w.box_l1
           << "\n";
  if (!run.main_rank) return;
  run.metrics << nlohmann::json({{"vision_warmup_steps", cfg.vision_warmup.steps},
                                 {"desc_ce", w.desc_ce},
                                 {"word_accuracy", w.word_accuracy},
                                 {"background_accuracy", w.background_accuracy},
                                 {"box_l1", w.box_l1},
                                 {"seconds", w.seconds}})
                     .dump()
              << "\n"
              << std::flush;
  save_checkpoint(run.ckpt, *run.model, run.optimizer.get(), checkpoint_meta(run));
}

void setup_run(TrainingRun& run) {
  const TrainConfig& cfg = run.cfg;
  // One intra-op thread per rank when data parallel: OpenMP ranks oversubscribing the cores ran 30x slower.
  run.threads = cfg.run.threads > 0      ? cfg.run.threads
                : run.env.world_size > 1 ? 1
                                         : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, run.threads));
  if (cfg.run.keep_freed_memory) keep_freed_memory_for_reuse();
  torch::manual_seed(cfg.run.seed);
  run.out = cfg.run.out_dir;
  run.ckpt = (run.out / "checkpoint.pt").string();
  if (run.main_rank) fs::create_directories(run.out);
  load_data_and_model(run);
  run.model->train();
  run.optimizer = make_optimizer(run.bundle, cfg.optim);
  *run.log << "coordexp train: " << describe_parameter_memory(*run.model) << "\n";
  run.criterion = std::make_unique<SetCriterion>(cfg.criterion, run.tokenizer().coord_vocab(),
                                                 run.tokenizer().structure());
  run.schedule = SetCriterion::coordinate_ramp(cfg.optim.coord_loss_warmup_steps);
  run.mapper = std::make_unique<LabelMapper>(
      run.eval_sets.empty() ? run.train_set.coco.categories : run.eval_sets.front().second.coco.categories);
  resume_if_asked(run);
  if (run.main_rank)
    run.metrics.open(run.out / "metrics.jsonl", run.resumed ? std::ios::app : std::ios::trunc);
  run.data_cfg = cfg.data;  // the raster order scans the tiny model's patch grid
  if (cfg.hf.path.empty())
    run.data_cfg.raster_grid = static_cast<int>(cfg.model.image_size / cfg.model.patch_size);
  run.builder =
      std::make_unique<BatchBuilder>(run.train_set, *run.train_images, run.tokenizer(), run.data_cfg,
                                     cfg.optim.batch_size, cfg.run.seed, run.env.rank, run.env.world_size);
  vision_warmup_if_configured(run);
  for (const auto& p : run.model->parameters())
    if (p.requires_grad()) run.params.push_back(p);
  // Every trainable parameter gets its dense gradient buffer now (the first backward would make it), so
  // the input embedding's gradient can be its looked-up rows, added into that buffer (or into the tied
  // head's gradient) in place instead of arriving as a vocabulary-sized dense tensor.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : run.params)
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  }
  run.model->sparse_input_gradient(true);
}

// Detections for split k. Evaluation is sharded: every rank generates for every world_size-th image, rank 0
// gathers and scores.
DetectionRun detect_split(TrainingRun& run, size_t k, const LabelMapper& mapper, int64_t max_images) {
  auto& [name, data] = run.eval_sets[k];
  DetectionRun local =
      detect_dataset(*run.model, data, *run.eval_images[k], run.tokenizer(), mapper, run.cfg.generation,
                     run.cfg.run.eval_batch_size, max_images, run.env.rank, run.env.world_size);
  if (run.env.world_size == 1) return local;
  std::vector<DetectionRun> shards;
  for (const auto& bytes : run.comm.all_gather(serialize_detection_run(local)))
    shards.push_back(deserialize_detection_run(bytes));
  return merge_detection_runs(std::move(shards), data);
}

// The step's loss table: the criterion's terms on the teacher-forced (or rollout) batch, plus grounding, with
// the schedule applied to the weights.
CriterionOutput step_losses(TrainingRun& run, TrainBatch& batch, bool rollout_step,
                            const TextEmbedder& embedder) {
  VisionLanguageModel& model = *run.model;
  ImageTokens img;
  {
    PhaseTimer t("vision forward");
    img = model.encode_image_list(batch.images).repeat_interleave(batch.sequences_per_image);
  }
  const bool grounded = run.cfg.optim.grounding_weight > 0 && !rollout_step;
  model.record_image_attention(grounded);
  if (StepProfiler* p = StepProfiler::active()) {
    p->count("sequences", static_cast<double>(batch.tokens.size(0)));
    p->count("sequence_length", static_cast<double>(batch.tokens.size(1)));
    p->count("image_tokens_per_sequence", static_cast<double>(img.embeds.size(1)));
    p->count("answer_tokens", static_cast<double>(batch.answer_tokens));
  }
  CriterionBatch cb;
  {
    PhaseTimer t("decoder forward");
    cb.hidden = model.forward_text(img, batch.tokens);
  }
  const torch::Tensor image_attention = grounded ? model.image_attention() : torch::Tensor();
  model.record_image_attention(false);
  cb.tokens = batch.tokens;
  cb.roles = batch.roles;
  cb.lm_head = model.lm_head();
  cb.samples = std::move(batch.samples);
  PhaseTimer t("head and losses");
  CriterionOutput out = (*run.criterion)(cb, &embedder);
  if (image_attention.defined()) {
    const GroundingTerm g = grounding_term(image_attention, cb.samples);
    out.losses.add("grounding", g.value, g.positions, run.cfg.optim.grounding_weight);
  }
  run.schedule.apply(out.losses, run.step);
  return out;
}

// The objective this rank differentiates, and what the step logs. In data-parallel training the
// denominators (and whether any rank's loss is non-finite) are summed over ranks before backward, so that
// the sum over ranks of the objectives is the loss of the global batch.
torch::Tensor objective_of(TrainingRun& run, const CriterionOutput& out, StepResult& r) {
  PhaseTimer t("loss readout");
  bool finite = out.finite();
  torch::Tensor objective;
  LossTerms logged = out.losses;
  if (run.env.world_size == 1) {
    objective = out.losses.total();
  } else {
    const std::map<std::string, double> local = out.losses.denominators();
    std::vector<double> values{finite ? 0.0 : 1.0};
    for (const auto& [name, d] : local) values.push_back(d);
    const auto summed = run.comm.all_reduce_sum(values);
    finite = summed[0] == 0;
    std::map<std::string, double> global;
    size_t k = 1;
    for (const auto& [name, d] : local) global[name] = summed[k++];
    if (finite) {
      objective = out.losses.total(global);
      logged = out.losses.shares(global);
    }
  }
  if (!finite)
    throw std::runtime_error("non-finite loss at step " + std::to_string(run.step) + ": " + out.describe() +
                             "; the last good checkpoint is " + run.ckpt + " (resume with --resume)");
  r.loss = objective.item<double>();
  r.matched = out.num_matched;
  for (const auto& [name, term] : logged.terms()) r.terms[name] = term.value.item<double>();
  return objective;
}

// Logged loss, matches and terms: sums of the ranks' shares.
void sum_logged_over_ranks(TrainingRun& run, StepResult& r) {
  if (run.env.world_size == 1) return;
  std::vector<double> local{r.loss, static_cast<double>(r.matched)};
  for (const auto& [name, v] : r.terms) local.push_back(v);
  const auto global = run.comm.all_reduce_sum(local);
  r.loss = global[0];
  r.matched = static_cast<int64_t>(global[1]);
  size_t k = 2;
  for (auto& [name, v] : r.terms) v = global[k++];
}

// One optimiser step on `batch` (replaced by its rollout counterpart on rollout steps).
StepResult train_step(TrainingRun& run, TrainBatch batch) {
  const auto t_step = Clock::now();
  const RolloutConfig& rc = run.cfg.rollout;
  StepResult r;
  r.rollout = rc.every > 0 && run.step >= rc.start_step && (run.step - rc.start_step) % rc.every == 0;
  const MeanInputEmbedder embedder(run.model->input_table());
  if (r.rollout) {
    PhaseTimer t("rollout generation");
    batch = build_rollout_batch(*run.model, batch, run.tokenizer(), run.builder->prompt(), run.cfg.criterion,
                                rc, run.cfg.generation, embedder, &r.rollout_stats,
                                parse_object_order(run.data_cfg.order), run.data_cfg.raster_grid);
  }
  r.lr = learning_rate(run.cfg.optim, run.step);
  set_learning_rate(*run.optimizer, r.lr);
  const CriterionOutput out = step_losses(run, batch, r.rollout, embedder);
  const torch::Tensor objective = objective_of(run, out, r);
  {
    PhaseTimer t("zero_grad");
    run.optimizer->zero_grad();
  }
  {
    PhaseTimer t("backward");
    objective.backward();
  }
  {
    PhaseTimer t("gradient all-reduce");
    run.comm.all_reduce_gradients(run.params);
    sum_logged_over_ranks(run, r);
  }
  if (run.cfg.optim.grad_clip > 0) {
    PhaseTimer t("gradient clipping");
    r.grad_norm = torch::nn::utils::clip_grad_norm_(run.params, run.cfg.optim.grad_clip);
  }
  {
    PhaseTimer t("optimizer");
    run.optimizer->step();
  }
  ++run.step;
  r.answer_tokens = batch.answer_tokens;
  r.seconds = seconds_since(t_step);
  return r;
}

std::string progress_terms(const StepResult& r) {
  std::ostringstream s;
  s.precision(4);
  s << "loss " << r.loss;
  for (const auto& [name, v] : r.terms) s << " " << name << " " << v;
  if (r.rollout) {
    const RolloutStats& o = r.rollout_stats;
    s << " | rollout match " << o.matched << "/" << o.generated << " dup " << o.duplicates << " missed "
      << o.missed << "/" << o.ground_truth << " len " << o.tokens / std::max<int64_t>(1, o.images);
  }
  return s.str();
}

nlohmann::json rollout_json(const RolloutStats& r, double seconds) {
  return {{"images", r.images},         {"generated", r.generated},
          {"matched", r.matched},       {"duplicates", r.duplicates},
          {"missed", r.missed},         {"ground_truth", r.ground_truth},
          {"tokens", r.tokens},         {"unterminated", r.unterminated},
          {"degenerate", r.degenerate}, {"empty", r.empty},
          {"seconds", seconds}};
}

// Step timing, the progress bar, and every log_every steps (and the last) a metrics.jsonl line.
void log_step(TrainingRun& run, const StepResult& r, ProgressBar& bar, int64_t last) {
  StepTimes& t = run.times;
  (r.rollout ? t.rollout_seconds : t.tf_seconds) += r.seconds;
  ++(r.rollout ? t.rollout_steps : t.tf_steps);
  if (r.rollout) {
    t.rollout_total.add(r.rollout_stats);
    t.rollout_since_log.add(r.rollout_stats);
    t.rollout_seconds_since_log += r.seconds;
  }
  if (!run.main_rank) return;
  bar.update(run.step, progress_terms(r));
  if (run.step % run.cfg.run.log_every != 0 && run.step != last) return;
  nlohmann::json j = {{"step", run.step},
                      {"lr", r.lr},
                      {"loss", r.loss},
                      {"grad_norm", r.grad_norm},
                      {"matched", r.matched},
                      {"comm_s", run.comm.communication_seconds()},
                      {"elapsed_s", seconds_since(run.t_start)}};
  for (const auto& [name, v] : r.terms) j[name] = v;
  if (t.rollout_since_log.images > 0) {  // the rollout steps since the last line, summed
    j["rollout"] = rollout_json(t.rollout_since_log, t.rollout_seconds_since_log);
    t.rollout_since_log = {};
    t.rollout_seconds_since_log = 0;
  }
  run.metrics << j.dump() << "\n" << std::flush;
}

// The profile's table on stderr and in <out_dir>/profile.json, with what was measured.
void write_profile(TrainingRun& run, const StepProfiler& profiler, const std::vector<OpTime>& ops,
                   double ops_step_s) {
  std::cerr << "coordexp train: step profile (self times; phases are medians, so they need not add up "
               "exactly to the step's median)\n"
            << profiler.table();
  nlohmann::json j = profiler.to_json();
  if (!ops.empty()) {
    std::cerr << "coordexp train: operators of one more step (" << ops_step_s
              << " s under LibTorch's profiler), by self time\n"
              << op_table(ops, ops_step_s, 30);
    j["ops"] = op_json(ops);
    j["ops_step_wall_s"] = ops_step_s;
  }
  j["warmup_steps"] = kProfileWarmup;
  j["threads"] = run.cfg.run.threads;
  j["batch_size"] = run.cfg.optim.batch_size;
  const fs::path path = run.out / "profile.json";
  write_text(path, j.dump(1) + "\n");
  std::cerr << "coordexp train: profile written to " << path.string() << "\n";
}

// Every eval_every steps (not at the end, which evaluates in full): the first split, on eval_images images.
void maybe_evaluate(TrainingRun& run) {
  const TrainConfig& cfg = run.cfg;
  if (cfg.run.eval_every <= 0 || run.step % cfg.run.eval_every != 0 || run.step >= cfg.optim.steps ||
      run.eval_sets.empty())
    return;
  const auto det = detect_split(run, 0, *run.mapper, cfg.run.eval_images);
  if (!run.main_rank) return;
  const auto ev = evaluate_run(run.eval_sets[0].second, det);
  const nlohmann::json j = {{"step", run.step},
                            {"eval_split", run.eval_sets[0].first},
                            {"AP", ev.summary.stats[0]},
                            {"AP50", ev.summary.stats[1]},
                            {"AP75", ev.summary.stats[2]},
                            {"agnostic_AP50", ev.agnostic_stats[1]},
                            {"images", det.images.size()}};
  run.metrics << j.dump() << "\n" << std::flush;
  std::cerr << (isatty(fileno(stderr)) ? "\n" : "") << "eval @" << run.step << " " << run.eval_sets[0].first
            << ": AP " << ev.summary.stats[0] << " AP50 " << ev.summary.stats[1] << " (class-agnostic AP50 "
            << ev.agnostic_stats[1] << ")\n";
}

void save(TrainingRun& run) {
  if (run.main_rank) save_checkpoint(run.ckpt, *run.model, run.optimizer.get(), checkpoint_meta(run));
}

// Fault injection for the data-parallel tests: COORDEXP_FAULT_KILL=RANK:STEP kills that worker there.
int64_t fault_kill_step(int rank) {
  const char* f = std::getenv("COORDEXP_FAULT_KILL");
  int r = -1;
  long long k = -1;
  return f != nullptr && std::sscanf(f, "%d:%lld", &r, &k) == 2 && r == rank ? k : -1;
}

// The run's speed, memory and rollout figures, printed.
void print_summary(TrainingRun& run, TrainSummary& summary) {
  const int world = run.env.world_size;
  std::ostream& log = *run.log;
  log << "coordexp train: " << run.step << " steps, " << summary.tokens_per_second * world
      << " answer tokens/s" << (world > 1 ? " (all workers)" : "") << ", peak RSS " << peak_rss_mib()
      << " MiB";
  if (run.setup_peak_mib > 0 && run.loop_peak_mib > 0)
    log << " (set-up " << run.setup_peak_mib << " MiB, training steps " << run.loop_peak_mib << " MiB)";
  if (world > 1) log << ", communication " << 100 * summary.communication_share << "% of the loop";
  log << "\n";
  const StepTimes& t = run.times;
  if (t.rollout_steps == 0) return;
  const double r = t.rollout_seconds / t.rollout_steps, tf = t.tf_steps > 0 ? t.tf_seconds / t.tf_steps : 0;
  const RolloutStats& s = t.rollout_total;
  log << "coordexp train: " << t.rollout_steps << " rollout steps, " << r << " s each";
  if (tf > 0) log << " (" << r / tf << "x a teacher-forced step, " << tf << " s)";
  log << "; matched " << s.matched << "/" << s.generated << " generated, duplicates " << s.duplicates
      << ", missed " << s.missed << "/" << s.ground_truth << ", unterminated " << s.unterminated << ", empty "
      << s.empty << ", degenerate boxes " << s.degenerate << "\n";
  summary.rollout_time_ratio = tf > 0 ? r / tf : 0;
}

// Every split evaluated in full: detections_<split>.json, eval_<split>.json, then the report.
void final_evaluation(TrainingRun& run, const TrainSummary& summary, double loop_s) {
  std::vector<SplitResult> results;
  for (size_t k = 0; k < run.eval_sets.size(); ++k) {
    auto& [name, data] = run.eval_sets[k];
    const LabelMapper split_mapper(data.coco.categories);
    auto det = detect_split(run, k, split_mapper, 0);
    if (!run.main_rank) continue;
    auto ev = evaluate_run(data, det);
    save_detection_results(det.detections, (run.out / ("detections_" + name + ".json")).string());
    std::cerr << "coordexp train: " << name << ": AP " << ev.summary.stats[0] << " AP50 "
              << ev.summary.stats[1] << " AP75 " << ev.summary.stats[2] << "; class-agnostic AP "
              << ev.agnostic_stats[0] << " AP50 " << ev.agnostic_stats[1] << "; "
              << format_label_accuracy(ev.label_accuracy) << " (" << det.images.size() << " images, "
              << det.generated_tokens / std::max(1e-9, det.seconds) << " generated tokens/s)\n";
    results.push_back({name, &data, std::move(det), std::move(ev)});
  }
  if (!run.main_rank) return;
  const RunFacts facts{summary.tokens_per_second, peak_rss_mib(), loop_s, run.step};
  write_run_report(run.out.string(), run.bundle.resolved, run.tokenizer(), results, facts);
  std::cerr << "coordexp train: report written to " << (run.out / "report.md").string() << "\n";
}

TrainSummary finish_run(TrainingRun& run, double loop_s, int64_t tokens_seen) {
  const TrainConfig& cfg = run.cfg;
  const bool complete = run.step == cfg.optim.steps;
  if (complete && !fs::exists(run.ckpt)) save(run);  // a 0-step run (initial weights evaluated) too
  TrainSummary summary;
  summary.steps_done = run.step;
  summary.tokens_per_second = loop_s > 0 ? tokens_seen / loop_s : 0;
  summary.communication_share = loop_s > 0 ? run.comm.communication_seconds() / loop_s : 0;
  if (run.main_rank && isatty(fileno(stderr))) std::cerr << "\n";
  print_summary(run, summary);
  // A fine-tuned Hugging Face model is also written in its own format, readable by other tools.
  if (auto* qwen = dynamic_cast<QwenVLModel*>(run.model); qwen && run.main_rank && complete) {
    // in the frozen weights' dtype: a bfloat16 run writes bfloat16 (half the bytes), as its base came
    save_qwen_vl(*qwen, run.out / "hf",
                 cfg.hf.dtype == "bfloat16" ? SafetensorsDType::kBF16 : SafetensorsDType::kF32);
    run.tokenizer().save((run.out / "hf" / "tokenizer.json").string());
    const auto& bpe = dynamic_cast<const QwenChatTokenizer&>(run.tokenizer()).bpe();
    write_hf_companion_files(cfg.hf.path, run.out / "hf", bpe, qwen->config());
    *run.log << "coordexp train: Hugging Face model written to " << (run.out / "hf").string() << "\n";
  }
  if (!run.model->adapters().empty() && run.main_rank && complete) {  // the adapter alone, in PEFT's format
    const std::string base = cfg.hf.path.empty() ? cfg.run.init_from : cfg.hf.path;
    save_peft_adapter(*run.model, run.out / "adapter", base);
    *run.log << "coordexp train: adapter written to " << (run.out / "adapter").string() << " (PEFT format)\n";
  }
  if (run.options.final_eval && complete) final_evaluation(run, summary, loop_s);
  summary.seconds = seconds_since(run.t_start);
  return summary;
}

}  // namespace

TrainSummary train(const TrainConfig& cfg, const TrainOptions& options) {
  TrainingRun run(cfg, options);  // data parallel when launched with WORLD_SIZE > 1
  setup_run(run);
  int64_t stop_after = options.stop_after;
  std::unique_ptr<StepProfiler> profiler;
  if (options.profile_steps > 0) {
    profiler = std::make_unique<StepProfiler>();
    stop_after = kProfileWarmup + options.profile_steps + (options.profile_ops ? 1 : 0);
  }
  std::vector<OpTime> ops;  // --profile-ops: the operators of the step after the timed ones
  double ops_step_s = 0;
  const int64_t last = stop_after >= 0 ? std::min(cfg.optim.steps, run.step + stop_after) : cfg.optim.steps;
  run.setup_peak_mib = resident_high_water_mib();
  if (!reset_resident_high_water()) run.setup_peak_mib = -1;
  PrefetchLoader loader(*run.builder, run.step, last);
  ProgressBar bar("train", cfg.optim.steps, run.step, cfg.run.log_every);
  const int64_t kill_at = fault_kill_step(run.env.rank);
  const auto t_loop = Clock::now();
  const int64_t first_step = run.step;
  int64_t tokens_seen = 0;
  double final_loss = 0;
  while (run.step < last) {
    if (run.step == kill_at) std::raise(SIGKILL);
    if (profiler) profiler->begin_step();
    TrainBatch batch;
    {
      PhaseTimer t("loader wait");
      batch = loader.next();
    }
    const bool record_ops = profiler && options.profile_ops && run.step + 1 == last;
    std::optional<OpProfile> op_profile;
    const auto t_step = Clock::now();
    if (record_ops) op_profile.emplace();
    const StepResult r = train_step(run, std::move(batch));
    if (record_ops) {
      ops = op_profile->stop();
      ops_step_s = seconds_since(t_step);
    }
    tokens_seen += r.answer_tokens;
    final_loss = r.loss;
    {
      PhaseTimer t("logging");
      log_step(run, r, bar, last);
    }
    if (profiler) {
      profiler->end_step();
      if (run.step - first_step <= kProfileWarmup || record_ops) profiler->drop_last_step();
    }
    maybe_evaluate(run);
    if (run.step % cfg.run.checkpoint_every == 0 || run.step == last) save(run);
  }
  if (profiler && run.main_rank) write_profile(run, *profiler, ops, ops_step_s);
  run.loop_peak_mib = run.setup_peak_mib > 0 ? resident_high_water_mib() : -1;
  TrainSummary summary = finish_run(run, seconds_since(t_loop), tokens_seen);
  summary.final_loss = final_loss;
  return summary;
}

}  // namespace coordexp
