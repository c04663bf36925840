// Qwen2-VL / Qwen2.5-VL in LibTorch (see qwen2_vl.hpp): the modules and the forward passes; files are
// in qwen2_vl_io.cpp. Shape letters: B batch, N vision patches per image,
// M merged image tokens, L sequence positions, H query heads, G key/value heads, d head width.
#include "coordexp/model/qwen2_vl.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "coordexp/model/grad_checkpoint.hpp"
#include "coordexp/util/error.hpp"
#include "layers.hpp"

namespace coordexp {
namespace {

namespace nn = torch::nn;

using layers::attend;
using layers::RmsNorm;
using layers::rotate_half;

// Layers with zero-filled parameters: a checkpoint supplies every value, and LibTorch's random
// initialisation of nn::Linear & co. would cost more than reading the weights.
struct DenseImpl : nn::Module {
  DenseImpl(int64_t in, int64_t out, bool has_bias = true) {
    weight = register_parameter("weight", torch::zeros({out, in}));
    if (has_bias) bias = register_parameter("bias", torch::zeros({out}));
  }
  // through the owning model's adapter for this layer when it has one (adapter.hpp)
  torch::Tensor forward(const torch::Tensor& x) {
    return owner ? owner->linear(*this, x, weight, bias) : torch::nn::functional::linear(x, weight, bias);
  }
  torch::Tensor weight, bias;
  const VisionLanguageModel* owner = nullptr;
};
TORCH_MODULE(Dense);

struct LayerNormImpl : nn::Module {
  explicit LayerNormImpl(int64_t dim) {
    weight = register_parameter("weight", torch::ones({dim}));
    bias = register_parameter("bias", torch::zeros({dim}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto dtype = x.scalar_type();  // bfloat16 frozen weights normalise float32 activations
    const bool same = weight.scalar_type() == dtype;
    return torch::layer_norm(x, {weight.size(0)}, same ? weight : weight.to(dtype),
                             same ? bias : bias.to(dtype),
                             1e-6);  // eps 1e-6 everywhere in the tower
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm);

torch::Tensor activation(const std::string& name, const torch::Tensor& x) {
  if (name == "silu") return torch::silu(x);
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  throw_input_error("config.json hidden_act", "silu, quick_gelu, gelu or gelu_pytorch_tanh", name);
}

// ---- vision tower ---------------------------------------------------------------------------------------

struct VisionAttentionImpl : nn::Module {
  VisionAttentionImpl(int64_t dim, int64_t heads) : heads(heads) {
    qkv = register_module("qkv", Dense(dim, 3 * dim));
    proj = register_module("proj", Dense(dim, dim));
  }
  // x [B, N, C]; cos/sin [N, d]; mask [N, N] or undefined
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), d = C / heads;
    auto parts = qkv(x).view({B, N, 3, heads, d}).permute({2, 0, 3, 1, 4});  // [3, B, H, N, d]
    auto q = parts[0] * cos + rotate_half(parts[0]) * sin;
    auto k = parts[1] * cos + rotate_half(parts[1]) * sin;
    return proj(attend(q, k, parts[2], mask).transpose(1, 2).reshape({B, N, C}));
  }
  int64_t heads;
  Dense qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(VisionAttention);

struct VisionMlpImpl : nn::Module {
  VisionMlpImpl(int64_t dim, int64_t inner, std::string act, bool gated) : act(std::move(act)), gated(gated) {
    if (gated) {
      gate_proj = register_module("gate_proj", Dense(dim, inner));
      up_proj = register_module("up_proj", Dense(dim, inner));
      down_proj = register_module("down_proj", Dense(inner, dim));
    } else {
      fc1 = register_module("fc1", Dense(dim, inner));
      fc2 = register_module("fc2", Dense(inner, dim));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (gated) return down_proj(activation(act, gate_proj(x)) * up_proj(x));
    return fc2(activation(act, fc1(x)));
  }
  std::string act;
  bool gated;
  Dense fc1{nullptr}, fc2{nullptr}, gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(VisionMlp);

// The norms are registered directly under norm1 / norm2 so their parameters carry the reference's names.
struct VisionBlockImpl : nn::Module {
  VisionBlockImpl(const QwenVisionConfig& v, bool v25) {
    if (v25) {
      rms1 = register_module("norm1", RmsNorm(v.embed_dim, 1e-6));
      rms2 = register_module("norm2", RmsNorm(v.embed_dim, 1e-6));
    } else {
      ln1 = register_module("norm1", LayerNorm(v.embed_dim));
      ln2 = register_module("norm2", LayerNorm(v.embed_dim));
    }
    attn = register_module("attn", VisionAttention(v.embed_dim, v.num_heads));
    mlp = register_module("mlp", VisionMlp(v.embed_dim, v.intermediate_size, v.hidden_act, v25));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask) {
    auto y = x + attn(rms1 ? rms1(x) : ln1(x), cos, sin, mask);
    return y + mlp(rms2 ? rms2(y) : ln2(y));
  }
  RmsNorm rms1{nullptr}, rms2{nullptr};
  LayerNorm ln1{nullptr}, ln2{nullptr};
  VisionAttention attn{nullptr};
  VisionMlp mlp{nullptr};
};
TORCH_MODULE(VisionBlock);

struct PatchEmbedImpl : nn::Module {
  explicit PatchEmbedImpl(const QwenVisionConfig& v) {
    // the reference's Conv3d (kernel = stride = (T, P, P), no bias), held as its weight alone
    proj = register_module("proj", std::make_shared<nn::Module>());
    weight = proj->register_parameter(
        "weight",
        torch::zeros({v.embed_dim, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size}));
  }
  // patches [B, N, C*T*P*P] in the weight's (C, T, P, P) order -> [B, N, E]: the convolution over one
  // kernel-sized input is a matrix product.
  torch::Tensor forward(const torch::Tensor& patches) {
    return mixed_linear(patches, weight.reshape({weight.size(0), -1}), torch::Tensor());
  }
  std::shared_ptr<nn::Module> proj;
  torch::Tensor weight;
};
TORCH_MODULE(PatchEmbed);

struct MergerImpl : nn::Module {
  MergerImpl(const QwenVisionConfig& v, bool v25) : unit(v.spatial_merge_size * v.spatial_merge_size) {
    if (v25)
      rms = register_module("ln_q", RmsNorm(v.embed_dim, 1e-6));
    else
      ln = register_module("ln_q", LayerNorm(v.embed_dim));
    const int64_t hidden = v.embed_dim * unit;
    mlp = register_module("mlp", std::make_shared<nn::Module>());  // mlp.0, GELU, mlp.2 as in the reference
    fc1 = mlp->register_module("0", Dense(hidden, hidden));
    fc2 = mlp->register_module("2", Dense(hidden, v.out_hidden_size));
  }
  // x [B, N, E] with each run of `unit` consecutive patches one merge window -> [B, N / unit, D]
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = rms ? rms(x) : ln(x);
    return fc2(torch::gelu(fc1(h.reshape({x.size(0), x.size(1) / unit, -1}))));
  }
  int64_t unit;
  RmsNorm rms{nullptr};
  LayerNorm ln{nullptr};
  std::shared_ptr<nn::Module> mlp;
  Dense fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Merger);

struct VisionTowerImpl : nn::Module {
  VisionTowerImpl(const QwenVisionConfig& v, bool v25) : cfg(v), v25(v25) {
    patch_embed = register_module("patch_embed", PatchEmbed(v));
    blocks = register_module("blocks", nn::ModuleList());
    for (int64_t i = 0; i < v.depth; ++i) blocks->push_back(VisionBlock(v, v25));
    merger = register_module("merger", Merger(v, v25));
  }
  QwenVisionConfig cfg;
  bool v25;
  PatchEmbed patch_embed{nullptr};
  nn::ModuleList blocks{nullptr};
  Merger merger{nullptr};
};
TORCH_MODULE(VisionTower);

// ---- language model -------------------------------------------------------------------------------------

struct SelfAttentionImpl : nn::Module {
  explicit SelfAttentionImpl(const QwenTextConfig& t)
      : heads(t.num_attention_heads), kv_heads(t.num_key_value_heads), d(t.head_dim()) {
    q_proj = register_module("q_proj", Dense(t.hidden_size, heads * d));
    k_proj = register_module("k_proj", Dense(t.hidden_size, kv_heads * d));
    v_proj = register_module("v_proj", Dense(t.hidden_size, kv_heads * d));
    o_proj = register_module("o_proj", Dense(heads * d, t.hidden_size, false));
  }
  // x [B, L, D]; cos/sin [L, d]; the cache (when given) holds keys/values of earlier positions per kv head
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v) {
    const int64_t B = x.size(0), L = x.size(1);
    auto q = q_proj(x).view({B, L, heads, d}).transpose(1, 2);
    auto k = k_proj(x).view({B, L, kv_heads, d}).transpose(1, 2);
    auto v = v_proj(x).view({B, L, kv_heads, d}).transpose(1, 2);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    if (cache_k) {
      if (cache_k->defined()) {
        k = torch::cat({*cache_k, k}, 2);
        v = torch::cat({*cache_v, v}, 2);
      }
      *cache_k = k;
      *cache_v = v;
    }
    if (heads != kv_heads) {  // query head h reads kv head h / (H / G), as the reference's repeat_kv
      k = k.repeat_interleave(heads / kv_heads, 1);
      v = v.repeat_interleave(heads / kv_heads, 1);
    }
    return o_proj(attend(q, k, v, mask).transpose(1, 2).reshape({B, L, heads * d}));
  }
  int64_t heads, kv_heads, d;
  Dense q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

struct TextMlpImpl : nn::Module {
  explicit TextMlpImpl(const QwenTextConfig& t) : act(t.hidden_act) {
    const auto lin = [](int64_t i, int64_t o) { return Dense(i, o, false); };
    gate_proj = register_module("gate_proj", lin(t.hidden_size, t.intermediate_size));
    up_proj = register_module("up_proj", lin(t.hidden_size, t.intermediate_size));
    down_proj = register_module("down_proj", lin(t.intermediate_size, t.hidden_size));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return down_proj(activation(act, gate_proj(x)) * up_proj(x));
  }
  std::string act;
  Dense gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(TextMlp);

struct DecoderLayerImpl : nn::Module {
  explicit DecoderLayerImpl(const QwenTextConfig& t) {
    input_layernorm = register_module("input_layernorm", RmsNorm(t.hidden_size, t.rms_norm_eps));
    self_attn = register_module("self_attn", SelfAttention(t));
    post_attention_layernorm =
        register_module("post_attention_layernorm", RmsNorm(t.hidden_size, t.rms_norm_eps));
    mlp = register_module("mlp", TextMlp(t));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v) {
    auto y = x + self_attn(input_layernorm(x), cos, sin, mask, cache_k, cache_v);
    return y + mlp(post_attention_layernorm(y));
  }
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  SelfAttention self_attn{nullptr};
  TextMlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

struct TextModelImpl : nn::Module {
  explicit TextModelImpl(const QwenTextConfig& t) {
    embed_tokens = register_module("embed_tokens", std::make_shared<nn::Module>());
    embed = embed_tokens->register_parameter("weight", torch::zeros({t.vocab_size, t.hidden_size}));
    layers = register_module("layers", nn::ModuleList());
    for (int64_t i = 0; i < t.num_hidden_layers; ++i) layers->push_back(DecoderLayer(t));
    norm = register_module("norm", RmsNorm(t.hidden_size, t.rms_norm_eps));
  }
  torch::Tensor lookup(const torch::Tensor& ids) {
    return TokenTable{embed, embed_added, {}, sparse_grad}.lookup(ids);
  }
  std::shared_ptr<nn::Module> embed_tokens;
  torch::Tensor embed, embed_added;  // embed_added: the added tokens' rows when held apart
  bool sparse_grad = false;          // sparse_input_gradient
  nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
};
TORCH_MODULE(TextModel);

// Qwen2.5-VL window attention over the merged grid [rows, cols] (merged tokens): windows of w x w merged
// tokens in row-major window order, partial at the right and bottom edges. Returns the merged-token order
// (window by window, row-major inside each) and each window's length in merged tokens.
std::pair<std::vector<int64_t>, std::vector<int64_t>> window_order(int64_t rows, int64_t cols, int64_t w) {
  std::vector<int64_t> order, lengths;
  for (int64_t wr = 0; wr < rows; wr += w)
    for (int64_t wc = 0; wc < cols; wc += w) {
      int64_t n = 0;
      for (int64_t r = wr; r < std::min(rows, wr + w); ++r)
        for (int64_t c = wc; c < std::min(cols, wc + w); ++c, ++n) order.push_back(r * cols + c);
      lengths.push_back(n);
    }
  return {order, lengths};
}

}  // namespace

struct QwenVLModel::Impl {
  TextModel text{nullptr};
  VisionTower visual{nullptr};
  Dense lm_head{nullptr};
  torch::Tensor lm_head_added;  // the added tokens' rows of an untied head when held apart
  torch::Tensor text_inv_freq;  // [d / 2]
  torch::Tensor mrope_source;   // [d / 2] long: which of (t, h, w) each rotary frequency reads
};

QwenVLModel::QwenVLModel(const QwenVLConfig& config) : config_(config), impl_(std::make_shared<Impl>()) {
  const QwenTextConfig& t = config.text;
  const QwenVisionConfig& v = config.vision;
  const bool v25 = config.family == QwenVLFamily::kQwen2_5VL;
  const int64_t d = t.head_dim();
  if (t.num_attention_heads % t.num_key_value_heads != 0)
    throw_input_error("config.json num_key_value_heads",
                      "a divisor of num_attention_heads (" + std::to_string(t.num_attention_heads) + ")",
                      std::to_string(t.num_key_value_heads));
  if (t.use_sliding_window)
    throw_input_error("config.json use_sliding_window", "false (sliding-window attention is not implemented)",
                      "true");
  int64_t section_sum = 0;
  for (int64_t s : t.rope.mrope_section) section_sum += s;
  if (t.rope.mrope_section.size() != 3 || section_sum * 2 != d)
    throw_input_error(
        "config.json rope_scaling.mrope_section",
        "three sections summing to head_dim / 2 = " + std::to_string(d / 2),
        std::to_string(t.rope.mrope_section.size()) + " sections summing to " + std::to_string(section_sum));
  if ((v.embed_dim / v.num_heads) % 4 != 0)
    throw_input_error("config.json vision_config.num_heads", "a vision head width divisible by 4",
                      std::to_string(v.embed_dim / v.num_heads));
  if (v.out_hidden_size != t.hidden_size)
    throw_input_error(
        "config.json vision_config",
        "a merger output width equal to the LM's hidden_size (" + std::to_string(t.hidden_size) + ")",
        std::to_string(v.out_hidden_size));
  if (v25 && v.window_size > 0 && v.window_size % (v.patch_size * v.spatial_merge_size) != 0)
    throw_input_error("config.json vision_config.window_size",
                      "a multiple of patch_size * spatial_merge_size", std::to_string(v.window_size));

  impl_->visual = register_module("visual", VisionTower(v, v25));
  impl_->text = register_module("model", TextModel(t));
  if (!t.tie_word_embeddings)
    impl_->lm_head = register_module("lm_head", Dense(t.hidden_size, t.vocab_size, false));

  for (const auto& m : named_modules("", false))
    if (auto* dense = dynamic_cast<DenseImpl*>(m.value().get())) dense->owner = this;

  auto inv = torch::arange(0, d, 2, torch::kLong).to(torch::kFloat) / static_cast<double>(d);
  impl_->text_inv_freq = 1.0 / torch::pow(torch::tensor(t.rope.rope_theta, torch::kFloat), inv);
  std::vector<int64_t> source;
  for (int64_t s = 0; s < 3; ++s) source.insert(source.end(), t.rope.mrope_section[s], s);
  impl_->mrope_source = torch::tensor(source, torch::kLong);
}

QwenVLModel::~QwenVLModel() = default;

void QwenVLModel::set_image_prefix(std::vector<int64_t> ids) {
  image_prefix_ = std::move(ids);
}

ImageTokens QwenVLModel::encode_images(const torch::Tensor& images) {
  const QwenVisionConfig& v = config_.vision;
  const int64_t P = v.patch_size, m = v.spatial_merge_size, T = v.temporal_patch_size, C = v.in_channels;
  COORDEXP_CHECK_ARG(images.dim() == 4 && images.size(1) == C, "images", "[B, 3, H, W]",
                     std::to_string(images.dim()) + " dims");
  const int64_t B = images.size(0), H = images.size(2), W = images.size(3);
  COORDEXP_CHECK_ARG(H % (P * m) == 0 && W % (P * m) == 0, "images",
                     "sides that are multiples of " + std::to_string(P * m),
                     std::to_string(H) + " x " + std::to_string(W));
  const int64_t gh = H / P, gw = W / P, N = gh * gw, grid_rows = gh / m, grid_cols = gw / m;
  auto mean = torch::tensor(std::vector<float>(kQwenImageMean, kQwenImageMean + 3)).view({1, 3, 1, 1});
  auto stdev = torch::tensor(std::vector<float>(kQwenImageStd, kQwenImageStd + 3)).view({1, 3, 1, 1});
  auto x = ((images - mean) / stdev).unsqueeze(1).expand({B, T, C, H, W});  // a still image: T equal frames
  // the image processor's layout: (rows/m, cols/m, m, m) patch order, each patch flattened as (C, T, P, P)
  auto patches = x.reshape({B, T, C, gh / m, m, P, gw / m, m, P})
                     .permute({0, 3, 6, 4, 7, 2, 1, 5, 8})
                     .reshape({B, N, C * T * P * P});
  auto& vis = impl_->visual;
  auto h = vis->patch_embed(patches);  // [B, N, E]
  if (hook_) hook_("vision.patch_embed", h);

  // 2-D rotary: head width d, d/4 frequencies for the row and d/4 for the column, in merge-window order
  const int64_t E = v.embed_dim, d = E / v.num_heads;
  std::vector<int64_t> rows(N), cols(N);
  for (int64_t i2 = 0, n = 0; i2 < gh / m; ++i2)
    for (int64_t j2 = 0; j2 < gw / m; ++j2)
      for (int64_t a = 0; a < m; ++a)
        for (int64_t b = 0; b < m; ++b, ++n) {
          rows[n] = i2 * m + a;
          cols[n] = j2 * m + b;
        }
  const int64_t dim = d / 2;
  auto inv_freq = 1.0 / torch::pow(torch::tensor(10000.0f),
                                   torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat) / dim);
  auto freqs = torch::cat({torch::tensor(rows, torch::kLong).to(torch::kFloat).unsqueeze(1) * inv_freq,
                           torch::tensor(cols, torch::kLong).to(torch::kFloat).unsqueeze(1) * inv_freq},
                          1);  // [N, d/2]

  // Qwen2.5-VL: reorder merge units window by window; window blocks attend inside their window
  const int64_t unit = m * m, M = N / unit;
  torch::Tensor window_mask, window_index;
  const bool windowed = vis->v25 && v.window_size > 0;
  if (windowed) {
    const auto [order, lengths] = window_order(grid_rows, grid_cols, v.window_size / (P * m));
    window_index = torch::tensor(order, torch::kLong);
    h = h.view({B, M, unit, E}).index_select(1, window_index).view({B, N, E});
    freqs = freqs.view({M, unit, dim}).index_select(0, window_index).view({N, dim});
    window_mask = torch::full({N, N}, -std::numeric_limits<float>::infinity());
    int64_t start = 0;
    for (int64_t len : lengths) {
      window_mask.narrow(0, start * unit, len * unit).narrow(1, start * unit, len * unit).zero_();
      start += len;
    }
  }
  auto emb = torch::cat({freqs, freqs}, 1);
  auto cos = emb.cos(), sin = emb.sin();
  const std::vector<int64_t>& full = v.fullatt_block_indexes;
  for (size_t i = 0; i < vis->blocks->size(); ++i) {
    const bool global =
        !windowed || std::find(full.begin(), full.end(), static_cast<int64_t>(i)) != full.end();
    const auto block = vis->blocks->ptr<VisionBlockImpl>(i);
    const torch::Tensor block_mask = global ? torch::Tensor() : window_mask;
    h = checkpointing_now()
            ? checkpointed([block, cos, sin, block_mask](
                               const torch::Tensor& x) { return block->forward(x, cos, sin, block_mask); },
                           h, *block)
            : block->forward(h, cos, sin, block_mask);
    if (hook_) hook_("vision.block." + std::to_string(i), h);
  }
  auto merged = vis->merger(h);  // [B, M, D]
  if (windowed) merged = merged.index_select(1, torch::argsort(window_index));
  if (hook_) hook_("vision.merger", merged);
  return ImageTokens::uniform(merged, grid_rows, grid_cols);
}

namespace {

// M-RoPE cos/sin [L, d] for positions [3, L] (t, h, w): frequency j reads the position of its section.
std::pair<torch::Tensor, torch::Tensor> mrope(const torch::Tensor& positions, const torch::Tensor& inv_freq,
                                              const torch::Tensor& source) {
  auto pos = positions.index_select(0, source).t().to(torch::kFloat);  // [L, d/2]
  auto freqs = pos * inv_freq;
  auto emb = torch::cat({freqs, freqs}, 1);
  return {emb.cos(), emb.sin()};
}

// Positions [3, P + I + T] of [prefix, image, text] for an image of rows x cols merged tokens followed by
// I - rows * cols padding slots (masked out of attention; they take the last image position), and the rope
// delta: the next position after the sequence minus its length.
std::pair<torch::Tensor, int64_t> sequence_positions(int64_t P, int64_t rows, int64_t cols, int64_t I,
                                                     int64_t T) {
  const int64_t L = P + I + T, real = rows * cols;
  auto pos = torch::empty({3, L}, torch::kLong);
  auto a = pos.accessor<int64_t, 2>();
  for (int64_t l = 0; l < P; ++l) a[0][l] = a[1][l] = a[2][l] = l;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t l = P + i * cols + j;
      a[0][l] = P;
      a[1][l] = P + i;
      a[2][l] = P + j;
    }
  for (int64_t l = P + real; l < P + I; ++l)
    for (int64_t c = 0; c < 3; ++c) a[c][l] = real > 0 ? a[c][P + real - 1] : P;
  const int64_t text_start = real > 0 ? P + std::max(rows, cols) : P;
  for (int64_t k = 0; k < T; ++k) a[0][P + I + k] = a[1][P + I + k] = a[2][P + I + k] = text_start + k;
  return {pos, text_start + T - L};
}

torch::Tensor causal_mask(int64_t L) {
  return torch::full({L, L}, -std::numeric_limits<float>::infinity()).triu(1);
}

}  // namespace

torch::Tensor QwenVLModel::run_sequence(const ImageTokens& image, const torch::Tensor& tokens,
                                        KvCache* cache) {
  const int64_t B = tokens.size(0), P = static_cast<int64_t>(image_prefix_.size());
  const int64_t I = image.embeds.size(1), T = tokens.size(1), L = P + I + T;
  COORDEXP_CHECK_ARG(image.batch() == B, "image tokens", std::to_string(B) + " rows",
                     std::to_string(image.batch()));
  auto& text = impl_->text;
  auto prefix = torch::tensor(image_prefix_, torch::kLong).unsqueeze(0).expand({B, P});
  auto x = torch::cat({text->lookup(prefix), image.embeds, text->lookup(tokens)}, 1);
  if (hook_) hook_("lm.embed", x);
  // One image size: one set of positions and the causal mask. Mixed sizes: positions per row [B, 1, L, d]
  // and the image padding masked out as keys.
  torch::Tensor cos, sin, mask = causal_mask(L);
  std::vector<int64_t> deltas(B);
  const torch::Tensor image_mask = image.key_mask();
  if (!image_mask.defined()) {
    const auto [pos, delta] = sequence_positions(P, image.rows[0], image.cols[0], I, T);
    std::tie(cos, sin) = mrope(pos, impl_->text_inv_freq, impl_->mrope_source);
    deltas.assign(B, delta);
  } else {
    std::vector<torch::Tensor> cs, ss;
    for (int64_t b = 0; b < B; ++b) {
      const auto [pos, delta] = sequence_positions(P, image.rows[b], image.cols[b], I, T);
      const auto [c, s] = mrope(pos, impl_->text_inv_freq, impl_->mrope_source);
      cs.push_back(c.unsqueeze(0));
      ss.push_back(s.unsqueeze(0));
      deltas[b] = delta;
    }
    cos = torch::stack(cs), sin = torch::stack(ss);  // [B, 1, L, d]
    auto keys = torch::zeros({B, 1, 1, L}, image_mask.options());
    keys.narrow(3, P, I).copy_(image_mask);
    mask = mask + keys;  // [B, 1, L, L]
    if (cache) cache->key_mask = keys;
  }
  const size_t layers = text->layers->size();
  if (cache) {
    cache->keys.assign(layers, torch::Tensor());
    cache->values.assign(layers, torch::Tensor());
    cache->length = L;
    cache->position_offsets = deltas;
    if (!image_mask.defined()) cache->key_mask = torch::Tensor();
  }
  for (size_t l = 0; l < layers; ++l) {
    const auto layer = text->layers->ptr<DecoderLayerImpl>(l);
    if (!cache && checkpointing_now())
      x = checkpointed(
          [layer, cos, sin, mask](const torch::Tensor& h) {
            return layer->forward(h, cos, sin, mask, nullptr, nullptr);
          },
          x, *layer);
    else
      x = layer->forward(x, cos, sin, mask, cache ? &cache->keys[l] : nullptr,
                         cache ? &cache->values[l] : nullptr);
    if (hook_) hook_("lm.layer." + std::to_string(l), x);
  }
  return x;
}

torch::Tensor QwenVLModel::forward_all(const ImageTokens& image, const torch::Tensor& tokens) {
  auto x = impl_->text->norm(run_sequence(image, tokens, nullptr));
  if (hook_) hook_("lm.norm", x);
  return x;
}

torch::Tensor QwenVLModel::forward_text(const ImageTokens& image, const torch::Tensor& tokens) {
  const int64_t skip = static_cast<int64_t>(image_prefix_.size()) + image.embeds.size(1);
  return forward_all(image, tokens).narrow(1, skip, tokens.size(1));
}

torch::Tensor QwenVLModel::prefill(const ImageTokens& image, const torch::Tensor& prompt, KvCache& cache) {
  return impl_->text->norm(run_sequence(image, prompt, &cache).select(1, -1));
}

torch::Tensor QwenVLModel::decode_step(const torch::Tensor& tokens, KvCache& cache) {
  auto& text = impl_->text;
  const int64_t B = tokens.size(0);
  auto x = text->lookup(tokens.unsqueeze(1));  // [B, 1, D]
  torch::Tensor cos, sin, mask;
  const auto& off = cache.position_offsets;
  if (std::all_of(off.begin(), off.end(), [&](int64_t o) { return o == off.front(); })) {
    auto pos = torch::full({3, 1}, cache.length + (off.empty() ? 0 : off.front()), torch::kLong);
    std::tie(cos, sin) = mrope(pos, impl_->text_inv_freq, impl_->mrope_source);
  } else {  // rows at different positions: [B, 1, 1, d]
    auto pos = (torch::tensor(off, torch::kLong) + cache.length).view({1, B}).expand({3, B});
    std::tie(cos, sin) = mrope(pos.contiguous(), impl_->text_inv_freq, impl_->mrope_source);
    cos = cos.view({B, 1, 1, -1}), sin = sin.view({B, 1, 1, -1});
  }
  if (cache.key_mask.defined()) {
    cache.key_mask = torch::cat({cache.key_mask, torch::zeros({B, 1, 1, 1}, cache.key_mask.options())}, 3);
    mask = cache.key_mask;  // [B, 1, 1, length + 1]
  }
  for (size_t l = 0; l < text->layers->size(); ++l)
    x = text->layers[l]->as<DecoderLayerImpl>()->forward(x, cos, sin, mask, &cache.keys[l], &cache.values[l]);
  cache.length += 1;
  return text->norm(x.select(1, 0));
}

TokenTable QwenVLModel::lm_head() {
  if (impl_->lm_head) return {impl_->lm_head->weight, impl_->lm_head_added, {}};
  return {impl_->text->embed, impl_->text->embed_added, {}};  // tied to the embedding
}

TokenTable QwenVLModel::input_table() {
  return {impl_->text->embed, impl_->text->embed_added, {}, impl_->text->sparse_grad};
}

void QwenVLModel::sparse_input_gradient(bool on) {
  impl_->text->sparse_grad = on;
}

void QwenVLModel::hold_added_rows_apart(int64_t first_new) {
  const int64_t V = config_.text.vocab_size;
  COORDEXP_CHECK_ARG(first_new > 0 && first_new < V && !impl_->text->embed_added.defined(), "first_new",
                     "a row inside the vocabulary of a model whose rows are not held apart yet",
                     std::to_string(first_new));
  torch::NoGradGuard no_grad;
  auto split = [&](torch::nn::Module& owner, torch::Tensor& weight) {
    auto added = owner.register_parameter("added_rows", weight.narrow(0, first_new, V - first_new).clone());
    weight.set_data(weight.narrow(0, 0, first_new).clone());
    weight.set_requires_grad(false);
    return added;
  };
  impl_->text->embed_added = split(*impl_->text->embed_tokens, impl_->text->embed);
  if (impl_->lm_head) impl_->lm_head_added = split(*impl_->lm_head, impl_->lm_head->weight);
}

std::vector<QwenVLModel::HfTensor> QwenVLModel::hf_tensors(bool merge_adapters) {
  std::vector<HfTensor> out;
  const auto modules = named_modules("", false);
  for (const auto& p : named_parameters()) {
    const std::string& name = p.key();
    const auto ends = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".added_rows") || ends(".lora_A.weight") || ends(".lora_B.weight") ||
        ends(".lora_magnitude_vector"))
      continue;  // joined to their tables / folded below, or left to the adapter file
    const torch::Tensor weight = p.value().detach();
    torch::Tensor added;  // rows held apart, joined back below
    if (name == "model.embed_tokens.weight" && impl_->text->embed_added.defined())
      added = impl_->text->embed_added.detach();
    if (name == "lm_head.weight" && impl_->lm_head_added.defined()) added = impl_->lm_head_added.detach();
    const LinearAdapter* adapter = nullptr;
    if (merge_adapters && ends(".weight"))
      if (const auto* host = modules.find(name.substr(0, name.size() - 7)))
        adapter = adapters_.find(host->get());
    std::vector<int64_t> shape = weight.sizes().vec();
    if (added.defined()) shape[0] += added.size(0);
    out.push_back(
        {name, shape, [weight, added, adapter] {
           torch::NoGradGuard no_grad;
           torch::Tensor t = added.defined() ? torch::cat({weight.to(added.scalar_type()), added}) : weight;
           return adapter ? adapter->merged_weight(t) : t;
         }});
  }
  return out;
}

void QwenVLModel::resize_vocabulary(int64_t new_vocab_size) {
  const int64_t V = config_.text.vocab_size;
  if (new_vocab_size <= V) return;
  torch::NoGradGuard no_grad;
  auto grow = [&](torch::Tensor& w) {
    auto bigger = torch::zeros({new_vocab_size, w.size(1)}, w.options());
    bigger.narrow(0, 0, V).copy_(w);
    w.set_data(bigger);
  };
  grow(impl_->text->embed);
  if (impl_->lm_head) grow(impl_->lm_head->weight);
  config_.text.vocab_size = new_vocab_size;
}

std::vector<AdaptableLinear> QwenVLModel::adaptable_linears() {
  std::vector<AdaptableLinear> out;
  for (const auto& m : named_modules("", false))
    if (auto* dense = dynamic_cast<DenseImpl*>(m.value().get()); dense && m.key() != "lm_head")
      out.push_back({m.key(), dense, dense->weight, dense->bias});
  return out;
}

void QwenVLModel::set_trainable(bool lm, bool projector, bool vision) {
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    const bool is_merger = name.rfind("visual.merger.", 0) == 0;
    const bool is_vision = name.rfind("visual.", 0) == 0 && !is_merger;
    p.value().set_requires_grad(is_merger ? projector : is_vision ? vision : lm);
  }
}

}  // namespace coordexp
