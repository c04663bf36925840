// `coordexp hf-tokenize --model DIR --text-file FILE`: the token ids of a UTF-8 text file with the model's
// tokenizer.json, printed as {"ids": [...]} (for parity checks against Hugging Face tokenizers). Needs no
// model weights, so it runs in the LibTorch-free `coordexp`.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "coordexp/text/bpe_tokenizer.hpp"

namespace coordexp::cli {
namespace {

namespace fs = std::filesystem;

const CommandRegistrar kTokenize(
    "hf-tokenize", "Token ids of a text file with a model's tokenizer.json", [](CLI::App& sub) {
      auto model_dir = std::make_shared<std::string>();
      auto text = std::make_shared<std::string>();
      sub.add_option("--model", *model_dir, "Model folder (tokenizer.json)")
          ->required()
          ->check(CLI::ExistingDirectory);
      sub.add_option("--text-file", *text, "UTF-8 text")->required()->check(CLI::ExistingFile);
      return [=]() -> int {
        const auto tok = BpeTokenizer::from_file(fs::path(*model_dir) / "tokenizer.json");
        std::ifstream f(*text, std::ios::binary);
        const std::string s((std::istreambuf_iterator<char>(f)), {});
        std::cout << nlohmann::json{{"ids", tok.encode(s)}}.dump() << "\n";
        return 0;
      };
    });

}  // namespace
}  // namespace coordexp::cli
