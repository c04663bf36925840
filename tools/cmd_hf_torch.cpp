// Hugging Face Qwen2-VL / Qwen2.5-VL checkpoints from the command line:
//   hf-tiny      write a tiny random checkpoint (config.json, tokenizer.json, safetensors shards)
//   hf-extend    add the coordinate and structure tokens to a checkpoint and save it in HF format
//   hf-logits    logits of every position for given input ids and an image (.npy), for parity checks
//   hf-generate  greedy continuation of given input ids and an image, as {"ids": [...]}
// Input ids (a JSON file {"input_ids": [...]}) hold the chat template with one run of <|image_pad|>,
// as the reference processor writes them; the run's length must match the image's merged patch grid.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "command.hpp"
#include "coordexp/data/image.hpp"
#include "coordexp/data/image_decode.hpp"
#include "coordexp/data/image_fit.hpp"
#include "coordexp/data/image_tensor.hpp"
#include "coordexp/data/resample.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"
#include "torch_commands.hpp"

namespace coordexp::cli {
namespace {

namespace fs = std::filesystem;

void use_all_cores() {
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// A float32 array as NumPy's .npy (format 1.0, little-endian, C order).
void save_npy(const torch::Tensor& t, const fs::path& path) {
  auto c = t.detach().to(torch::kFloat).contiguous();
  std::string shape = "(";
  for (int64_t d = 0; d < c.dim(); ++d)
    shape += std::to_string(c.size(d)) + (c.dim() == 1 || d + 1 < c.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(c.data_ptr<float>()), static_cast<std::streamsize>(c.numel() * 4));
  if (!f) throw_input_error("output " + path.string(), "a writable file", "a write failure");
}

struct ModelInput {
  std::vector<int64_t> prefix, tokens;  // ids before and after the image placeholder run
  torch::Tensor image;                  // [1, 3, H, W] in [0, 1]
};

// Splits ids.json at its <|image_pad|> run and loads the image (PNG or JPEG, decoded in full and resized with
// the processor's smart resize and Pillow's bicubic filter, as transformers' Qwen2-VL processor does).
ModelInput read_input(const QwenVLModel& model, const std::string& ids_path, const std::string& image_path) {
  const auto doc = read_json_file(ids_path, "a readable ids JSON file");
  if (!doc.is_object() || !doc.contains("input_ids") || !doc["input_ids"].is_array())
    throw_input_error(ids_path + ": field \"input_ids\"", "an array of token ids", doc.dump().substr(0, 80));
  std::vector<int64_t> ids;
  for (const auto& v : doc["input_ids"]) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= model.vocab_size())
      throw_input_error(ids_path + ": field \"input_ids\"",
                        "ids in [0, " + std::to_string(model.vocab_size()) + ")", v.dump());
    ids.push_back(v.get<int64_t>());
  }
  const int64_t pad = model.config().image_token_id;
  const auto first = std::find(ids.begin(), ids.end(), pad);
  if (first == ids.end())
    throw_input_error(ids_path, "one run of image_token_id " + std::to_string(pad), "none");
  const auto last = std::find_if(first, ids.end(), [&](int64_t v) { return v != pad; });
  if (std::find(last, ids.end(), pad) != ids.end())
    throw_input_error(ids_path, "a single image (one run of image_token_id)", "several runs");
  ImageRGB8 img = load_image(image_path).pixels;
  const int64_t factor = model.config().vision.patch_size * model.config().vision.spatial_merge_size;
  const FitSize size = smart_resize(img.height(), img.width(), factor, 56 * 56, 28 * 28 * 1280, image_path);
  if (size.height != img.height() || size.width != img.width()) {
    std::cerr << "coordexp: resizing " << image_path << " to " << size.width << " x " << size.height
              << " (Pillow's bicubic, as the reference)\n";
    img = resize_bicubic_pil(img, static_cast<int>(size.width), static_cast<int>(size.height));
  }
  const int64_t tokens = (size.height / factor) * (size.width / factor);
  if (last - first != tokens)
    throw_input_error(ids_path,
                      std::to_string(tokens) + " image tokens for a " + std::to_string(size.width) + " x " +
                          std::to_string(size.height) + " image",
                      std::to_string(last - first));
  return {std::vector<int64_t>(ids.begin(), first), std::vector<int64_t>(last, ids.end()),
          image_to_tensor(img, false).unsqueeze(0)};
}

torch::Tensor as_batch(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kLong).view({1, -1});
}

