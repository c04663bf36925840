// The tiny built-in V-LLM (see tiny_vlm.hpp). Attention is prefix-LM: image tokens see each other both
// ways, text tokens see every earlier position; decoding appends to a per-layer KV cache.
#include "coordexp/model/tiny_vlm.hpp"

#include <cmath>

#include "coordexp/model/grad_checkpoint.hpp"
#include "coordexp/text/object_codec.hpp"
#include "coordexp/util/error.hpp"
#include "layers.hpp"

namespace coordexp {
namespace {

namespace nn = torch::nn;

using layers::RmsNorm;

// Rotary embedding of x [B, H, L, hd] at absolute positions [L] (rotate-half convention).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& positions, double theta) {
  const int64_t hd = x.size(-1), half = hd / 2;
  auto inv_freq = torch::pow(theta, -torch::arange(0, half, x.options()) * 2.0 / hd);  // [hd/2]
  auto freqs = positions.to(x.dtype()).unsqueeze(1) * inv_freq.unsqueeze(0);           // [L, hd/2]
  auto cos = freqs.cos(), sin = freqs.sin();
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
}

struct DecoderBlockImpl : nn::Module {
  DecoderBlockImpl(const TinyVlmConfig& c) : heads(c.heads), theta(c.rope_theta) {
    attn_norm = register_module("attn_norm", RmsNorm(c.width, c.norm_eps));
    mlp_norm = register_module("mlp_norm", RmsNorm(c.width, c.norm_eps));
    qkv = register_module("qkv", nn::Linear(nn::LinearOptions(c.width, 3 * c.width).bias(false)));
    out = register_module("out", nn::Linear(nn::LinearOptions(c.width, c.width).bias(false)));
    gate_up = register_module("gate_up", nn::Linear(nn::LinearOptions(c.width, 2 * c.ffn_width).bias(false)));
    down = register_module("down", nn::Linear(nn::LinearOptions(c.ffn_width, c.width).bias(false)));
  }

  // x [B, L, D] at positions [L]; cache_k/v hold earlier positions (may be undefined) and are replaced by
  // the concatenation when `cache` is set.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, const torch::Tensor& mask,
                        torch::Tensor* cache_k, torch::Tensor* cache_v) {
    const int64_t B = x.size(0), L = x.size(1), D = x.size(2), hd = D / heads;
    auto h = attn_norm(x);
    auto parts = lin(qkv, h).view({B, L, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, hd]
    auto q = apply_rope(parts[0], positions, theta), k = apply_rope(parts[1], positions, theta), v = parts[2];
    if (cache_k) {
      if (cache_k->defined()) {
        k = torch::cat({*cache_k, k}, 2);
        v = torch::cat({*cache_v, v}, 2);
      }
      *cache_k = k;
      *cache_v = v;
    }
    if (record_head0) {  // head 0's attention log-probabilities over every key (grounding supervision)
      auto q0 = q.select(1, 0), k0 = k.select(1, 0);
      auto s = torch::matmul(q0, k0.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
      const auto m0 = mask.defined() && mask.dim() == 4 ? mask.select(1, 0) : mask;  // per-head masks: head 0
      recorded = torch::log_softmax(m0.defined() ? s + m0 : s, -1);                  // [B, L, L_keys]
    }
    auto a = layers::attend(q, k, v, mask).transpose(1, 2).reshape({B, L, D});
    auto y = x + lin(out, a);
    auto gu = lin(gate_up, mlp_norm(y)).chunk(2, -1);
    return y + lin(down, torch::silu(gu[0]) * gu[1]);
  }
  // Through the owning model's adapter for this layer when it has one (adapter.hpp).
  torch::Tensor lin(nn::Linear& l, const torch::Tensor& x) const {
    return owner ? owner->linear(*l, x, l->weight, l->bias) : l(x);
  }

  const VisionLanguageModel* owner = nullptr;
  int64_t heads;
  double theta;
  bool record_head0 = false;
  torch::Tensor recorded;
  RmsNorm attn_norm{nullptr}, mlp_norm{nullptr};
  nn::Linear qkv{nullptr}, out{nullptr}, gate_up{nullptr}, down{nullptr};
};
TORCH_MODULE(DecoderBlock);

// Residual 3x3 convolution at one stem resolution: x + conv(GELU(GroupNorm(x))). Widens the stem's
// receptive field (shape outlines span several patches) at a fixed token count.
struct StemBlockImpl : nn::Module {
  explicit StemBlockImpl(int64_t channels) {
    norm = register_module("norm", nn::GroupNorm(nn::GroupNormOptions(8, channels)));
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return x + conv(torch::gelu(norm(x))); }
  nn::GroupNorm norm{nullptr};
  nn::Conv2d conv{nullptr};
};
TORCH_MODULE(StemBlock);

struct VisionBlockImpl : nn::Module {
  VisionBlockImpl(int64_t width, int64_t heads) : heads(heads) {
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width})));
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width})));
    qkv = register_module("qkv", nn::Linear(width, 3 * width));
    out = register_module("out", nn::Linear(width, width));
    fc1 = register_module("fc1", nn::Linear(width, 4 * width));
    fc2 = register_module("fc2", nn::Linear(4 * width, width));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), hd = C / heads;
    auto parts = lin(qkv, norm1(x)).view({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    auto a = layers::attend(parts[0], parts[1], parts[2], torch::Tensor()).transpose(1, 2).reshape({B, N, C});
    auto y = x + lin(out, a);
    return y + lin(fc2, torch::gelu(lin(fc1, norm2(y))));
  }
  torch::Tensor lin(nn::Linear& l, const torch::Tensor& x) const {
    return owner ? owner->linear(*l, x, l->weight, l->bias) : l(x);
  }
  const VisionLanguageModel* owner = nullptr;
  int64_t heads;
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  nn::Linear qkv{nullptr}, out{nullptr}, fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(VisionBlock);

}  // namespace

