// coordexp: one program, subcommands registered by tools/cmd_*.cpp. User errors (InputError) print one
// clear line and exit 2; anything else unexpected exits 1 with its message.
#include <algorithm>
#include <iostream>
#include <map>

#include "command.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::cli {
std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}
}  // namespace coordexp::cli

int main(int argc, char** argv) {
  using namespace coordexp::cli;
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
