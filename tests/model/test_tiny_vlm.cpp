// The tiny V-LLM: shapes, causality (a text position never sees later tokens), and KV-cache decoding
// equal to teacher forcing position by position.
#include <gtest/gtest.h>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

// Image tokens from embeddings [B, 4, D] (the tests' 2 x 2 grid) or from encode_images.
ImageTokens tokens_of(const torch::Tensor& embeds) {
  return ImageTokens::uniform(embeds, 2, 2);
}
const ImageTokens& tokens_of(const ImageTokens& t) {
  return t;
}

TinyVlmConfig small_config() {
  TinyVlmConfig c;
  c.image_size = 32;
  c.patch_size = 16;
  c.vision_width = 16;
  c.vision_heads = 2;
  c.width = 32;
  c.heads = 4;
  c.layers = 2;
  c.ffn_width = 48;
  c.vocab_size = 50;
  return c;
}

TEST(TinyVlm, ShapesAndCausality) {
  torch::manual_seed(0);
  auto model = build_tiny_vlm(small_config());
  model->eval();
  auto images = torch::randn({2, 3, 32, 32});
  auto tokens = torch::randint(0, 50, {2, 7}, torch::kLong);
  auto img = model->encode_images(images);
  EXPECT_EQ(img.embeds.sizes(), torch::IntArrayRef({2, 4, 32}));
  auto h = model->forward_text(tokens_of(img), tokens);
  EXPECT_EQ(h.sizes(), torch::IntArrayRef({2, 7, 32}));
  auto changed = tokens.clone();
  changed[0][5] = (changed[0][5].item<int64_t>() + 1) % 50;
  auto h2 = model->forward_text(tokens_of(img), changed);
  EXPECT_LT((h.narrow(1, 0, 5) - h2.narrow(1, 0, 5)).abs().max().item<double>(),
            1e-6);  // earlier positions unchanged
  EXPECT_GT((h[0][5] - h2[0][5]).abs().max().item<double>(), 1e-4);
}

class TinyVlmVariants : public ::testing::TestWithParam<std::tuple<bool, int, bool>> {};

// Random values in the scan-pointer tables (they start at zero, which would hide them).
void randomize_scan_pointer(VisionLanguageModel& model) {
  torch::NoGradGuard ng;
  for (auto& p : model.named_parameters())
    if (p.key() == "pointer_bias" || p.key().rfind("key_score", 0) == 0) p.value().normal_(0, 0.3);
}

// every variant: shared or raster image positions, the plain or the residual-pyramid stem, with or without
// the scan pointer (the random tokens hold coordinate tokens 20..35, so its pointer moves)
TEST_P(TinyVlmVariants, KvCacheDecodingEqualsTeacherForcing) {
  torch::manual_seed(1);
  auto c = small_config();
  c.shared_image_position = std::get<0>(GetParam());
  c.stem_blocks = std::get<1>(GetParam());
  c.scan_pointer = std::get<2>(GetParam());
  c.coord_first_id = 20, c.num_coord_bins = 16;
  auto model = build_tiny_vlm(c);
  randomize_scan_pointer(*model);
  model->eval();
  torch::NoGradGuard ng;
  auto img = model->encode_images(torch::rand({2, 3, 32, 32}));
  EXPECT_EQ(img.embeds.sizes(), torch::IntArrayRef({2, 4, 32}));
  auto tokens = torch::randint(0, 50, {2, 9}, torch::kLong);
  auto full = model->forward_text(tokens_of(img), tokens);  // [B, 9, D]
  KvCache cache;
  auto h = model->prefill(img, tokens.narrow(1, 0, 3), cache);
  EXPECT_LT((h - full.select(1, 2)).abs().max().item<double>(), 1e-5);
  for (int64_t t = 3; t < 9; ++t) {
    h = model->decode_step(tokens.select(1, t), cache);
    EXPECT_LT((h - full.select(1, t)).abs().max().item<double>(), 1e-5) << "t=" << t;
  }
}

INSTANTIATE_TEST_SUITE_P(PositionsAndStems, TinyVlmVariants,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(0, 1), ::testing::Bool()));

