// Qwen2-VL chat format for detection (see qwen_chat_tokenizer.hpp).
#include "coordexp/text/qwen_chat_tokenizer.hpp"

#include <algorithm>

#include "coordexp/util/error.hpp"

namespace coordexp {

QwenChatTokenizer::QwenChatTokenizer(BpeTokenizer tokenizer, int num_bins, std::string system_prompt,
                                     const std::string& source)
    : bpe_(std::move(tokenizer)),
      ids_(add_coordinate_tokens(bpe_, num_bins)),
      system_prompt_(std::move(system_prompt)) {
  for (const char* t : {"<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|endoftext|>"})
    if (!bpe_.token_to_id(t))
      throw_input_error(source + ": added_tokens", std::string("a token ") + t, "none");
  im_end_ = *bpe_.token_to_id("<|im_end|>");
  pad_ = *bpe_.token_to_id("<|endoftext|>");
}

QwenChatTokenizer QwenChatTokenizer::load(const std::filesystem::path& tokenizer_json, int num_bins,
                                          std::string system_prompt) {
  return QwenChatTokenizer(BpeTokenizer::from_file(tokenizer_json), num_bins, std::move(system_prompt),
                           tokenizer_json.string());
}

std::vector<TokenId> QwenChatTokenizer::image_prefix_ids() const {
  return bpe_.encode("<|im_start|>system\n" + system_prompt_ +
                     "<|im_end|>\n<|im_start|>user\n<|vision_start|>");
}

std::vector<TokenId> QwenChatTokenizer::prompt_ids(const std::vector<std::string>& phrases) const {
  std::string request = "detect all";
  if (!phrases.empty()) {
    request = "detect: ";
    for (size_t i = 0; i < phrases.size(); ++i) {
      if (phrases[i].empty() || phrases[i].find_first_of(":;") != std::string::npos)
        throw_input_error("prompt phrase " + std::to_string(i), "non-empty text without ':' or ';'",
                          phrases[i]);
      request += (i ? "; " : "") + phrases[i];
    }
  }
  std::vector<TokenId> ids = bpe_.encode("<|vision_end|>");
  const auto body = bpe_.encode_plain(request);
  ids.insert(ids.end(), body.begin(), body.end());
  const auto tail = bpe_.encode("<|im_end|>\n<|im_start|>assistant\n");
  ids.insert(ids.end(), tail.begin(), tail.end());
  return ids;
}

TokenId QwenChatTokenizer::first_new_id() const {
  return std::min({ids_.coords.first_id(), ids_.obj_start, ids_.obj_end});
}

}  // namespace coordexp