class TinyVlmImpl : public VisionLanguageModel {
 public:
  explicit TinyVlmImpl(const TinyVlmConfig& c) : config_(c) {
    COORDEXP_CHECK_ARG(c.vocab_size > 0, "model.vocab_size", "> 0 (set from the tokenizer)",
                       std::to_string(c.vocab_size));
    COORDEXP_CHECK_ARG(c.image_size % c.patch_size == 0, "model.image_size", "a multiple of patch_size",
                       std::to_string(c.image_size));
    COORDEXP_CHECK_ARG(c.width % c.heads == 0 && (c.width / c.heads) % 2 == 0, "model.width",
                       "divisible by heads into even head widths", std::to_string(c.width));
    COORDEXP_CHECK_ARG(c.vision_width % c.vision_heads == 0, "model.vision_width",
                       "divisible by vision_heads", std::to_string(c.vision_width));
    const int64_t grid = c.image_size / c.patch_size;
    if (c.conv_stem) {
      // Early convolutions (two stride-2 3x3 convs, then a patch_size/4 patchify): local detail and sub-patch
      // position reach the tokens at a small cost, and the ViT converges faster.
      COORDEXP_CHECK_ARG(c.stem_blocks >= 0 && c.stem_blocks <= 8, "model.stem_blocks", "0..8",
                         std::to_string(c.stem_blocks));
      COORDEXP_CHECK_ARG(c.patch_size % 4 == 0, "model.patch_size", "a multiple of 4 with conv_stem",
                         std::to_string(c.patch_size));
      const int64_t w1 = std::max<int64_t>(16, c.vision_width / 4),
                    w2 = std::max<int64_t>(32, c.vision_width / 2);
      nn::Sequential stem;
      if (c.stem_blocks == 0) {
        stem->push_back(nn::Conv2d(nn::Conv2dOptions(3, w1, 3).stride(2).padding(1)));
        stem->push_back(nn::GELU());
        stem->push_back(nn::Conv2d(nn::Conv2dOptions(w1, w2, 3).stride(2).padding(1)));
        stem->push_back(nn::GELU());
        stem->push_back(
            nn::Conv2d(nn::Conv2dOptions(w2, c.vision_width, c.patch_size / 4).stride(c.patch_size / 4)));
      } else {
        // A convolutional pyramid: log2(patch_size) stride-2 3x3 convolutions (widths 32, 64, ... up to
        // vision_width), each followed by stem_blocks residual blocks. A token's receptive field then spans
        // several patches, so an object's outline (its shape) is in its own token, not spread over four.
        COORDEXP_CHECK_ARG((c.patch_size & (c.patch_size - 1)) == 0, "model.patch_size",
                           "a power of two with stem_blocks > 0", std::to_string(c.patch_size));
        int64_t in = 3;
        for (int64_t stride = 2, width = 32; stride <= c.patch_size; stride *= 2, width *= 2) {
          const int64_t out = stride == c.patch_size ? c.vision_width : std::min(width, c.vision_width);
          stem->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
          stem->push_back(nn::GELU());
          for (int64_t i = 0; i < c.stem_blocks; ++i) stem->push_back(StemBlock(out));
          in = out;
        }
      }
      stem_ = register_module("stem", stem);
    } else {
      stem_ = register_module(
          "stem", nn::Sequential(
                      nn::Conv2d(nn::Conv2dOptions(3, c.vision_width, c.patch_size).stride(c.patch_size))));
    }
    // fixed 2D sin-cos position code (rows in the first half of the width, columns in the second) plus a
    // learned correction starting at zero: the decoder has patch positions from the first step
    vision_pos_fixed_ = register_buffer("vision_pos_fixed", sincos_2d(grid, c.vision_width));
    vision_pos_ = register_parameter("vision_pos", torch::zeros({1, grid * grid, c.vision_width}));
    for (int64_t i = 0; i < c.vision_layers; ++i)
      vision_blocks_.push_back(
          register_module("vision_block" + std::to_string(i), VisionBlock(c.vision_width, c.vision_heads)));
    vision_norm_ = register_module("vision_norm", nn::LayerNorm(nn::LayerNormOptions({c.vision_width})));
    proj1_ = register_module("proj1", nn::Linear(c.vision_width, c.width));
    proj2_ = register_module("proj2", nn::Linear(c.width, c.width));
    embed_ = register_module("embed", nn::Embedding(c.vocab_size, c.width));
    for (int64_t i = 0; i < c.layers; ++i)
      blocks_.push_back(register_module("block" + std::to_string(i), DecoderBlock(c)));
    if (c.scan_pointer) {
      COORDEXP_CHECK_ARG(c.coord_first_id >= 0 && c.num_coord_bins >= 2, "model.scan_pointer",
                         "the coordinate token range (coord_first_id, num_coord_bins)", "none");
      // [layers, heads, (2G - 1) * 2G]: dy in [-(G-1), G-1], dx in [-(G-1), G] (the first pointer is col -1)
      pointer_bias_ =
          register_parameter("pointer_bias", torch::zeros({c.layers, c.heads, (2 * grid - 1) * 2 * grid}));
      // and each image token's own score per layer and head (a learned linear function of its embedding,
      // zero at the start): where an object is, independent of the query
      key_score_ = register_module("key_score",
                                   nn::Linear(nn::LinearOptions(c.width, c.layers * c.heads).bias(false)));
    }
    final_norm_ = register_module("final_norm", RmsNorm(c.width, c.norm_eps));
    lm_head_ = register_module("lm_head", nn::Linear(nn::LinearOptions(c.width, c.vocab_size).bias(false)));
    init_weights();
    for (auto& b : vision_blocks_) b->owner = this;
    for (auto& b : blocks_) b->owner = this;
  }