// The scan pointer of a text token is the cell holding the centre of the last box written at or before it.
// One decoder block (so text states read the image embeddings directly) and a bias of 50 at offset
// (dy, dx) = (0, +1), zero elsewhere: every text token attends to the cell right of its pointer only. On a
// 2 x 2 grid with K = 16 bins, the box (1, 9, 5, 15) has its centre at (0.2, 0.8): cell (1, 0) = 2. Before
// it (pointer left of cell 0) the text reads cell 0; from its last coordinate on, cell 3; never cell 1.
TEST(TinyVlm, ScanPointerFollowsTheCentreOfTheLastBox) {
  torch::manual_seed(4);
  auto c = small_config();
  c.layers = 1, c.scan_pointer = true, c.coord_first_id = 20, c.num_coord_bins = 16;
  auto model = build_tiny_vlm(c);
  model->eval();
  torch::NoGradGuard ng;
  for (auto& p : model->named_parameters())
    if (p.key() == "pointer_bias") {
      const int64_t G = 2, offset = (0 + G - 1) * 2 * G + (1 + G - 1);  // (dy, dx) = (0, +1)
      p.value().zero_();
      p.value().select(2, offset).fill_(5.0);  // stored divided by 10
    }
  auto img = torch::randn({1, 4, 32});
  auto tokens =
      torch::tensor({{3L, 4L, 21L, 29L, 25L, 35L, 5L, 6L}});  // text, x1 y1 x2 y2 (bins 1 9 5 15), text
  auto base = model->forward_text(tokens_of(img), tokens);
  auto changed_at = [&](int64_t cell) {  // per position: does the state change when `cell` changes?
    auto other = img.clone();
    other[0][cell] += torch::randn({32}) * 3;
    auto diff = (model->forward_text(tokens_of(other), tokens) - base).abs().amax(-1)[0];
    std::vector<bool> out;
    for (int64_t t = 0; t < 8; ++t) out.push_back(diff[t].item<double>() > 1e-4);
    return out;
  };
  const std::vector<bool> before{true, true, true, true, true, false, false, false};
  const std::vector<bool> after{false, false, false, false, false, true, true, true};
  EXPECT_EQ(changed_at(0), before);
  EXPECT_EQ(changed_at(3), after);
  EXPECT_EQ(changed_at(1), std::vector<bool>(8, false));
  EXPECT_EQ(changed_at(2), std::vector<bool>(8, false));
}

// The bias table's gradient (rows gathered per pointer value, then looked up per query) against central
// differences in double precision, at the entries with the largest gradients and at one never used.
TEST(TinyVlm, ScanPointerBiasGradientMatchesFiniteDifferences) {
  torch::manual_seed(6);
  auto c = small_config();
  c.layers = 2, c.scan_pointer = true, c.coord_first_id = 20, c.num_coord_bins = 16;
  auto model = build_tiny_vlm(c);
  model->to(torch::kDouble);
  model->eval();
  torch::Tensor table;
  for (auto& p : model->named_parameters())
    if (p.key() == "pointer_bias") table = p.value();
  ASSERT_TRUE(table.defined());
  {
    torch::NoGradGuard ng;
    table.normal_(0, 0.1);
  }
  auto img = torch::randn({2, 4, 32}, torch::kDouble);
  auto tokens = torch::tensor({{3L, 21L, 29L, 25L, 35L, 5L, 22L, 23L, 30L, 31L, 6L},
                               {4L, 20L, 20L, 35L, 35L, 7L, 8L, 27L, 26L, 33L, 34L}});
  auto w = torch::randn({2, 11, 32}, torch::kDouble);
  auto loss = [&] { return (model->forward_text(tokens_of(img), tokens) * w).sum(); };
  model->zero_grad();
  loss().backward();
  const auto grad = table.grad().flatten().clone();
  auto flat = table.detach().view({-1});
  std::vector<int64_t> entries;
  for (int64_t k = 0; k < 6; ++k)
    entries.push_back(std::get<1>(grad.abs().topk(6)).index({k}).item<int64_t>());
  entries.push_back(3);  // (dy, dx) = (-1, +2) on a 2 x 2 grid: only the first pointer (0, -1) has dx = +2,
                         // and it has dy >= 0, so nothing reaches this entry
  for (int64_t e : entries) {
    torch::NoGradGuard ng;
    const double eps = 1e-6, x = flat[e].item<double>();
    flat[e] = x + eps;
    const double up = loss().item<double>();
    flat[e] = x - eps;
    const double down = loss().item<double>();
    flat[e] = x;
    const double fd = (up - down) / (2 * eps), g = grad[e].item<double>();
    EXPECT_NEAR(g, fd, 1e-6 * std::max(1.0, std::abs(fd))) << "entry " << e;
  }
  EXPECT_GT(grad.abs().max().item<double>(), 1e-3);  // the lookups carry gradient at all
  EXPECT_EQ(grad[3].item<double>(), 0.0);
}

