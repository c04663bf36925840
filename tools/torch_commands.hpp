// The subcommands that need LibTorch (they build or run a model). `coordexp` is free of LibTorch: it lists
// these in its help and hands them, with all their arguments, to `coordexp-torch` beside it (exec), so the
// subcommands without a model (eval, synth, data, hf-tokenize) start in milliseconds. `coordexp-torch`
// registers them with the descriptions below (torch_command_description aborts on a name missing here,
// and its main() checks that every name here is registered).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace coordexp::cli {

struct TorchCommand {
  std::string_view name;
  std::string_view description;
};

inline constexpr TorchCommand kTorchCommands[] = {
    {"ablate", "Run the variants of an ablation plan (same data, seeds, budget) and compare them"},
    {"hf-extend", "Add K coordinate tokens and <obj_start>/<obj_end> to a Qwen2-VL checkpoint"},
    {"hf-generate", "Greedy continuation (no grammar) of input ids and an image"},
    {"hf-logits", "Logits of every input position for an image and input ids (.npy)"},
    {"hf-tiny", "Write a tiny random Qwen2-VL / Qwen2.5-VL checkpoint"},
    {"predict", "Detect objects with a trained run; write COCO results and pictures"},
    {"train", "Train the tiny V-LLM detector from a JSON config"},
};

inline const TorchCommand* find_torch_command(std::string_view name) {
  for (const auto& c : kTorchCommands)
    if (c.name == name) return &c;
  return nullptr;
}

// The description of a LibTorch subcommand; a name not in kTorchCommands is a programming error.
inline std::string torch_command_description(std::string_view name) {
  if (const TorchCommand* c = find_torch_command(name)) return std::string(c->description);
  std::fprintf(stderr, "coordexp: internal error: subcommand '%.*s' missing from tools/torch_commands.hpp\n",
               int(name.size()), name.data());
  std::abort();
}

}  // namespace coordexp::cli
