// coordexp: one program, subcommands registered by tools/cmd_*.cpp. User errors (InputError) print one
// clear line and exit 2; anything else unexpected exits 1 with its message.
//
// Built twice (tools/CMakeLists.txt): `coordexp` without LibTorch, which runs the subcommands that need no
// model and hands the others (torch_commands.hpp) to `coordexp-torch` beside it, and `coordexp-torch` with
// every subcommand.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "command.hpp"
#include "coordexp/util/error.hpp"
#include "torch_commands.hpp"

namespace coordexp::cli {

std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}

namespace {

#ifdef COORDEXP_TORCH_PROGRAM
// Replaces this process with the LibTorch program beside this one, same arguments; returns only on failure.
int run_torch_program(char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  std::string program =
      (error ? std::filesystem::path(argv[0]) : self).parent_path() / COORDEXP_TORCH_PROGRAM;
  argv[0] = program.data();
  ::execv(program.c_str(), argv);
  std::cerr << "coordexp: error: '" << argv[1] << "' runs in " << program
            << " (the LibTorch part of coordexp), which cannot be started: " << std::strerror(errno) << "\n";
  return 2;
}

// The LibTorch subcommands in this program's help; they never run here (main hands them over first).
void list_torch_commands() {
  for (const auto& c : kTorchCommands)
    command_registry().push_back({std::string(c.name), std::string(c.description), [](CLI::App& sub) {
                                    sub.allow_extras();
                                    return CommandRun([] { return 2; });
                                  }});
}
#endif

#ifdef COORDEXP_WITH_TORCH
// Every subcommand torch_commands.hpp lists for the front must be registered here.
void check_torch_commands() {
  for (const auto& c : kTorchCommands)
    if (std::none_of(command_registry().begin(), command_registry().end(),
                     [&](const CommandInfo& info) { return info.name == c.name; })) {
      std::cerr << "coordexp: internal error: '" << c.name
                << "' listed in torch_commands.hpp but not built\n";
      std::abort();
    }
}
#endif

}  // namespace
}  // namespace coordexp::cli

int main(int argc, char** argv) {
  using namespace coordexp::cli;
#ifdef COORDEXP_TORCH_PROGRAM
  if (argc > 1 && find_torch_command(argv[1])) return run_torch_program(argv);
  list_torch_commands();
#endif
#ifdef COORDEXP_WITH_TORCH
  check_torch_commands();
#endif
  CLI::App app{"coordexp: turn a vision-language LLM into an open-vocabulary detector"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "coordexp 0.1.0");
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<CLI::App*, CommandRun> runs;
  for (auto& cmd : registry) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.description);
    runs[sub] = cmd.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runs)
      if (sub->parsed()) return run();
  } catch (const coordexp::InputError& e) {
    std::cerr << "coordexp: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "coordexp: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