// --model, --image, --ids of hf-logits and hf-generate, and what they load: the model in eval mode with its
// image prefix set, the text after the image, the image.
struct ModelAndInput {
  std::string model_dir, image, ids;
  void add_options(CLI::App& sub) {
    sub.add_option("--model", model_dir, "Hugging Face model folder")
        ->required()
        ->check(CLI::ExistingDirectory);
    sub.add_option("--image", image, "PNG or JPEG image")->required()->check(CLI::ExistingFile);
    sub.add_option("--ids", ids, "JSON {\"input_ids\": [...]} with one <|image_pad|> run")
        ->required()
        ->check(CLI::ExistingFile);
  }
  std::pair<std::shared_ptr<QwenVLModel>, ModelInput> load() const {
    use_all_cores();
    auto model = load_qwen_vl(model_dir);
    model->eval();
    ModelInput in = read_input(*model, ids, image);
    model->set_image_prefix(in.prefix);
    return {model, std::move(in)};
  }
};

const CommandRegistrar kTiny("hf-tiny", torch_command_description("hf-tiny"), [](CLI::App& sub) {
  auto out = std::make_shared<std::string>();
  auto family = std::make_shared<std::string>("qwen2_vl");
  auto shards = std::make_shared<int>(2);
  auto seed = std::make_shared<uint64_t>(0);
  auto preset = std::make_shared<std::string>("tiny");
  auto bf16 = std::make_shared<bool>(false);
  sub.add_option("--out", *out, "Output folder")->required();
  sub.add_option(
         "--sizes", *preset,
         "tiny (default), or qwen2-vl-2b: Qwen2-VL-2B's published sizes with random weights (about 2.2B "
         "parameters; for measuring memory and speed at real size)")
      ->check(CLI::IsMember({"tiny", "qwen2-vl-2b"}));
  sub.add_flag("--bf16", *bf16, "Write the weights in bfloat16");
  sub.add_option("--family", *family, "qwen2_vl or qwen2_5_vl")
      ->check(CLI::IsMember({"qwen2_vl", "qwen2_5_vl"}));
  sub.add_option("--shards", *shards, "Safetensors shards")->check(CLI::Range(1, 64));
  sub.add_option("--seed", *seed, "Random seed");
  // Sizes over the preset's, for checkpoints of a chosen shape (the training-step benchmark's).
  auto set = std::make_shared<std::map<std::string, int64_t>>();
  for (const char* name : {"hidden", "layers", "heads", "kv-heads", "intermediate", "vision-width",
                           "vision-depth", "vision-heads"})
    sub.add_option_function<int64_t>(
           std::string("--") + name, [set, name](int64_t v) { (*set)[name] = v; },
           std::string("Override the preset's ") + name)
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  auto real_vocab = std::make_shared<bool>(false);
  sub.add_flag("--real-vocab", *real_vocab,
               "Qwen2-VL's vocabulary size: 151,657 tokenizer ids, 151,936 tied embedding rows");
  return [=]() -> int {
    TinyQwenSpec spec = *preset == "qwen2-vl-2b" ? qwen2_vl_2b_spec() : TinyQwenSpec{};
    if (*preset == "tiny")
      spec.family = *family == "qwen2_5_vl" ? QwenVLFamily::kQwen2_5VL : QwenVLFamily::kQwen2VL;
    const std::map<std::string, int64_t*> fields{{"hidden", &spec.hidden},
                                                 {"layers", &spec.layers},
                                                 {"heads", &spec.heads},
                                                 {"kv-heads", &spec.kv_heads},
                                                 {"intermediate", &spec.intermediate},
                                                 {"vision-width", &spec.vision_width},
                                                 {"vision-depth", &spec.vision_depth},
                                                 {"vision-heads", &spec.vision_heads}};
    for (const auto& [name, v] : *set) *fields.at(name) = v;
    if (*real_vocab) spec.vocab_rows = 151936, spec.tokenizer_ids = 151657, spec.tie_embeddings = true;
    spec.bf16 = *bf16;
    spec.shards = *shards;
    spec.seed = *seed;
    write_tiny_qwen_checkpoint(*out, spec);
    std::cerr << "hf-tiny: wrote " << *out << "\n";
    return 0;
  };
});

