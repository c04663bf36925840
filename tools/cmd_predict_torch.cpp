// `coordexp predict --run DIR --input COCO.json|FOLDER [--out DIR] [--draw N] [--coord-decode argmax]`:
// detects with a trained run (its config.json, tokenizer.json and checkpoint.pt), writes COCO results with
// descriptions (detections.json), pictures of the first N images with their boxes, and, when the input is a
// COCO file with annotations, the evaluation (eval.json and the printed summary).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "coordexp/data/image_decode.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/infer/detector.hpp"
#include "coordexp/report/box_drawing.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/train_config.hpp"
#include "coordexp/util/error.hpp"
#include "torch_commands.hpp"

namespace coordexp::cli {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  std::string run, input, out, coord_decode, score;
  int draw = 8;
  int64_t batch = 32;
  int64_t max_images = 0;
  double repetition_penalty = 0;
  int64_t label_alternatives = -1;
};

// A dataset from a folder of PNG files: one image per file, no annotations.
bool image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".png" || e == ".jpg" || e == ".jpeg";
}

// Every .png / .jpg / .jpeg in `dir` (sorted by name), with its size read from the file. A file that does not
// decode is reported and left out.
DetectionDataset folder_dataset(const fs::path& dir) {
  DetectionDataset d;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && image_extension(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw_input_error(dir.string(), "a folder with .png / .jpg images", "none");
  int64_t id = 1;
  for (const auto& f : files) {
    try {
      const DecodedImage img = load_image(f.string(), {1, 1});  // the smallest DCT scale: only the size
      CocoImage entry;
      entry.id = id, entry.file_name = f.filename().string();
      entry.width = img.original_width, entry.height = img.original_height;
      d.coco.images.push_back(entry);
      DatasetImage record;
      record.image_id = id, record.path = f.string();
      record.width = img.original_width, record.height = img.original_height;
      d.images.push_back(record);
      ++id;
    } catch (const InputError& e) {
      std::cerr << "predict: skipped " << e.what() << "\n";
    }
  }
  if (d.images.empty()) throw_input_error(dir.string(), "at least one image that decodes", "none");
  return d;
}

const CommandRegistrar kPredict("predict", torch_command_description("predict"), [](CLI::App& sub) {
  auto a = std::make_shared<PredictArgs>();
  sub.add_option("--run", a->run, "Run folder written by `coordexp train`")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("--input", a->input, "COCO JSON (images relative to its folder) or a folder of PNG images")
      ->required();
  sub.add_option("--out", a->out, "Output folder (default <run>/predict)");
  sub.add_option("--draw", a->draw, "Draw boxes on the first N images (default 8)");
  sub.add_option("--batch", a->batch, "Images per generation batch");
  sub.add_option("--max-images", a->max_images, "Only the first N images (0 = all)");
  sub.add_option("--coord-decode", a->coord_decode, "expectation or argmax (default: the run's)");
  sub.add_option("--score", a->score, "tokens, label, label_box or label_quality (default: the run's)");
  sub.add_option("--label-alternatives", a->label_alternatives,
                 "Also report each box with its N likeliest other labels (default: the run's)");
  sub.add_option("--repetition-penalty", a->repetition_penalty,
                 "Override generation.repetition_penalty (>= 1)");
  return [a]() -> int {
    const fs::path run(a->run);
    const fs::path out = a->out.empty() ? run / "predict" : fs::path(a->out);
    fs::create_directories(out);
    ModelBundle bundle = load_run_model(run);
    TrainConfig& cfg = bundle.resolved;
    const DetectionTokenizer& tok = *bundle.tokenizer;
    VisionLanguageModel* const model = bundle.model.get();
    if (!a->coord_decode.empty()) cfg.generation.coord_decode = parse_coord_decode(a->coord_decode);
    if (!a->score.empty()) cfg.generation.score = parse_score_mode(a->score);
    if (a->label_alternatives >= 0) cfg.generation.label_alternatives = a->label_alternatives;
    if (a->repetition_penalty > 0) cfg.generation.repetition_penalty = a->repetition_penalty;
    torch::set_num_threads(cfg.run.threads > 0 ? cfg.run.threads
                                               : static_cast<int>(std::thread::hardware_concurrency()));
    const bool folder = fs::is_directory(a->input);
    DetectionDataset data = folder ? folder_dataset(a->input) : load_detection_dataset(a->input, "", true);
    const ImageStore images(data, image_store_config(bundle, cfg.run.threads > 0 ? cfg.run.threads : 2));
    std::vector<CocoCategory> categories = data.coco.categories;
    if (categories.empty()) categories = load_coco_dataset(cfg.data.train_json).categories;
    const LabelMapper mapper(categories);
    DetectionRun result =
        detect_dataset(*model, data, images, tok, mapper, cfg.generation, a->batch, a->max_images);
    if (images.corrupt() > 0)
      std::cerr << "predict: skipped " << images.corrupt()
                << " unusable images (first: " << images.first_error() << ")\n";
    save_detection_results(result.detections, (out / "detections.json").string());
    std::cerr << "predict: " << result.images.size() << " images, " << result.detections.size()
              << " detections, " << result.generated_tokens / std::max(1e-9, result.seconds)
              << " generated tokens/s; labels: " << result.label_counts.exact << " exact, "
              << result.label_counts.synonym << " synonym, " << result.label_counts.embedding
              << " embedding, " << result.label_counts.dropped << " dropped\n";
    for (int k = 0; k < std::min<int>(a->draw, static_cast<int>(result.images.size())); ++k) {
      const DatasetImage& img = data.images[result.images[k]];
      const ImageRGB8 pic = load_image(img.path).pixels;  // the original photo
      std::vector<LabelledBox> boxes;
      for (const auto& o : img.objects)
        boxes.push_back(
            {{o.box.x1 * img.width, o.box.y1 * img.height, o.box.x2 * img.width, o.box.y2 * img.height},
             "",
             std::nullopt,
             BoxRole::kBoxGroundTruth});
      for (const auto& o : result.generated[k])
        boxes.push_back(
            {{o.box.x1 * img.width, o.box.y1 * img.height, o.box.x2 * img.width, o.box.y2 * img.height},
             tok.decode(o.desc_ids),
             o.score,
             BoxRole::kBoxPrediction});
      save_png(draw_labelled_boxes(pic, boxes),
               (out / ("image_" + std::to_string(img.image_id) + ".png")).string());
    }
    if (!folder && !data.coco.annotations.empty()) {
      const RunEvaluation ev = evaluate_run(data, result);
      std::cout << format_coco_summary_table(ev.summary, ev.params);
      nlohmann::json j;
      j["stats"] = ev.summary.stats;
      std::ofstream(out / "eval.json") << j.dump(2) << "\n";
    }
    std::cerr << "predict: wrote " << (out / "detections.json").string() << "\n";
    return 0;
  };
});

}  // namespace
}  // namespace coordexp::cli
