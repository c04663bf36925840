// Qwen2-VL / Qwen2.5-VL Hugging Face files (see qwen2_vl.hpp): reading and writing checkpoints,
// vocabulary extension, tiny random checkpoints.
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "coordexp/io/float16.hpp"
#include "coordexp/io/safetensors_checkpoint.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {

// ---- reading and writing Hugging Face files -------------------------------------------------------------

namespace {

// The names a parameter may have in a checkpoint: the classic layout first, then the one transformers
// writes since its models gained a "model.language_model" / "model.visual" nesting.
std::vector<std::string> checkpoint_names(const std::string& name) {
  std::vector<std::string> out{name};
  if (name.rfind("model.", 0) == 0) out.push_back("model.language_model." + name.substr(6));
  if (name.rfind("visual.", 0) == 0) out.push_back("model." + name);
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::shared_ptr<QwenVLModel> make_qwen_vl(const QwenVLConfig& config, torch::ScalarType dtype) {
  const auto previous = torch::get_default_dtype();
  torch::set_default_dtype(c10::scalarTypeToTypeMeta(dtype));  // parameters are made in `dtype`
  std::shared_ptr<QwenVLModel> model;
  try {
    model = std::make_shared<QwenVLModel>(config);
  } catch (...) {
    torch::set_default_dtype(previous);
    throw;
  }
  torch::set_default_dtype(previous);
  return model;
}

std::shared_ptr<QwenVLModel> load_qwen_vl(const std::filesystem::path& dir, QwenLoadReport* report,
                                          torch::ScalarType dtype) {
  const auto t0 = std::chrono::steady_clock::now();
  auto model = make_qwen_vl(load_qwen_vl_config(dir), dtype);
  const SafetensorsCheckpoint ckpt(dir);
  const std::string where = "checkpoint " + ckpt.source().string();
  QwenLoadReport r;
  std::map<std::string, bool> used;
  for (const auto& n : ckpt.names()) used[n] = false;
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    std::string found;
    for (const auto& n : checkpoint_names(p.key()))
      if (ckpt.contains(n)) {
        found = n;
        break;
      }
    if (found.empty()) throw_input_error(where, "a tensor named " + p.key(), "none");
    const TensorView view = ckpt.view(found);
    torch::Tensor& dst = p.value();
    if (view.shape != dst.sizes().vec())
      throw_input_error(where + " tensor " + found,
                        "shape " + shape_text(dst.sizes().vec()) + " (config.json)", shape_text(view.shape));
    if (dst.scalar_type() == torch::kFloat) {
      copy_to_float32(view, std::span<float>(dst.data_ptr<float>(), static_cast<size_t>(dst.numel())));
    } else {  // through one float32 tensor at a time
      auto tmp = torch::empty(dst.sizes(), torch::kFloat);
      copy_to_float32(view, std::span<float>(tmp.data_ptr<float>(), static_cast<size_t>(tmp.numel())));
      dst.copy_(tmp);
    }
    ckpt.release(found);  // resident memory: the model, not the model plus the mapped file
    used[found] = true;
    ++r.tensors;
    r.bytes_read += view.nbytes;
  }
  for (const auto& [n, u] : used)
    if (!u) r.ignored.push_back(n);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (report) *report = std::move(r);
  return model;
}

void save_qwen_vl(QwenVLModel& model, const std::filesystem::path& dir, SafetensorsDType dtype,
                  uint64_t max_shard_bytes) {
  COORDEXP_CHECK_ARG(dtype == SafetensorsDType::kF32 || dtype == SafetensorsDType::kBF16, "dtype",
                     "F32 or BF16", std::string(safetensors_dtype_name(dtype)));
  std::filesystem::create_directories(dir);
  // Each tensor is made, converted and written when the writer reaches it: one tensor in memory at a time.
  std::vector<SafetensorsTensorToWrite> tensors;
  uint64_t total = 0;
  for (auto& h : model.hf_tensors(/*merge_adapters=*/true)) {
    SafetensorsTensorToWrite w{h.name, dtype, h.shape, {}, {}};
    w.fill = [make = std::move(h.make), dtype](std::span<std::byte> out) {
      const torch::Tensor t = make();
      if (dtype == SafetensorsDType::kBF16 && t.scalar_type() == torch::kBFloat16) {
        const torch::Tensor c = t.contiguous();
        std::memcpy(out.data(), c.data_ptr(), out.size());
        return;
      }
      const torch::Tensor f = t.to(torch::kFloat).contiguous();
      if (dtype == SafetensorsDType::kF32) {
        std::memcpy(out.data(), f.data_ptr<float>(), out.size());
        return;
      }
      const float* src = f.data_ptr<float>();
      for (int64_t i = 0; i < f.numel(); ++i) {
        const uint16_t bits = float_to_bfloat16(src[i]);
        std::memcpy(out.data() + 2 * i, &bits, 2);
      }
    };
    total += safetensors_data_size(w).value_or(0);
    tensors.push_back(std::move(w));
  }
  const std::map<std::string, std::string> metadata{{"format", "pt"}};  // transformers requires it
  std::filesystem::remove(dir / kSafetensorsSingleName);
  std::filesystem::remove(dir / kSafetensorsIndexName);
  if (total > max_shard_bytes)
    write_sharded_safetensors(dir, tensors, max_shard_bytes, metadata);
  else
    write_safetensors(dir / kSafetensorsSingleName, tensors, metadata);
  auto doc = qwen_vl_config_to_json(model.config());
  doc["torch_dtype"] = dtype == SafetensorsDType::kF32 ? "float32" : "bfloat16";
  const auto tmp = dir / "config.json.tmp";
  {
    std::ofstream f(tmp);
    f << doc.dump(2) << "\n";
    if (!f) throw_input_error("output " + tmp.string(), "a writable file", "a write failure");
  }
  std::filesystem::rename(tmp, dir / "config.json");
}

void init_new_token_rows(QwenVLModel& model, int64_t first_new, int64_t coord_first, int64_t num_bins,
                         uint64_t seed, int64_t end) {
  // rows past `end` (a checkpoint's padding beyond the tokenizer's ids) keep their values
  const int64_t V = end >= 0 ? std::min(end, model.vocab_size()) : model.vocab_size();
  COORDEXP_CHECK_ARG(first_new > 0 && first_new <= V, "first_new", "in (0, vocab_size]",
                     std::to_string(first_new));
  COORDEXP_CHECK_ARG(num_bins == 0 || (coord_first >= first_new && coord_first + num_bins <= V),
                     "coord_first", "new rows holding all K coordinate tokens", std::to_string(coord_first));
  if (first_new == V) return;
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  auto init = [&](torch::Tensor w) {
    auto old = w.narrow(0, 0, first_new);
    auto mean = old.mean(0);
    const double spread = old.std(0).mean().item<double>();
    w.narrow(0, first_new, V - first_new).copy_(mean.expand({V - first_new, w.size(1)}));
    if (num_bins < 2) return;
    std::vector<float> e(2 * w.size(1));
    for (auto& x : e) x = normal(rng) * static_cast<float>(spread);
    auto ends = torch::tensor(e).view({2, w.size(1)});
    auto u = torch::linspace(0, 1, num_bins).unsqueeze(1);  // [K, 1]
    w.narrow(0, coord_first, num_bins).copy_(mean + (1 - u) * ends[0] + u * ends[1]);
  };
  init(model.input_embedding());
  if (!model.config().text.tie_word_embeddings) init(model.lm_head_weight());
}

QwenChatTokenizer extend_qwen_vocabulary(QwenVLModel& model, const std::filesystem::path& tokenizer_json,
                                         int num_bins, std::string system_prompt, uint64_t seed) {
  BpeTokenizer base = BpeTokenizer::from_file(tokenizer_json);
  const int64_t base_ids = base.vocab_size();
  QwenChatTokenizer tok(std::move(base), num_bins, std::move(system_prompt), tokenizer_json.string());
  model.resize_vocabulary(tok.vocab_size());
  if (tok.vocab_size() > base_ids)
    init_new_token_rows(model, base_ids, tok.coord_vocab().first_id(), num_bins, seed, tok.vocab_size());
  return tok;
}

// ---- tiny random checkpoints ----------------------------------------------------------------------------

void write_tiny_qwen_checkpoint(const std::filesystem::path& dir, const TinyQwenSpec& spec) {
  std::vector<std::string> corpus = {"detect all",
                                     "detect: red star; blue circle",
                                     "You are a helpful assistant.",
                                     "small red star",
                                     "large blue circle",
                                     "green triangle",
                                     "yellow square",
                                     "purple hexagon",
                                     "orange cross",
                                     "white ring",
                                     "black diamond",
                                     "pink arrow",
                                     "cyan heart",
                                     "grey moon",
                                     "the quick brown fox jumps over the lazy dog",
                                     "12345 67890",
                                     "system user assistant"};
  corpus.insert(corpus.end(), spec.corpus.begin(), spec.corpus.end());
  const std::vector<std::string> specials = {"<|endoftext|>",    "<|im_start|>",   "<|im_end|>",
                                             "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                                             "<|video_pad|>"};
  BpeTokenizer tokenizer =
      BpeTokenizer::from_json(train_byte_level_bpe(corpus, 200, specials), "tiny tokenizer");
  auto id = [&](const std::string& s) { return *tokenizer.token_to_id(s); };
  for (int64_t i = 0; tokenizer.vocab_size() < spec.tokenizer_ids; ++i)
    tokenizer.add_special_token("<|unused_" + std::to_string(i) + "|>");

  QwenVLConfig c;
  c.family = spec.family;
  const bool v25 = spec.family == QwenVLFamily::kQwen2_5VL;
  QwenTextConfig& t = c.text;
  t.vocab_size = spec.vocab_rows > 0 ? std::max<int64_t>(spec.vocab_rows, tokenizer.vocab_size())
                                     : (tokenizer.vocab_size() + 7) / 8 * 8 + spec.padding_rows;
  t.tie_word_embeddings = spec.tie_embeddings;
  t.hidden_size = spec.hidden;
  t.intermediate_size = spec.intermediate;
  t.num_hidden_layers = spec.layers;
  t.num_attention_heads = spec.heads;
  t.num_key_value_heads = spec.kv_heads;
  t.max_position_embeddings = 4096;
  t.rms_norm_eps = 1e-6;
  t.max_window_layers = spec.layers;
  t.rope.rope_type = "mrope";
  t.rope.rope_theta = 10000.0;
  const int64_t half = spec.hidden / spec.heads / 2;
  t.rope.mrope_section = {half - 2 * (half * 3 / 8), half * 3 / 8, half * 3 / 8};
  QwenVisionConfig& v = c.vision;
  v.depth = spec.vision_depth;
  v.embed_dim = spec.vision_width;
  v.out_hidden_size = spec.hidden;
  v.num_heads = spec.vision_heads;
  v.intermediate_size = spec.vision_intermediate;
  v.hidden_act = v25 ? "silu" : "quick_gelu";
  v.patch_size = 14;
  v.temporal_patch_size = 2;
  v.spatial_merge_size = 2;
  if (v25) {
    v.window_size = 56;
    v.fullatt_block_indexes = {spec.vision_depth - 1};
    v.tokens_per_second = 2;
  }
  c.image_token_id = id("<|image_pad|>");
  c.video_token_id = id("<|video_pad|>");
  c.vision_start_token_id = id("<|vision_start|>");
  c.vision_end_token_id = id("<|vision_end|>");
  c.bos_token_id = id("<|endoftext|>");
  c.eos_token_ids = {id("<|im_end|>")};

  QwenVLModel model(c);
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (auto& p : model.named_parameters()) {
    const bool norm = p.key().find("norm") != std::string::npos || p.key().find("ln_q") != std::string::npos;
    const bool bias = p.key().size() >= 5 && p.key().compare(p.key().size() - 5, 5, ".bias") == 0;
    float* x = p.value().data_ptr<float>();
    for (int64_t i = 0; i < p.value().numel(); ++i)
      x[i] = norm && !bias ? 1.f + 0.1f * normal(rng) : 0.02f * normal(rng);
  }
  const uint64_t bytes = [&] {
    uint64_t b = 0;
    for (const auto& p : model.parameters()) b += p.numel() * (spec.bf16 ? 2 : 4);
    return b;
  }();
  save_qwen_vl(model, dir, spec.bf16 ? SafetensorsDType::kBF16 : SafetensorsDType::kF32,
               spec.shards > 1 ? bytes / spec.shards + 1 : bytes + 1);
  tokenizer.save(dir / "tokenizer.json");
}

}  // namespace coordexp

namespace coordexp {

TinyQwenSpec qwen2_vl_2b_spec() {
  TinyQwenSpec s;
  s.family = QwenVLFamily::kQwen2VL;
  s.hidden = 1536, s.layers = 28, s.heads = 12, s.kv_heads = 2, s.intermediate = 8960;
  s.vision_width = 1280, s.vision_depth = 32, s.vision_heads = 16, s.vision_intermediate = 5120;
  s.vocab_rows = 151936, s.tokenizer_ids = 151657, s.tie_embeddings = true;
  return s;
}

namespace {

void write_json(const std::filesystem::path& path, const nlohmann::json& doc) {
  std::ofstream f(path);
  f << doc.dump(2) << "\n";
  if (!f) throw_input_error("output " + path.string(), "a writable file", "a write failure");
}

nlohmann::json read_json_or_null(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return nullptr;
  return read_json_file(path.string(), "a readable " + path.filename().string());
}

}  // namespace

void write_hf_companion_files(const std::filesystem::path& source, const std::filesystem::path& out,
                              const BpeTokenizer& tokenizer, const QwenVLConfig& config) {
  namespace fs = std::filesystem;
  fs::create_directories(out);
  // copied as they are: generation and chat-template files (the processor reads the template)
  for (const char* name : {"chat_template.json", "chat_template.jinja", "special_tokens_map.json"})
    if (fs::exists(source / name) && fs::absolute(source) != fs::absolute(out))
      fs::copy_file(source / name, out / name, fs::copy_options::overwrite_existing);
  nlohmann::json generation = read_json_or_null(source / "generation_config.json");
  if (generation.is_null())
    generation = {{"bos_token_id", config.bos_token_id},
                  {"eos_token_id", config.eos_token_ids},
                  {"pad_token_id", config.bos_token_id}};
  write_json(out / "generation_config.json", generation);
  nlohmann::json preprocessor = read_json_or_null(source / "preprocessor_config.json");
  if (preprocessor.is_null()) {
    const QwenVisionConfig& v = config.vision;
    preprocessor = {{"image_processor_type", "Qwen2VLImageProcessor"},
                    {"processor_class",
                     config.family == QwenVLFamily::kQwen2_5VL ? "Qwen2_5_VLProcessor" : "Qwen2VLProcessor"},
                    {"do_resize", true},
                    {"do_rescale", true},
                    {"rescale_factor", 1.0 / 255.0},
                    {"do_normalize", true},
                    {"do_convert_rgb", true},
                    {"image_mean", std::vector<float>(kQwenImageMean, kQwenImageMean + 3)},
                    {"image_std", std::vector<float>(kQwenImageStd, kQwenImageStd + 3)},
                    {"min_pixels", 56 * 56},
                    {"max_pixels", 28 * 28 * 1280},
                    {"patch_size", v.patch_size},
                    {"temporal_patch_size", v.temporal_patch_size},
                    {"merge_size", v.spatial_merge_size}};
  }
  write_json(out / "preprocessor_config.json", preprocessor);
  // the tokenizer's settings, with every added token (the coordinate and object tokens among them) listed as
  // the tokenizer.json beside it holds it
  nlohmann::json tok = read_json_or_null(source / "tokenizer_config.json");
  if (tok.is_null())
    tok = {{"tokenizer_class", "Qwen2Tokenizer"},
           {"model_max_length", 32768},
           {"eos_token", "<|im_end|>"},
           {"pad_token", "<|endoftext|>"},
           {"clean_up_tokenization_spaces", false}};
  nlohmann::json decoder = nlohmann::json::object();
  for (const AddedToken& t : tokenizer.added_tokens())
    decoder[std::to_string(t.id)] = {{"content", t.content},         {"lstrip", t.lstrip},
                                     {"normalized", t.normalized},   {"rstrip", t.rstrip},
                                     {"single_word", t.single_word}, {"special", t.special}};
  tok["added_tokens_decoder"] = decoder;
  write_json(out / "tokenizer_config.json", tok);
}

}  // namespace coordexp
