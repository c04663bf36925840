// What each record is asked for in a training batch: an exhaustively labelled image "detect all" (or, with
// category_prompt_prob, a list of categories with their objects); a record whose labels are not exhaustive
// (LVIS) only ever a list of its verified categories, with the objects of those alone, so an unlabelled
// object is never taught as absent; a grounding record its phrase; letterboxed images' targets in the model
// frame.
#include <gtest/gtest.h>

#include <filesystem>

#include "coordexp/data/image_store.hpp"
#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/batch_builder.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

// Three categories; image 1 exhaustive with a cat and a dog; image 2 LVIS-like: a cat, a dog and a bird
// labelled, but only cat (present) and bird... verified: {1 cat, 3 bird}; image 3 a grounding phrase.
struct PromptData {
  DetectionDataset data;
  std::shared_ptr<WordTokenizer> tok;
  PromptData() {
    const fs::path dir = fs::temp_directory_path() / ("coordexp_prompts_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    save_png(ImageRGB8(64, 32, {90, 90, 90}), (dir / "a.png").string());
    data.coco.categories = {{1, "cat", "", {}}, {2, "dog", "", {}}, {3, "bird", "", {}}};
    DatasetImage a;
    a.image_id = 1;
    a.path = (dir / "a.png").string();
    a.width = 64;
    a.height = 32;
    a.objects = {{"cat", 1, {0.1, 0.1, 0.3, 0.5}}, {"dog", 2, {0.5, 0.2, 0.9, 0.9}}};
    DatasetImage b = a;
    b.image_id = 2;
    b.objects.push_back({"bird", 3, {0.4, 0.0, 0.45, 0.1}});
    b.exhaustive = false;
    b.verified_categories = {1, 3};
    DatasetImage c = a;
    c.image_id = 3;
    c.phrase = "the dog on the right";
    c.objects = {{"dog", 2, {0.5, 0.2, 0.9, 0.9}}};
    data.images = {a, b, c};
    tok = std::make_shared<WordTokenizer>(
        WordTokenizer::build({"cat", "dog", "bird", "the dog on the right"}, 32));
  }
  // The prompt words and the described objects of sample n of a batch.
  std::pair<std::string, std::vector<std::string>> read(const TrainBatch& b, size_t n) const {
    std::vector<TokenId> ids;
    for (int64_t t = 0; t < b.tokens.size(1); ++t) ids.push_back(b.tokens[n][t].item<int64_t>());
    const int64_t first = b.samples[n].objects.empty() ? b.tokens.size(1) : b.samples[n].objects[0].open_pos;
    std::string prompt = tok->decode(std::span<const TokenId>(ids.data(), static_cast<size_t>(first)));
    std::vector<std::string> objects;
    for (const auto& g : b.samples[n].ground_truth) objects.push_back(tok->decode(g.desc_ids));
    return {prompt, objects};
  }
};

TEST(Prompts, ExhaustiveFederatedAndGroundingRecords) {
  PromptData p;
  const ImageStore store(p.data, ImageStoreConfig::square(32));
  DataConfig dc;
  dc.num_bins = 32, dc.flip_prob = 0;
  const BatchBuilder builder(p.data, store, *p.tok, dc, 3, 0);
  for (int64_t step = 0; step < 6; ++step) {
    const TrainBatch b = builder.build(step);
    for (size_t n = 0; n < b.samples.size(); ++n) {
      const auto [prompt, objects] = p.read(b, n);
      if (objects.size() == 2 && prompt.find("all") != std::string::npos) continue;  // image 1: detect all
      if (prompt.find("the dog on the right") != std::string::npos) {  // image 3: its phrase, its box
        EXPECT_EQ(objects, std::vector<std::string>{"the dog on the right"});
        continue;
      }
      // image 2: never "all", never the unverified dog; the cat always (present and verified)
      EXPECT_EQ(prompt.find("all"), std::string::npos) << prompt;
      EXPECT_EQ(prompt.find("dog"), std::string::npos) << prompt;
      EXPECT_NE(prompt.find("cat"), std::string::npos) << prompt;
      for (const auto& o : objects) EXPECT_NE(o, "dog") << prompt;
      EXPECT_EQ(std::count(objects.begin(), objects.end(), "cat"), 1) << prompt;
      EXPECT_EQ(std::count(objects.begin(), objects.end(), "bird"), prompt.find("bird") != std::string::npos);
    }
  }
}

TEST(Prompts, CategoryListsOnExhaustiveRecordsCarryTheirObjects) {
  PromptData p;
  p.data.images.resize(1);  // image 1 only
  const ImageStore store(p.data, ImageStoreConfig::square(32));
  DataConfig dc;
  dc.num_bins = 32, dc.flip_prob = 0, dc.category_prompt_prob = 1.0, dc.max_prompt_categories = 2;
  const BatchBuilder builder(p.data, store, *p.tok, dc, 1, 0);
  int lists_with_bird = 0;
  for (int64_t step = 0; step < 20; ++step) {
    const auto [prompt, objects] = p.read(builder.build(step), 0);
    EXPECT_EQ(prompt.find("all"), std::string::npos) << prompt;
    // both present categories fill the two places: cat and dog, never the absent bird
    EXPECT_NE(prompt.find("cat"), std::string::npos) << prompt;
    EXPECT_NE(prompt.find("dog"), std::string::npos) << prompt;
    lists_with_bird += prompt.find("bird") != std::string::npos;
    EXPECT_EQ(objects.size(), 2u);
  }
  EXPECT_EQ(lists_with_bird, 0);
}

// A 64 x 32 image letterboxed into 32 x 32: content 32 x 16 from row 8; a box over the whole image becomes
// rows 0.25 .. 0.75 of the frame.
TEST(Prompts, LetterboxedTargetsAreInTheModelFrame) {
  PromptData p;
  p.data.images.resize(1);
  p.data.images[0].objects = {{"cat", 1, {0.0, 0.0, 1.0, 1.0}}};
  ImageStoreConfig sc = ImageStoreConfig::square(32);
  sc.fit.mode = ImageFitMode::kFitLetterbox;
  const ImageStore store(p.data, sc);
  DataConfig dc;
  dc.num_bins = 32, dc.flip_prob = 0;
  const TrainBatch b = BatchBuilder(p.data, store, *p.tok, dc, 1, 0).build(0);
  const BoxXYXY g = b.samples[0].ground_truth[0].box;
  EXPECT_DOUBLE_EQ(g.y1, 0.25);
  EXPECT_DOUBLE_EQ(g.y2, 0.75);
  EXPECT_DOUBLE_EQ(g.x1, 0.0);
  EXPECT_DOUBLE_EQ(g.x2, 1.0);
  EXPECT_EQ(b.images[0].size(1), 32);
  // the padding rows are grey (128 / 255), the content uniform 90 / 255
  EXPECT_NEAR(b.images[0][0][2][16].item<double>(), 128 / 255.0, 1e-6);
  EXPECT_NEAR(b.images[0][0][16][16].item<double>(), 90 / 255.0, 1e-6);
}

}  // namespace
}  // namespace coordexp