  // The blocks' linear layers and the projector: "block0.qkv", "vision_block0.fc1", "proj1", ...
  std::vector<AdaptableLinear> adaptable_linears() override {
    std::vector<AdaptableLinear> out;
    for (const auto& m : named_modules("", false)) {
      auto* l = dynamic_cast<nn::LinearImpl*>(m.value().get());
      if (!l || m.key() == "lm_head" || m.key() == "key_score") continue;
      out.push_back({m.key(), l, l->weight, l->bias});
    }
    return out;
  }

  ImageTokens encode_images(const torch::Tensor& images) override {
    const int64_t G = config_.image_size / config_.patch_size;
    COORDEXP_CHECK_ARG(
        images.dim() == 4 && images.size(2) == config_.image_size && images.size(3) == config_.image_size,
        "images", "[B, 3, S, S] with S = model.image_size = " + std::to_string(config_.image_size),
        c10::str(images.sizes()));
    // (x - 0.5) / 0.25 per channel: the tiny model's fixed normalisation
    auto x = stem_->forward((images - 0.5) / 0.25).flatten(2).transpose(1, 2) + vision_pos_fixed_ +
             vision_pos_;  // [B, I, Cv]
    for (auto& b : vision_blocks_)
      x = checkpointing_now()
              ? checkpointed([b = b.ptr()](const torch::Tensor& h) { return b->forward(h); }, x, *b)
              : b(x);
    auto h = linear(*proj1_, vision_norm_(x), proj1_->weight, proj1_->bias);
    h = linear(*proj2_, torch::gelu(h), proj2_->weight, proj2_->bias);
    return ImageTokens::uniform(h, G, G);  // [B, I, D]
  }

