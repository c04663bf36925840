// Logit parity of the C++ Qwen2-VL / Qwen2.5-VL with an independent float32 PyTorch implementation
// (tests/model/qwen_vl_reference.py, written from transformers' semantics without reading ours), run by
// Debian's python3-torch on tiny random checkpoints: sharded float32 and single-file bfloat16 weights, a
// 56 x 84 image (Qwen2.5-VL: two uneven attention windows), the chat template with a description answer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/data/image.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

const char* python_with_torch() {
  static const char* python = [] {
    return std::system("/usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null") == 0 ? "/usr/bin/python3"
                                                                                          : nullptr;
  }();
  return python;
}

// A float32 .npy written by numpy.save (format 1.x, C order, little-endian).
torch::Tensor read_npy(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::string magic(8, '\0');
  f.read(magic.data(), 8);
  uint16_t len = 0;
  f.read(reinterpret_cast<char*>(&len), 2);
  std::string header(len, '\0');
  f.read(header.data(), len);
  EXPECT_NE(header.find("'<f4'"), std::string::npos) << header;
  const size_t open = header.find('('), close = header.find(')');
  std::vector<int64_t> shape;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  for (std::string d; std::getline(dims, d, ',');)
    if (d.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(d));
  auto t = torch::empty(shape, torch::kFloat);
  f.read(reinterpret_cast<char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * 4));
  EXPECT_TRUE(f.good()) << path;
  return t;
}

void check_against_reference(QwenVLFamily family, SafetensorsDType dtype, int shards) {
  const char* python = python_with_torch();
  if (!python)
    GTEST_SKIP() << "no /usr/bin/python3 with torch, numpy and PIL (Debian: python3-torch python3-pil)";
  const fs::path dir = fs::temp_directory_path() / ("coordexp_qwen_ref_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  TinyQwenSpec spec;
  spec.family = family;
  spec.shards = shards;
  spec.seed = 7;
  write_tiny_qwen_checkpoint(dir / "ckpt", spec);
  if (dtype != SafetensorsDType::kF32) save_qwen_vl(*load_qwen_vl(dir / "ckpt"), dir / "ckpt", dtype);

  ImageRGB8 img(84, 56);
  uint32_t state = 12345;
  for (auto& p : img.pixels()) p = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  save_png(img, (dir / "img.png").string());
  const QwenChatTokenizer tok = QwenChatTokenizer::load(dir / "ckpt" / "tokenizer.json", 16);
  auto model = load_qwen_vl(dir / "ckpt");
  model->eval();
  std::vector<int64_t> ids = tok.image_prefix_ids();
  const auto prefix_len = static_cast<int64_t>(ids.size());
  ids.insert(ids.end(), 6, model->config().image_token_id);
  std::vector<int64_t> text = tok.prompt_ids({});
  const auto answer = tok.encode("small red star");
  text.insert(text.end(), answer.begin(), answer.end());
  ids.insert(ids.end(), text.begin(), text.end());
  std::ofstream(dir / "ids.json") << nlohmann::json{{"input_ids", ids}}.dump();

  const std::string cmd = std::string(python) + " " + COORDEXP_SOURCE_DIR +
                          "/tests/model/qwen_vl_reference.py --model " + (dir / "ckpt").string() +
                          " --image " + (dir / "img.png").string() + " --ids " + (dir / "ids.json").string() +
                          " --out " + (dir / "ref.npy").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto reference = read_npy(dir / "ref.npy");

  torch::NoGradGuard g;
  model->set_image_prefix(std::vector<int64_t>(ids.begin(), ids.begin() + prefix_len));
  const auto pixels = torch::from_blob(img.pixels().data(), {56, 84, 3}, torch::kUInt8)
                          .permute({2, 0, 1})
                          .to(torch::kFloat)
                          .div(255)
                          .unsqueeze(0);
  const auto ours =
      model->logits(model->forward_all(model->encode_images(pixels), torch::tensor(text).view({1, -1})))[0];
  ASSERT_EQ(ours.sizes(), reference.sizes());
  const double diff = (ours - reference).abs().max().item<double>();
  const double scale = reference.abs().max().item<double>();
  EXPECT_LT(diff, 1e-5) << "max |logit difference| " << diff << " (logits up to " << scale << ")";
  EXPECT_GT(scale, 0.1);  // not a degenerate comparison
  fs::remove_all(dir);
}

TEST(QwenReferenceParity, Qwen2VLShardedFloat32) {
  check_against_reference(QwenVLFamily::kQwen2VL, SafetensorsDType::kF32, 3);
}
TEST(QwenReferenceParity, Qwen2_5VLSingleFileBfloat16) {
  check_against_reference(QwenVLFamily::kQwen2_5VL, SafetensorsDType::kBF16, 1);
}

}  // namespace
}  // namespace coordexp
