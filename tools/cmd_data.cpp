// `coordexp data check --data FILE [--image-root DIR] [--decode N] [--exif-orientation] [--json]`: checks a
// dataset (COCO, LVIS, ODVG jsonl, referring expressions) before training and prints the report of
// dataset_check.hpp. Exit status: 2 when training would fail, 1 when it would skip, drop or clip something,
// 0 when all is well. Torch-free.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "coordexp/data/dataset_check.hpp"

namespace coordexp::cli {
namespace {

struct DataCheckArgs {
  std::string data;  // the dataset file
  DatasetCheckOptions options;
  bool json = false;  // print JSON instead of text
};

int run_data_check(const DataCheckArgs& args) {
  const DatasetCheckReport report = check_dataset(args.data, args.options);
  std::cout << (args.json ? dataset_check_to_json(report) + "\n" : format_dataset_check(report));
  return report.exit_status();
}

const CommandRegistrar kRegisterData(
    "data", "Dataset tools: `data check` validates a dataset before training",
    [](CLI::App& sub) -> CommandRun {
      sub.require_subcommand(1);
      auto args = std::make_shared<DataCheckArgs>();
      CLI::App* check = sub.add_subcommand("check",
                                           "Validate a dataset (COCO, LVIS, ODVG jsonl, referring "
                                           "expressions): counts, image sizes, bad boxes, "
                                           "missing / unreadable / mis-sized images, decode time. Exit 2: "
                                           "training would fail; 1: warnings; 0: ok");
      check->add_option("--data", args->data, "Dataset file (format told by content)")->required();
      check->add_option("--image-root", args->options.image_root,
                        "Folder image file names are relative to (default: the dataset file's folder)");
      check
          ->add_option("--decode", args->options.decode_limit,
                       "Decode only the first N image files (0: none; default: every one)")
          ->check(CLI::NonNegativeNumber);
      check->add_flag("--exif-orientation", args->options.apply_exif_orientation,
                      "Rotate images by their EXIF tag before comparing sizes (as data.exif_orientation)");
      check->add_flag("--json", args->json, "Print the report as JSON");
      return [args] { return run_data_check(*args); };
    });

}  // namespace
}  // namespace coordexp::cli