  torch::Tensor forward_text(const ImageTokens& image, const torch::Tensor& tokens) override {
    const torch::Tensor& image_embeds = unpadded(image);
    const int64_t I = image_embeds.size(1), T = tokens.size(1);
    auto x = torch::cat({image_embeds, embed_(tokens)}, 1);  // [B, I+T, D]
    auto positions = sequence_positions(I, T, x);
    auto mask = prefix_mask(I, I + T, 0, x);
    std::vector<torch::Tensor> state;
    const ScanBias scan = scan_bias(image_embeds, tokens, state);
    for (size_t l = 0; l < blocks_.size(); ++l) {
      const auto block = blocks_[l].ptr();
      const auto block_mask = with_scan_bias(mask, scan, l, I);
      // the grounding block records its attention for the loss: it keeps its activations
      if (checkpointing_now() && !block->record_head0)
        x = checkpointed(
            [block, positions, block_mask](const torch::Tensor& h) {
              return block->forward(h, positions, block_mask, nullptr, nullptr);
            },
            x, *block);
      else
        x = block->forward(x, positions, block_mask, nullptr, nullptr);
    }
    if (grounding_block_) {
      image_attention_ = grounding_block_->recorded.narrow(1, I, T).narrow(2, 0, I);  // [B, T, I]
      grounding_block_->recorded = torch::Tensor();
    }
    return final_norm_(x.narrow(1, I, T));  // [B, T, D]
  }

  torch::Tensor prefill(const ImageTokens& image, const torch::Tensor& prompt, KvCache& cache) override {
    const torch::Tensor& image_embeds = unpadded(image);
    const int64_t I = image_embeds.size(1), T = prompt.size(1);
    auto x = torch::cat({image_embeds, embed_(prompt)}, 1);
    auto positions = sequence_positions(I, T, x);
    // every row's text starts at the same position (1 with a shared image position, else I)
    cache.position_offsets.assign(prompt.size(0), config_.shared_image_position ? 1 - I : 0);
    cache.keys.assign(blocks_.size(), torch::Tensor());
    cache.values.assign(blocks_.size(), torch::Tensor());
    auto mask = prefix_mask(I, I + T, 0, x);
    cache.model_state.clear();
    const ScanBias scan = scan_bias(image_embeds, prompt, cache.model_state);
    for (size_t l = 0; l < blocks_.size(); ++l)
      x = blocks_[l](x, positions, with_scan_bias(mask, scan, l, I), &cache.keys[l], &cache.values[l]);
    cache.length = I + T;
    return final_norm_(x.select(1, I + T - 1));  // [B, D]
  }

