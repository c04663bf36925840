// Building a run's model and tokenizer for either family (see model_factory.hpp).
#include "coordexp/train/model_factory.hpp"

#include "coordexp/model/adapter_io.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"
#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<WordTokenizer> word_tokenizer_from(const TrainConfig& cfg,
                                                   const std::vector<const DetectionDataset*>& splits) {
  std::vector<std::string> texts;
  for (const auto* d : splits) {
    for (const auto& c : d->coco.categories) texts.push_back(c.name);
    for (const auto& img : d->images) {
      for (const auto& o : img.objects) texts.push_back(o.description);
      if (!img.phrase.empty()) texts.push_back(img.phrase);
    }
  }
  return std::make_shared<WordTokenizer>(WordTokenizer::build(texts, cfg.data.num_bins));
}

// Checks model.image_size against the checkpoint's patching (square and letterbox fits), grows the
// vocabulary to the tokenizer's ids and sets the chat template's image prefix.
void fit_qwen_model(const TrainConfig& cfg, QwenVLModel& model, const QwenChatTokenizer& tok) {
  const int64_t factor = model.config().vision.patch_size * model.config().vision.spatial_merge_size;
  const bool fixed_size = cfg.data.fit == "square" || cfg.data.fit == "letterbox";
  if (fixed_size && cfg.model.image_size % factor != 0)
    throw_input_error(
        "model.image_size",
        "a multiple of patch_size * spatial_merge_size = " + std::to_string(factor) + " of " + cfg.hf.path,
        std::to_string(cfg.model.image_size));
  model.resize_vocabulary(tok.vocab_size());
  model.set_image_prefix(tok.image_prefix_ids());
}

// The tiny model's config with what only the tokenizer knows: vocabulary size and coordinate token range.
TinyVlmConfig tiny_config_for(TinyVlmConfig config, const WordTokenizer& tok) {
  config.vocab_size = tok.vocab_size();
  config.coord_first_id = tok.coord_vocab().first_id();
  config.num_coord_bins = tok.coord_vocab().num_bins();
  return config;
}

// The image encoder's weights of `from` (another run's model) into `to`; every one must exist with the same
// shape, or the error names the parameter and the run.
void copy_image_encoder(VisionLanguageModel& from, VisionLanguageModel& to, const fs::path& from_dir) {
  const auto source = from.named_parameters();
  torch::NoGradGuard no_grad;
  int copied = 0;
  for (auto& p : to.named_parameters()) {
    if (!to.is_image_encoder_parameter(p.key())) continue;
    const torch::Tensor* s = source.find(p.key());
    if (!s || !s->sizes().equals(p.value().sizes()))
      throw_input_error(
          "run.init_from " + from_dir.string() + ": image encoder parameter " + p.key(),
          "shape " + c10::str(p.value().sizes()) + " (the configured model's)",
          s ? c10::str(s->sizes()) : std::string("none"),
          "run.init_parts \"vision\" needs the same image encoder (model.vision_*, patch and image size)");
    p.value().copy_(*s);
    ++copied;
  }
  if (copied == 0) throw_input_error("run.init_parts", "a model with image encoder parameters", "none");
}

void attach_configured_adapters(ModelBundle& b);

torch::ScalarType weight_dtype(const TrainConfig& cfg) {
  return cfg.hf.dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat;
}

// Which parameters train. Qwen: hf.train_lm / train_projector / train_vision, with the added tokens' rows
// always training (held apart from the pretrained rows when the LM is frozen, so no gradient of the whole
// embedding or head is ever formed). Adapters (adapter.type): attached to the layers adapter.targets names;
// then only the adapters, the added rows, the parts hf.train_projector / train_vision name and the parameters
// adapter.modules_to_save names train; the LM's base weights are frozen whatever hf.train_lm says.
void prepare_trainable(ModelBundle& b) {
  const TrainConfig& cfg = b.resolved;
  auto* qwen = dynamic_cast<QwenVLModel*>(b.model.get());
  const bool adapters =
      parse_adapter_type(cfg.adapter.type) != AdapterType::kAdapterNone || !cfg.adapter.from.empty();
  if (qwen) {
    qwen->set_trainable(cfg.hf.train_lm && !adapters, cfg.hf.train_projector, cfg.hf.train_vision);
    if ((!cfg.hf.train_lm || adapters) && b.first_new_row < qwen->vocab_size())
      qwen->hold_added_rows_apart(b.first_new_row);
  }
  // frozen weights in bfloat16 when asked (loaded so: half their memory); what trains is float32 (master
  // copies), before adapter files are read into it and again for what adapter.modules_to_save made trainable
  const auto set_precision = [&] {
    if (!qwen || cfg.hf.dtype != "bfloat16") return;
    torch::NoGradGuard no_grad;
    for (auto& p : b.model->parameters()) {
      const auto want = p.requires_grad() ? torch::kFloat : torch::kBFloat16;
      if (p.scalar_type() != want) p.set_data(p.to(want));
    }
  };
  set_precision();
  if (adapters) attach_configured_adapters(b);
  set_precision();
}

