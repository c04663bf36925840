// Logged child processes: output and errors land in the log, exit statuses are described, and a program that
// cannot be executed says why in its log.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "coordexp/util/child_process.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int wait_for(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

fs::path fresh_log(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("coordexp_child_" + std::to_string(::getpid()) + "_" + name);
  fs::remove(p);
  return p;
}

TEST(ChildProcess, OutputAndErrorsAreAppendedToTheLog) {
  const fs::path log = fresh_log("out.log");
  std::ofstream(log) << "before\n";
  const int status = wait_for(start_logged_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, log));
  EXPECT_FALSE(exited_cleanly(status));
  EXPECT_EQ(describe_exit_status(status), "exited with status 3");
  EXPECT_EQ(read_all(log), "before\nout\nerr\n");
  EXPECT_TRUE(exited_cleanly(wait_for(start_logged_process({"/bin/true"}, log))));
  fs::remove(log);
}

TEST(ChildProcess, SignalsAndUnexecutableProgramsAreDescribed) {
  const fs::path log = fresh_log("bad.log");
  const int status = wait_for(start_logged_process({"/nonexistent/program", "x"}, log));
  EXPECT_EQ(describe_exit_status(status), "exited with status 127");
  EXPECT_NE(read_all(log).find("cannot execute /nonexistent/program"), std::string::npos) << read_all(log);
  const int killed = wait_for(start_logged_process({"/bin/sh", "-c", "kill -TERM $$"}, log));
  EXPECT_NE(describe_exit_status(killed).find("killed by signal"), std::string::npos)
      << describe_exit_status(killed);
  EXPECT_THROW(start_logged_process({"/bin/true"}, "/nonexistent/folder/x.log"), std::runtime_error);
  EXPECT_THROW(start_logged_process({}, log), std::runtime_error);
  fs::remove(log);
}

}  // namespace
}  // namespace coordexp