  torch::Tensor decode_step(const torch::Tensor& tokens, KvCache& cache) override {
    auto x = embed_(tokens.unsqueeze(1));  // [B, 1, D]
    const int64_t offset = cache.position_offsets.empty() ? 0 : cache.position_offsets.front();
    auto positions = torch::full({1}, cache.length + offset,
                                 torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    const ScanBias scan = scan_bias(torch::Tensor(), tokens.unsqueeze(1), cache.model_state);
    // sees every cached position; with the scan pointer, biased towards image tokens
    const auto no_mask =
        scan.pointer.defined() ? torch::zeros({1, cache.length + 1}, x.options()) : torch::Tensor();
    for (size_t l = 0; l < blocks_.size(); ++l)
      x = blocks_[l](x, positions, with_scan_bias(no_mask, scan, l, 0), &cache.keys[l], &cache.values[l]);
    cache.length += 1;
    return final_norm_(x.select(1, 0));
  }

  TokenTable lm_head() override { return {lm_head_->weight, {}, {}}; }
  TokenTable input_table() override { return {embed_->weight, {}, {}}; }
  void record_image_attention(bool on) override {
    for (auto& b : blocks_) b->record_head0 = false;
    grounding_block_ = nullptr;
    image_attention_ = torch::Tensor();
    if (!on) return;
    grounding_block_ = blocks_[std::min<size_t>(1, blocks_.size() - 1)];
    grounding_block_->record_head0 = true;
  }
  torch::Tensor image_attention() override { return image_attention_; }
  int64_t vocab_size() const override { return config_.vocab_size; }
  bool is_image_encoder_parameter(const std::string& name) const override {
    for (const char* part : {"stem.", "vision_pos", "vision_block", "vision_norm.", "proj1.", "proj2."})
      if (name.rfind(part, 0) == 0) return true;
    return false;
  }

 private:
  // The tiny model sees every image at model.image_size: its batches are never padded.
  static const torch::Tensor& unpadded(const ImageTokens& image) {
    COORDEXP_CHECK_ARG(!image.padded(), "image tokens",
                       "images of one size (the tiny model resizes every image)", "a padded batch");
    return image.embeds;
  }

  struct ScanBias {
    torch::Tensor pointer;    // [B, T]: pointer cell + 1 of each text query (0 before the first box)
    torch::Tensor offsets;    // [I + 1, I]: row of pointer_bias_ for each pointer value and image key
    torch::Tensor key_score;  // [B, layers, heads, I]: the image tokens' own scores
  };

  // The scan-pointer terms for text tokens [B, T] (undefined without the scan pointer). `state` carries them
  // across calls: [0] = [B, 6] long on the CPU (coordinates seen, their last four bins, the pointer cell
  // row * G + col, -1 before the first box), [1] = the key scores, computed from `image_embeds` when it is
  // defined (prefill, teacher forcing) and reused by decoding steps.
  ScanBias scan_bias(const torch::Tensor& image_embeds, const torch::Tensor& tokens,
                     std::vector<torch::Tensor>& state) const {
    if (!config_.scan_pointer) return {};
    const int64_t B = tokens.size(0), T = tokens.size(1), G = config_.image_size / config_.patch_size;
    const int64_t I = G * G, first = config_.coord_first_id, K = config_.num_coord_bins;
    if (state.empty()) {
      COORDEXP_CHECK_ARG(image_embeds.defined(), "scan pointer state", "a prefill before decoding", "none");
      state.push_back(torch::zeros({B, 6}, torch::kLong));
      state[0].select(1, 5).fill_(-1);
      // [B, I, layers * heads] -> [B, layers, heads, I]
      state.push_back(torch::matmul(image_embeds, key_score_->weight.t())
                          .view({B, I, config_.layers, config_.heads})
                          .permute({0, 2, 3, 1}));
    }
    COORDEXP_CHECK_ARG(state[0].size(0) == B, "scan pointer state", std::to_string(B) + " rows",
                       std::to_string(state[0].size(0)));
    auto ids = tokens.to(torch::kCPU, torch::kLong).contiguous();
    auto pointer = torch::empty({B, T}, torch::kLong);
    auto st = state[0].accessor<int64_t, 2>();
    auto id = ids.accessor<int64_t, 2>();
    auto pt = pointer.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        const int64_t k = id[b][t] - first;
        if (k >= 0 && k < K) {
          const int64_t slot = st[b][0] % 4;
          st[b][1 + slot] = k;
          st[b][0] += 1;
          if (slot == 3) {
            const auto cell = center_cell({static_cast<int>(st[b][1]), static_cast<int>(st[b][2]),
                                           static_cast<int>(st[b][3]), static_cast<int>(st[b][4])},
                                          static_cast<int>(K), static_cast<int>(G));
            st[b][5] = cell[0] * G + cell[1];
          }
        }
        pt[b][t] = st[b][5];
      }
    }
    // pointer p = (pr, pc) with p = -1 -> (0, -1); key cell j = (jr, jc):
    // offset row = (jr - pr + G - 1) * 2G + (jc - pc + G - 1), tabulated for the I + 1 pointer values
    auto p = torch::arange(-1, I, torch::kLong);
    auto pr = torch::where(p < 0, torch::zeros_like(p), torch::div(p, G, "floor"));
    auto pc = torch::where(p < 0, torch::full_like(p, -1), p.remainder(G));
    auto j = torch::arange(I, torch::kLong);
    auto jr = torch::div(j, G, "floor"), jc = j.remainder(G);
    auto offsets = (jr.view({1, I}) - pr.unsqueeze(1) + (G - 1)) * (2 * G) +
                   (jc.view({1, I}) - pc.unsqueeze(1) + (G - 1));
    return {(pointer + 1).to(tokens.device()), offsets.to(tokens.device()), state[1]};
  }

  // The additive mask of block l with the scan-pointer terms added where text queries (the last T of the
  // mask's rows; all rows of a decoding step) meet image keys (the first I columns): [B, H, Lq, Lk].
  // Returns `mask` unchanged without the scan pointer.
  torch::Tensor with_scan_bias(const torch::Tensor& mask, const ScanBias& scan, size_t l,
                               int64_t image_rows) const {
    if (!scan.pointer.defined()) return mask;
    const int64_t B = scan.pointer.size(0), T = scan.pointer.size(1), I = scan.offsets.size(1),
                  H = config_.heads;
    // the table is stored divided by kPointerBiasScale: Adam moves every entry by about lr per step, and
    // a bias must travel several nats within a few hundred steps to pick one cell over its neighbours
    constexpr double kPointerBiasScale = 10.0;
    // the bias rows of every pointer value, [I + 1, H * I], then one row per text query: an embedding
    // lookup, whose backward sums whole rows (a gather of [H, B*T*I] table entries summed them one by one)
    auto rows =
        pointer_bias_[static_cast<int64_t>(l)].index_select(1, scan.offsets.flatten()).view({H, I + 1, I});
    auto bias =
        torch::embedding(rows.permute({1, 0, 2}).reshape({I + 1, H * I}), scan.pointer) * kPointerBiasScale;
    bias = bias.view({B, T, H, I}).permute({0, 2, 1, 3}) +
           scan.key_score.select(1, static_cast<int64_t>(l)).unsqueeze(2) * kPointerBiasScale;
    const int64_t Lk = mask.size(-1);
    return mask + torch::constant_pad_nd(bias, {0, Lk - I, image_rows, 0});
  }

  // Rotary positions [I + T] of image tokens then text tokens (see TinyVlmConfig::shared_image_position).
  torch::Tensor sequence_positions(int64_t I, int64_t T, const torch::Tensor& like) const {
    const auto opts = torch::TensorOptions().dtype(torch::kLong).device(like.device());
    if (!config_.shared_image_position) return torch::arange(I + T, opts);
    return torch::cat({torch::zeros({I}, opts), torch::arange(1, T + 1, opts)});
  }

  // Additive mask [L, L]: position i sees j if j <= i, or if both are image tokens (j, i < I).
  static torch::Tensor prefix_mask(int64_t I, int64_t L, int64_t, const torch::Tensor& like) {
    auto idx = torch::arange(L, torch::TensorOptions().dtype(torch::kLong).device(like.device()));
    auto allowed = (idx.unsqueeze(0) <= idx.unsqueeze(1)) | ((idx.unsqueeze(0) < I) & (idx.unsqueeze(1) < I));
    return torch::zeros({L, L}, like.options()).masked_fill(allowed.logical_not(), -1e9);
  }

  // [1, grid*grid, width]: sin/cos of the patch row over width/2 channels, of the column over the rest.
  static torch::Tensor sincos_2d(int64_t grid, int64_t width) {
    const int64_t quarter = width / 4;
    auto omega =
        torch::pow(10000.0, -torch::arange(quarter, torch::kFloat) / std::max<int64_t>(1, quarter));  // [W/4]
    auto pos = torch::arange(grid, torch::kFloat);
    auto code = [&](const torch::Tensor& p) {  // [G] -> [G, W/2]
      auto a = p.unsqueeze(1) * omega.unsqueeze(0);
      return torch::cat({a.sin(), a.cos()}, 1);
    };
    auto rows = code(pos).unsqueeze(1).expand({grid, grid, 2 * quarter});
    auto cols = code(pos).unsqueeze(0).expand({grid, grid, 2 * quarter});
    auto out = torch::zeros({grid, grid, width});
    out.narrow(2, 0, 2 * quarter).copy_(rows);
    out.narrow(2, 2 * quarter, 2 * quarter).copy_(cols);
    return out.reshape({1, grid * grid, width});
  }

  // Rows k of a [V, D] table for the coordinate tokens: a random projection of smooth features of
  // phi(k) = k / (K - 1) (low-frequency sines and cosines), scaled to the table's init scale.
  void smooth_coordinate_rows(torch::Tensor table) {
    const int64_t K = config_.num_coord_bins, first = config_.coord_first_id, D = table.size(1);
    if (first < 0 || K < 2 || first + K > table.size(0)) return;
    const int64_t F = 8;
    auto phi = torch::arange(K, torch::kFloat) / static_cast<double>(K - 1);
    auto freqs = torch::arange(1, F + 1, torch::kFloat) * M_PI;
    auto a = phi.unsqueeze(1) * freqs.unsqueeze(0);                                         // [K, F]
    auto features = torch::cat({a.sin(), a.cos()}, 1) / std::sqrt(static_cast<double>(F));  // [K, 2F]
    auto projection = torch::randn({2 * F, D}) * 0.02;
    table.narrow(0, first, K)
        .copy_(torch::matmul(features, projection) * std::sqrt(static_cast<double>(2 * F)));
  }

  void init_weights() {
    torch::NoGradGuard ng;
    for (auto& p : named_parameters()) {
      const auto& name = p.key();
      auto& t = p.value();
      // The stem gets variance-preserving He init (normal, fan-in, ReLU gain) and zero biases. Both
      // N(0, 0.02) and LibTorch's default conv init (uniform, a = sqrt(5)) shrink the image signal through
      // the three convolutions far below the position code added to it (stem output RMS 0.04 against 0.7
      // for the code with the default). Probes (dev/probe_color.cpp, dev/probe_object.cpp): naming the
      // colour of one object on a grey background reaches CE 0.27 at 120 steps with He init and 0.66 with
      // the default (chance 2.08, lr 5e-4).
      if (name.rfind("stem", 0) == 0) {
        if (name.find("norm") != std::string::npos) continue;  // GroupNorm: weight 1, bias 0
        // a residual block's convolution starts at zero, so every block starts as the identity: He init
        // there doubles the signal's variance per block and the stem's output grows with stem_blocks
        // (4 levels x 2 blocks turned the vision warm-up's loss into NaN within 40 steps at lr 2e-3)
        if (name.find(".conv.") != std::string::npos) {
          t.zero_();
          continue;
        }
        if (t.dim() >= 2)
          torch::nn::init::kaiming_normal_(t, 0.0, torch::kFanIn, torch::kReLU);
        else
          t.zero_();
        continue;
      }
      if (name.find("norm") != std::string::npos || name == "vision_pos" || name == "pointer_bias") continue;
      if (name.rfind("key_score", 0) == 0) {  // starts at zero: the scan pointer begins as plain attention
        t.zero_();
        continue;
      }
      if (t.dim() >= 2)
        t.normal_(0, 0.02);
      else if (name.find("bias") != std::string::npos)
        t.zero_();
    }
    smooth_coordinate_rows(embed_->weight);
    smooth_coordinate_rows(lm_head_->weight);
    // residual output projections scaled down by depth (GPT-2)
    for (auto& b : blocks_) {
      b->out->weight.mul_(1.0 / std::sqrt(2.0 * config_.layers));
      b->down->weight.mul_(1.0 / std::sqrt(2.0 * config_.layers));
    }
  }

  TinyVlmConfig config_;
  nn::Sequential stem_{nullptr};
  torch::Tensor vision_pos_, vision_pos_fixed_;
  torch::Tensor pointer_bias_;             // [layers, heads, (2G - 1) * 2G] with scan_pointer
  nn::Linear key_score_{nullptr};          // width -> layers * heads with scan_pointer
  DecoderBlock grounding_block_{nullptr};  // the block whose head 0 is recorded (record_image_attention)
  torch::Tensor image_attention_;
  std::vector<VisionBlock> vision_blocks_;
  nn::LayerNorm vision_norm_{nullptr};
  nn::Linear proj1_{nullptr}, proj2_{nullptr};
  nn::Embedding embed_{nullptr};
  std::vector<DecoderBlock> blocks_;
  RmsNorm final_norm_{nullptr};
  nn::Linear lm_head_{nullptr};
};

std::shared_ptr<VisionLanguageModel> build_tiny_vlm(const TinyVlmConfig& config) {
  return std::make_shared<TinyVlmImpl>(config);
}

}  // namespace coordexp