// Attaches the adapters adapter.* (or adapter.from) names, with only them and adapter.modules_to_save
// trainable beside what prepare_trainable already let train.
void attach_configured_adapters(ModelBundle& b) {
  const TrainConfig& cfg = b.resolved;
  const bool qwen = dynamic_cast<QwenVLModel*>(b.model.get()) != nullptr;
  AdapterConfig ac = cfg.adapter;
  if (!ac.from.empty()) {  // the adapter PEFT (or an earlier run) wrote: its shape, then its tensors
    AdapterConfig file = read_peft_adapter_config(ac.from);
    file.modules_to_save = ac.modules_to_save;
    file.from = ac.from;
    ac = file;
  }
  ac.seed = cfg.run.seed;
  if (!qwen)
    for (auto& p : b.model->parameters())
      p.set_requires_grad(false);  // the tiny model: adapters and prefixes
  b.model->attach_adapters(ac);
  if (!ac.from.empty()) load_peft_adapter(*b.model, ac.from);
  for (auto& p : b.model->named_parameters())
    for (const auto& prefix : ac.modules_to_save)
      if (p.key().rfind(prefix, 0) == 0) p.value().set_requires_grad(true);
}

}  // namespace

ModelBundle build_model_for_training(const TrainConfig& cfg,
                                     const std::vector<const DetectionDataset*>& splits,
                                     const fs::path& out_dir, bool resume) {
  ModelBundle b;
  b.resolved = cfg;
  const fs::path saved = out_dir / "tokenizer.json";
  const bool reuse = resume && fs::exists(saved);
  b.tokenizer_reused = reuse;
  // a run started from all of another run's weights takes that run's tokenizer (the rows must mean the same
  // ids); one that takes only the image encoder builds its own
  const fs::path init_dir(cfg.run.init_from);
  const bool init_all = !cfg.run.init_from.empty() && cfg.run.init_parts == "all";
  const fs::path tokenizer_file = reuse ? saved : init_all ? init_dir / "tokenizer.json" : fs::path();
  // (a resumed run with a checkpoint of its own loads that one in the trainer instead)
  const bool init = !cfg.run.init_from.empty() && !(resume && fs::exists(out_dir / "checkpoint.pt"));
  auto load_init_weights = [&](VisionLanguageModel& m) {
    if (!init) return;
    if (init_all)
      load_checkpoint((init_dir / "checkpoint.pt").string(), m, nullptr, m.vocab_size());
    else
      copy_image_encoder(*load_run_model(init_dir).model, m, init_dir);
  };
  if (cfg.hf.path.empty()) {
    auto tok = !tokenizer_file.empty()
                   ? std::make_shared<WordTokenizer>(WordTokenizer::load(tokenizer_file.string()))
                   : word_tokenizer_from(cfg, splits);
    // the coordinate vocabulary comes with the tokenizer: a different K would be silently ignored
    if (tok->coord_vocab().num_bins() != cfg.data.num_bins)
      throw_input_error("config field \"data.num_bins\"",
                        std::to_string(tok->coord_vocab().num_bins()) + " bins, the tokenizer's in " +
                            tokenizer_file.string(),
                        std::to_string(cfg.data.num_bins),
                        "a run continued or initialised from another keeps its coordinate vocabulary");
    b.resolved.model = tiny_config_for(b.resolved.model, *tok);
    b.model = build_tiny_vlm(b.resolved.model);
    load_init_weights(*b.model);
    b.tokenizer = tok;
    prepare_trainable(b);
    return b;
  }
  auto model = load_qwen_vl(cfg.hf.path, nullptr, weight_dtype(cfg));
  // a fresh run extends the checkpoint's tokenizer and initialises the added rows from the existing ones; a
  // resumed or initialised run reads its extended tokenizer and gets those rows from its checkpoint
  auto tok = std::make_shared<QwenChatTokenizer>(
      tokenizer_file.empty()
          ? extend_qwen_vocabulary(*model, fs::path(cfg.hf.path) / "tokenizer.json", cfg.data.num_bins,
                                   cfg.hf.system_prompt, cfg.run.seed)
          : QwenChatTokenizer::load(tokenizer_file, cfg.data.num_bins, cfg.hf.system_prompt));
  fit_qwen_model(cfg, *model, *tok);
  b.first_new_row = tok->first_new_id();
  load_init_weights(*model);
  b.resolved.model.vocab_size = model->vocab_size();
  b.model = model;
  b.tokenizer = tok;
  prepare_trainable(b);
  return b;
}

