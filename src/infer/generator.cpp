// Grammar-constrained batched decoding (see generator.hpp). Each sequence carries a grammar state; the
// allowed-token mask of that state is added to the logits before choosing, so invalid outputs cannot occur.
#include "coordexp/infer/generator.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "coordexp/util/error.hpp"

namespace coordexp {

CoordDecode parse_coord_decode(const std::string& name) {
  if (name == "expectation") return CoordDecode::kExpectation;
  if (name == "argmax") return CoordDecode::kArgmax;
  throw_input_error("coord_decode", "one of expectation, argmax", "\"" + name + "\"");
}

ScoreMode parse_score_mode(const std::string& name) {
  if (name == "tokens") return ScoreMode::kTokens;
  if (name == "label") return ScoreMode::kLabel;
  if (name == "label_box") return ScoreMode::kLabelBox;
  if (name == "label_quality") return ScoreMode::kLabelQuality;
  throw_input_error("score", "one of tokens, label, label_box, label_quality", "\"" + name + "\"");
}

const char* score_mode_name(ScoreMode mode) {
  switch (mode) {
    case ScoreMode::kTokens:
      return "tokens";
    case ScoreMode::kLabel:
      return "label";
    case ScoreMode::kLabelBox:
      return "label_box";
    case ScoreMode::kLabelQuality:
      return "label_quality";
  }
  return "label";
}

double box_quality(const BoxXYXY& box, const std::array<double, 4>& mad) {
  const double w = std::max(box.x2 - box.x1, 1e-9), h = std::max(box.y2 - box.y1, 1e-9);
  return std::clamp(1.0 - (mad[0] + mad[2]) / w - (mad[1] + mad[3]) / h, 0.0, 1.0);
}

double object_score(ScoreMode mode, double label_log_prob, int label_tokens, double coord_log_prob,
                    double quality) {
  switch (mode) {
    case ScoreMode::kTokens:
      return std::exp((label_log_prob + coord_log_prob) / (label_tokens + 4));
    case ScoreMode::kLabel:
      return std::exp(label_log_prob);
    case ScoreMode::kLabelBox:
      return std::exp(label_log_prob + coord_log_prob / 4);
    case ScoreMode::kLabelQuality:
      return std::exp(label_log_prob) * quality;
  }
  return 0;
}

double alternative_score(ScoreMode mode, const GeneratedObject& o, const LabelAlternative& alt) {
  return object_score(mode, o.label_log_prob - o.last_desc_log_prob + alt.log_prob, o.label_tokens,
                      o.coord_log_prob, o.quality);
}

namespace {

// The n likeliest text tokens other than `chosen` in one row of probabilities [V] (text_mask [V], 1 on text
// tokens), most likely first; tokens of probability 0 are left out.
std::vector<LabelAlternative> top_alternatives(const torch::Tensor& probs, const torch::Tensor& text_mask,
                                               TokenId chosen, int64_t n) {
  std::vector<LabelAlternative> out;
  if (n <= 0) return out;
  auto [pv, iv] = (probs * text_mask).topk(std::min<int64_t>(probs.size(0), n + 1));
  for (int64_t j = 0; j < pv.size(0) && static_cast<int64_t>(out.size()) < n; ++j) {
    const TokenId alt = iv[j].item<int64_t>();
    const double q = pv[j].item<double>();
    if (alt != chosen && q > 0) out.push_back({alt, std::log(q)});
  }
  return out;
}

enum class Grammar { kOutside, kAfterStart, kDescription, kCoordinate, kBeforeEnd, kDone };

struct SequenceState {
  Grammar grammar = Grammar::kOutside;
  int coord_index = 0;  // coordinates written in the open object
  int desc_len = 0;
  std::array<int, 4> bins{};
  std::array<double, 4> values{};
  GeneratedObject open;  // the object being written; its log-probabilities accumulate as tokens come
  Generation out;
};

constexpr float kNeg = -1e9f;  // an additive mask value no logit overcomes

// The additive masks [V] of the grammar states, built once per call.
struct GrammarMasks {
  torch::Tensor outside, start_only, end_only, before_end, text, coord, desc, pad_only;
  GrammarMasks(const GrammarTokens& g, int64_t V, const torch::TensorOptions& opts) {
    auto only = [&](std::initializer_list<TokenId> ids) {
      auto m = torch::full({V}, kNeg, opts);
      for (TokenId id : ids) m[id] = 0;
      return m;
    };
    text = torch::where(g.text_mask.to(opts.device()), torch::zeros({V}, opts), torch::full({V}, kNeg, opts));
    coord = torch::full({V}, kNeg, opts);
    coord.narrow(0, g.coords.first_id(), g.coords.num_bins()).zero_();
    outside = only({g.structure.obj_start, g.structure.answer_end});
    start_only = only({g.structure.obj_start});
    end_only = only({g.structure.answer_end});
    before_end = only({g.structure.obj_end});
    desc = torch::maximum(text, coord);
    pad_only = only({g.pad});
  }
};

// What sequence s may write next: its grammar state's mask, with the object-count limits, the description
// length limit, and on x2 / y2 the bins below x1 / y1 forbidden.
torch::Tensor state_mask(const SequenceState& s, const GrammarMasks& m, const GrammarTokens& g,
                         const GenerationConfig& cfg) {
  const auto objects = static_cast<int64_t>(s.out.objects.size());
  switch (s.grammar) {
    case Grammar::kOutside:
      return objects >= cfg.max_objects ? m.end_only : objects < cfg.min_objects ? m.start_only : m.outside;
    case Grammar::kAfterStart:
      return m.text;
    case Grammar::kDescription:
      return s.desc_len >= cfg.max_description_tokens ? m.coord : m.desc;
    case Grammar::kCoordinate: {
      auto c = m.coord.clone();
      if (s.coord_index >= 2) c.narrow(0, g.coords.first_id(), s.bins[s.coord_index - 2]).fill_(kNeg);
      return c;
    }
    case Grammar::kBeforeEnd:
      return m.before_end;
    case Grammar::kDone:
      return m.pad_only;
  }
  return m.pad_only;
}

// Text tokens already written in a sequence get their logits divided (positive) or multiplied (negative)
// by the penalty.
void apply_repetition_penalty(torch::Tensor& logits, const std::vector<std::vector<char>>& used,
                              double penalty) {
  for (size_t b = 0; b < used.size(); ++b)
    for (size_t v = 0; v < used[b].size(); ++v)
      if (used[b][v]) {
        auto z = logits[b][v];
        logits[b][v] = z.item<float>() > 0 ? z / penalty : z * penalty;
      }
}

// Greedy (temperature 0), or sampled at the temperature from the top_p nucleus: [B] token ids.
torch::Tensor choose_tokens(const torch::Tensor& masked, const GenerationConfig& cfg) {
  if (cfg.temperature == 0) return masked.argmax(-1);
  auto p = torch::softmax(masked / cfg.temperature, -1);
  if (cfg.top_p < 1.0) {
    auto sorted = p.sort(-1, true);
    auto sp = std::get<0>(sorted), si = std::get<1>(sorted);
    auto keep = (sp.cumsum(-1) - sp) < cfg.top_p;  // keep the smallest prefix reaching top_p
    sp = sp * keep;
    p = torch::zeros_like(p).scatter(-1, si, sp);
  }
  return torch::multinomial(p, 1).squeeze(1);
}

// Expectation decoding: the expected coordinate of every row that writes a coordinate, over the bins the
// grammar allows (the masked bins carry ~0 mass), and the written token replaced by the bin nearest it (not
// the argmax: with a broad distribution the argmax can sit far from the mean, and the tokens that follow
// would then condition on a coordinate the box does not have). Returns the expected values ([B], 0 where
// no coordinate is written).
std::vector<double> snap_to_expectation(torch::Tensor& chosen_cpu, const torch::Tensor& probs_cpu,
                                        const torch::Tensor& phi, const std::vector<SequenceState>& st,
                                        const GrammarTokens& g) {
  const int64_t B = chosen_cpu.size(0), K = g.coords.num_bins(), first = g.coords.first_id();
  std::vector<double> expected(B, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    const TokenId tok = chosen_cpu[b].item<int64_t>();
    if (!g.coords.is_coord(tok)) continue;
    auto pk = probs_cpu[b].narrow(0, first, K);
    expected[b] = (pk * phi).sum().item<double>() / std::max(1e-12, pk.sum().item<double>());
    int k = g.coords.quantize(expected[b]);
    const auto& s = st[b];
    if (s.grammar == Grammar::kCoordinate && s.coord_index >= 2) k = std::max(k, s.bins[s.coord_index - 2]);
    chosen_cpu[b] = g.coords.id_of_bin(k);
  }
  return expected;
}

// sum_k p_k |phi(k) - value| over the coordinate bins of one row of probabilities [V] (the grammar leaves
// mass only on allowed bins at a coordinate step), renormalised over the bins.
double mean_absolute_deviation(const torch::Tensor& probs_row, const CoordVocab& coords, double value) {
  const auto p = probs_row.narrow(0, coords.first_id(), coords.num_bins()).contiguous();
  const float* q = p.data_ptr<float>();
  double mass = 0, dev = 0;
  for (int k = 0; k < coords.num_bins(); ++k) {
    mass += q[k];
    dev += q[k] * std::abs(coords.dequantize(k) - value);
  }
  return mass > 0 ? dev / mass : 0.0;
}

// Sequence s writes `tok` (probability p; `expected` its expected coordinate under expectation decoding):
// the grammar state advances, the open object accumulates its description, coordinates and
// log-probabilities, and a closed object is scored and kept.
void advance(SequenceState& s, TokenId tok, double p, double expected, const torch::Tensor& probs_row,
             const torch::Tensor& text_cpu, const GrammarTokens& g, const GenerationConfig& cfg) {
  switch (s.grammar) {
    case Grammar::kOutside:
      if (tok == g.structure.answer_end) {
        s.out.terminated = true;
        s.grammar = Grammar::kDone;
      } else {
        s.open = GeneratedObject{};
        s.open.label_log_prob = std::log(p);
        s.open.label_tokens = 1;
        s.desc_len = 0;
        s.grammar = Grammar::kAfterStart;
      }
      break;
    case Grammar::kAfterStart:
    case Grammar::kDescription:
      if (g.coords.is_coord(tok)) {
        s.coord_index = 0;
        s.grammar = Grammar::kCoordinate;
        [[fallthrough]];
      } else {
        s.open.desc_ids.push_back(tok);
        s.desc_len += 1;
        s.open.label_log_prob += std::log(p);
        s.open.last_desc_log_prob = std::log(p);
        s.open.label_tokens += 1;
        s.open.alternatives = top_alternatives(probs_row, text_cpu, tok, cfg.label_alternatives);
        s.grammar = Grammar::kDescription;
        break;
      }
    case Grammar::kCoordinate: {
      const int k = g.coords.bin_of(tok);
      s.bins[s.coord_index] = k;
      s.values[s.coord_index] = cfg.coord_decode == CoordDecode::kArgmax ? g.coords.dequantize(k) : expected;
      s.open.coord_mad[s.coord_index] = mean_absolute_deviation(probs_row, g.coords, s.values[s.coord_index]);
      s.open.coord_log_prob += std::log(p);
      if (++s.coord_index == 4) s.grammar = Grammar::kBeforeEnd;
      break;
    }
    case Grammar::kBeforeEnd: {
      const auto& v = s.values;
      s.open.box = legalize_box({v[0], v[1], v[2], v[3]});
      s.open.quality = box_quality(s.open.box, s.open.coord_mad);
      s.open.score = object_score(cfg.score, s.open.label_log_prob, s.open.label_tokens,
                                  s.open.coord_log_prob, s.open.quality);
      s.out.objects.push_back(std::move(s.open));
      s.grammar = Grammar::kOutside;
      break;
    }
    case Grammar::kDone:
      break;
  }
}

// Decoding loop shared by the cached and the uncached decoder: each step masks the logits by every
// sequence's grammar state, chooses, and advances; `next_hidden` returns the last hidden state [B, D] after
// feeding the tokens chosen at the previous step.
std::vector<Generation> decode(VisionLanguageModel& model, int64_t B, const GrammarTokens& g,
                               const GenerationConfig& cfg,
                               const std::function<torch::Tensor(const torch::Tensor&)>& next_hidden,
                               torch::Tensor hidden) {
  COORDEXP_CHECK_ARG(cfg.temperature >= 0 && std::isfinite(cfg.temperature), "temperature", ">= 0",
                     std::to_string(cfg.temperature));
  COORDEXP_CHECK_ARG(cfg.repetition_penalty >= 1.0, "repetition_penalty", ">= 1",
                     std::to_string(cfg.repetition_penalty));
  const int64_t V = model.vocab_size(), K = g.coords.num_bins();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(hidden.device());
  const GrammarMasks masks(g, V, opts);
  const auto phi =
      torch::arange(K, torch::kFloat) / static_cast<double>(K - 1);  // [K], on the CPU like probs_cpu
  const auto text_cpu = g.text_mask.cpu().to(torch::kFloat);         // [V]
  COORDEXP_CHECK_ARG(cfg.label_alternatives >= 0, "label_alternatives", ">= 0",
                     std::to_string(cfg.label_alternatives));
  torch::manual_seed(cfg.seed);

  std::vector<SequenceState> st(B);
  std::vector<std::vector<char>> used(B, std::vector<char>(V, 0));
  for (int64_t step = 0; step < cfg.max_new_tokens; ++step) {
    if (std::all_of(st.begin(), st.end(), [](const auto& s) { return s.grammar == Grammar::kDone; })) break;
    auto logits = model.logits(hidden).to(torch::kFloat);  // [B, V]
    auto mask = torch::zeros({B, V}, opts);
    for (int64_t b = 0; b < B; ++b) mask[b] = state_mask(st[b], masks, g, cfg);
    if (cfg.repetition_penalty > 1.0) apply_repetition_penalty(logits, used, cfg.repetition_penalty);
    auto masked = logits + mask;
    auto probs = torch::softmax(masked, -1);  // [B, V]
    torch::Tensor chosen = choose_tokens(masked, cfg);
    auto chosen_cpu = chosen.cpu().clone();
    auto probs_cpu = probs.cpu();
    std::vector<double> expected(B, 0.0);  // filled for rows that write a coordinate this step
    if (cfg.coord_decode == CoordDecode::kExpectation) {
      expected = snap_to_expectation(chosen_cpu, probs_cpu, phi, st, g);
      chosen = chosen_cpu.to(chosen.device());
    }
    for (int64_t b = 0; b < B; ++b) {
      auto& s = st[b];
      if (s.grammar == Grammar::kDone) continue;
      const TokenId tok = chosen_cpu[b].item<int64_t>();
      const double p = std::max(1e-12, static_cast<double>(probs_cpu[b][tok].item<float>()));
      s.out.tokens.push_back(tok);
      if (g.text_mask[tok].item<bool>()) used[b][tok] = 1;
      advance(s, tok, p, expected[b], probs_cpu[b], text_cpu, g, cfg);
    }
    hidden = next_hidden(chosen);
  }
  std::vector<Generation> out;
  for (auto& s : st) out.push_back(std::move(s.out));
  return out;
}

}  // namespace

std::vector<Generation> generate(VisionLanguageModel& model, const std::vector<torch::Tensor>& images,
                                 const torch::Tensor& prompt, const GrammarTokens& grammar,
                                 const GenerationConfig& config) {
  torch::NoGradGuard no_grad;
  KvCache cache;
  const ImageTokens img = model.encode_image_list(images);
  auto hidden = model.prefill(img, prompt, cache);
  return decode(
      model, static_cast<int64_t>(images.size()), grammar, config,
      [&](const torch::Tensor& tokens) { return model.decode_step(tokens, cache); }, hidden);
}

std::vector<Generation> generate_uncached(VisionLanguageModel& model, const torch::Tensor& images,
                                          const torch::Tensor& prompt, const GrammarTokens& grammar,
                                          const GenerationConfig& config) {
  torch::NoGradGuard no_grad;
  const ImageTokens img = model.encode_images(images);
  torch::Tensor seq = prompt;
  auto hidden = model.forward_text(img, seq).select(1, seq.size(1) - 1);
  return decode(
      model, images.size(0), grammar, config,
      [&](const torch::Tensor& tokens) {
        seq = torch::cat({seq, tokens.unsqueeze(1)}, 1);
        return model.forward_text(img, seq).select(1, seq.size(1) - 1);
      },
      hidden);
}

}  // namespace coordexp