TEST(TinyVlm, ScanPointerNeedsTheCoordinateRange) {
  auto c = small_config();
  c.scan_pointer = true;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
}

// With shared image positions the text states do not depend on the order of the image tokens (only on
// their content, which carries the 2-D position code); with raster positions they do.
TEST(TinyVlm, SharedImagePositionMakesTextInvariantToImageTokenOrder) {
  for (bool shared : {true, false}) {
    torch::manual_seed(2);
    auto c = small_config();
    c.shared_image_position = shared;
    auto model = build_tiny_vlm(c);
    model->eval();
    torch::NoGradGuard ng;
    auto img = torch::randn({1, 4, 32});
    auto tokens = torch::randint(0, 50, {1, 5}, torch::kLong);
    auto a = model->forward_text(tokens_of(img), tokens);
    auto b = model->forward_text(tokens_of(img.index_select(1, torch::tensor({3L, 1L, 0L, 2L}))), tokens);
    const double diff = (a - b).abs().max().item<double>();
    if (shared)
      EXPECT_LT(diff, 1e-5);
    else
      EXPECT_GT(diff, 1e-4);
  }
}

TEST(TinyVlm, BadConfigIsNamed) {
  auto c = small_config();
  c.vocab_size = 0;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.image_size = 30;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.stem_blocks = 9;
  EXPECT_THROW(build_tiny_vlm(c), InputError);
  c = small_config();
  c.image_size = 48, c.patch_size = 12, c.stem_blocks = 1;  // the pyramid needs a power-of-two patch
  EXPECT_THROW(build_tiny_vlm(c), InputError);
}

}  // namespace
}  // namespace coordexp

namespace coordexp {
namespace {

TEST(TinyVlm, TextStatesDependOnTheImageAndGradientsReachTheVisionTower) {
  torch::manual_seed(3);
  auto c = small_config();
  auto model = build_tiny_vlm(c);
  auto tokens = torch::randint(0, 50, {1, 5}, torch::kLong);
  auto a = model->forward_text(model->encode_images(torch::randn({1, 3, 32, 32})), tokens);
  auto b = model->forward_text(model->encode_images(torch::randn({1, 3, 32, 32})), tokens);
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
  model->logits(a).sum().backward();
  for (const auto& p : model->named_parameters()) {
    if (p.key().rfind("stem", 0) == 0 || p.key().rfind("proj", 0) == 0) {
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
    }
  }
}

// The image encoder's parameters (what run.init_parts = "vision" copies) are exactly those encode_images
// reaches, with the scan pointer's parameters (fed by image tokens, but inside the decoder) outside.
TEST(TinyVlm, ImageEncoderParametersAreTheOnesEncodeImagesUses) {
  torch::manual_seed(4);
  auto c = small_config();
  c.scan_pointer = true, c.coord_first_id = 10, c.num_coord_bins = 16;
  auto model = build_tiny_vlm(c);
  model->encode_images(torch::randn({2, 3, 32, 32})).embeds.pow(2).sum().backward();
  int encoder = 0;
  for (const auto& p : model->named_parameters()) {
    const bool reached = p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0;
    EXPECT_EQ(model->is_image_encoder_parameter(p.key()), reached) << p.key();
    encoder += reached;
  }
  EXPECT_GE(encoder, 6);
}

}  // namespace
}  // namespace coordexp