ModelBundle load_run_model(const fs::path& run_dir) {
  ModelBundle b;
  b.resolved = load_train_config((run_dir / "config.json").string());
  const TrainConfig& cfg = b.resolved;
  const fs::path tok_path = run_dir / "tokenizer.json";
  if (cfg.hf.path.empty()) {
    auto tok = std::make_shared<WordTokenizer>(WordTokenizer::load(tok_path.string()));
    // (without the coordinate range a scan-pointer run could not be loaded back, and the coordinate-aware
    // initialisation would differ; the checkpoint overwrites the weights either way)
    b.resolved.model = tiny_config_for(b.resolved.model, *tok);
    b.model = build_tiny_vlm(b.resolved.model);
    b.tokenizer = tok;
  } else {
    auto tok = std::make_shared<QwenChatTokenizer>(
        QwenChatTokenizer::load(tok_path, cfg.data.num_bins, cfg.hf.system_prompt));
    // weights below: all from the run's checkpoint, or the frozen ones from the base when it holds only what
    // trains
    auto model = checkpoint_is_trainable_only((run_dir / "checkpoint.pt").string())
                     ? load_qwen_vl(cfg.hf.path, nullptr, weight_dtype(cfg))
                     : make_qwen_vl(load_qwen_vl_config(fs::path(cfg.hf.path)), weight_dtype(cfg));
    fit_qwen_model(cfg, *model, *tok);
    b.model = model;
    b.first_new_row = tok->first_new_id();
    b.tokenizer = tok;
  }
  prepare_trainable(b);  // the checkpoint holds the parameters as training laid them out
  load_checkpoint((run_dir / "checkpoint.pt").string(), *b.model, nullptr, b.model->vocab_size());
  return b;
}

bool is_partially_frozen(const ModelBundle& bundle, const torch::Tensor& parameter) {
  const TokenTable input = bundle.model->input_table(), head = bundle.model->lm_head();
  return (input.added.defined() && parameter.is_same(input.added)) ||
         (head.added.defined() && parameter.is_same(head.added));
}

ImageStoreConfig image_store_config(const ModelBundle& bundle, int threads) {
  const TrainConfig& cfg = bundle.resolved;
  const auto* qwen = dynamic_cast<const QwenVLModel*>(bundle.model.get());
  ImageStoreConfig s;
  s.fit.mode = cfg.data.fit == "auto" ? (qwen ? ImageFitMode::kFitNative : ImageFitMode::kFitSquare)
                                      : parse_image_fit_mode(cfg.data.fit);
  s.fit.size = cfg.model.image_size;
  if (qwen) s.fit.factor = qwen->config().vision.patch_size * qwen->config().vision.spatial_merge_size;
  s.fit.min_pixels = cfg.data.min_pixels;
  s.fit.max_pixels = cfg.data.max_pixels;
  if (!qwen && s.fit.mode == ImageFitMode::kFitNative)
    throw_input_error("data.fit", "square or letterbox for the tiny model (it sees model.image_size squares)",
                      "native");
  s.jpeg_dct_scaling = cfg.data.jpeg_dct_scaling;
  s.apply_exif_orientation = cfg.data.exif_orientation;
  s.cache_mib = cfg.data.cache_mib;
  s.threads = cfg.data.decode_threads > 0 ? cfg.data.decode_threads : std::max(1, threads);
  return s;
}

}  // namespace coordexp
