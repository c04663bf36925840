// The LibTorch-free `coordexp` front (tools/main.cpp): it runs eval / synth / data / hf-tokenize itself,
// lists every subcommand, and hands the model subcommands to coordexp-torch beside it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

Result run(const std::string& command) {
  Result r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const std::string kCli = COORDEXP_CLI;

TEST(CliFront, DoesNotLinkLibTorch) {
  // A program linked against LibTorch names libtorch_cpu.so and libc10.so among its needed libraries.
  const std::string program = read_file(kCli);
  ASSERT_GT(program.size(), 100000u);
  EXPECT_EQ(program.find("libtorch"), std::string::npos);
  EXPECT_EQ(program.find("libc10.so"), std::string::npos);
}

TEST(CliFront, RunsTheSubcommandsWithoutAModelItself) {
  for (const char* sub : {"eval", "synth", "data", "hf-tokenize"}) {
    const Result r = run(kCli + " " + sub + " --help");
    EXPECT_EQ(r.status, 0) << sub << "\n" << r.output;
    EXPECT_NE(r.output.find("--"), std::string::npos) << sub;
  }
}

#ifdef COORDEXP_TORCH_CLI
TEST(CliFront, ListsAndHandsOverTheModelSubcommands) {
  const Result help = run(kCli + " --help");
  ASSERT_EQ(help.status, 0) << help.output;
  const Result torch_help = run(std::string(COORDEXP_TORCH_CLI) + " --help");
  ASSERT_EQ(torch_help.status, 0) << torch_help.output;
  // The same subcommands and descriptions in the same order (the usage line names each program).
  const auto subcommands = [](const std::string& text) {
    return text.substr(std::min(text.find("Subcommands:"), text.size()));
  };
  EXPECT_NE(help.output.find("Subcommands:"), std::string::npos) << help.output;
  EXPECT_EQ(subcommands(help.output), subcommands(torch_help.output));
  for (const char* sub : {"train", "predict", "ablate", "hf-tiny", "hf-extend", "hf-logits", "hf-generate"})
    EXPECT_NE(help.output.find(sub), std::string::npos) << sub;
  // Options after the subcommand reach coordexp-torch: its own help for train, and its own errors.
  const Result train_help = run(kCli + " train --help");
  EXPECT_EQ(train_help.status, 0);
  EXPECT_NE(train_help.output.find("--config"), std::string::npos) << train_help.output;
  const Result bad = run(kCli + " train --config /nonexistent/config.json");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("/nonexistent/config.json"), std::string::npos) << bad.output;
}

TEST(CliFront, SaysWhichProgramIsMissing) {
  const fs::path dir = fs::temp_directory_path() / ("coordexp_front_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kCli, dir / "coordexp", fs::copy_options::overwrite_existing);
  const Result r = run((dir / "coordexp").string() + " train --config x.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find((dir / "coordexp-torch").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cannot be started"), std::string::npos) << r.output;
  fs::remove_all(dir);
}
#endif

}  // namespace
