// Dev check: build one training batch and write its images with the decoded target sequences, to verify
// that images and targets line up. Usage: dump_batch COCO.json OUT_DIR
#include <iostream>

#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/batch_builder.hpp"

using namespace coordexp;

int main(int argc, char** argv) {
  DetectionDataset data = load_detection_dataset(argv[1], "", true);
  ImageStore cache(data, ImageStoreConfig::square(128, 2));
  std::vector<std::string> texts;
  for (const auto& c : data.coco.categories) texts.push_back(c.name);
  const WordTokenizer tok = WordTokenizer::build(texts, 128);
  DataConfig dc;
  dc.num_bins = 128;
  BatchBuilder builder(data, cache, tok, dc, 4, 0);
  TrainBatch b = builder.build(0);
  for (int64_t n = 0; n < 4; ++n) {
    auto img = (b.images[n] * 255).clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    ImageRGB8 out(128, 128);
    std::memcpy(out.pixels().data(), img.data_ptr<uint8_t>(), 128 * 128 * 3);
    save_png(out, std::string(argv[2]) + "/b" + std::to_string(n) + ".png");
    std::vector<TokenId> ids(b.tokens[n].data_ptr<int64_t>(),
                             b.tokens[n].data_ptr<int64_t>() + b.tokens.size(1));
    std::cout << n << ": " << tok.decode(ids) << "\n";
  }
}