const CommandRegistrar kExtend("hf-extend", torch_command_description("hf-extend"), [](CLI::App& sub) {
  auto model_dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto bins = std::make_shared<int>(1000);
  auto bf16 = std::make_shared<bool>(false);
  sub.add_option("--model", *model_dir, "Hugging Face model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("--out", *out, "Output folder")->required();
  sub.add_option("--bins", *bins, "K coordinate tokens")->check(CLI::Range(2, 100000));
  sub.add_flag("--bf16", *bf16, "Write bfloat16 weights (default float32)");
  return [=]() -> int {
    use_all_cores();
    QwenLoadReport report;
    auto model = load_qwen_vl(*model_dir, &report);
    const int64_t base_rows = model->vocab_size();
    const QwenChatTokenizer tok =
        extend_qwen_vocabulary(*model, fs::path(*model_dir) / "tokenizer.json", *bins);
    save_qwen_vl(*model, *out, *bf16 ? SafetensorsDType::kBF16 : SafetensorsDType::kF32);
    tok.save((fs::path(*out) / "tokenizer.json").string());
    write_hf_companion_files(*model_dir, *out, tok.bpe(), model->config());
    std::cerr << "hf-extend: " << report.tensors << " tensors read in " << report.seconds << " s; "
              << tok.vocab_size() << " token ids, model rows " << base_rows << " -> " << model->vocab_size()
              << "; wrote " << *out << "\n";
    return 0;
  };
});

const CommandRegistrar kLogits("hf-logits", torch_command_description("hf-logits"), [](CLI::App& sub) {
  auto args = std::make_shared<ModelAndInput>();
  auto out = std::make_shared<std::string>();
  auto dump = std::make_shared<std::string>();
  args->add_options(sub);
  sub.add_option("--out", *out, "Output .npy, float32 [T, V]")->required();
  sub.add_option("--dump", *dump, "Also write every named activation as <name>.npy into this folder");
  return [=]() -> int {
    torch::NoGradGuard no_grad;
    const auto [model, in] = args->load();
    if (!dump->empty()) {
      fs::create_directories(*dump);
      model->set_activation_hook([dir = fs::path(*dump)](const std::string& name, const torch::Tensor& v) {
        save_npy(v.squeeze(0), dir / (name + ".npy"));
      });
    }
    auto hidden = model->forward_all(model->encode_images(in.image), as_batch(in.tokens));
    save_npy(model->logits(hidden).squeeze(0), *out);
    return 0;
  };
});

const CommandRegistrar kGenerate("hf-generate", torch_command_description("hf-generate"), [](CLI::App& sub) {
  auto args = std::make_shared<ModelAndInput>();
  auto max_new = std::make_shared<int64_t>(32);
  args->add_options(sub);
  sub.add_option("--max-new-tokens", *max_new, "Stop after this many tokens")->check(CLI::Range(1, 100000));
  return [=]() -> int {
    torch::NoGradGuard no_grad;
    const auto [model, in] = args->load();
    KvCache cache;
    auto hidden = model->prefill(model->encode_images(in.image), as_batch(in.tokens), cache);
    const auto& eos = model->config().eos_token_ids;
    std::vector<int64_t> out;
    while (static_cast<int64_t>(out.size()) < *max_new) {
      const int64_t next = model->logits(hidden).argmax(-1).item<int64_t>();
      out.push_back(next);
      if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
      hidden = model->decode_step(torch::tensor({next}, torch::kLong), cache);
    }
    std::cout << nlohmann::json{{"ids", out}}.dump() << "\n";
    return 0;
  };
});

}  // namespace
}  // namespace coordexp::cli
