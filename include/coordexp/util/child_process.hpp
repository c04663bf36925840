// Child processes for long work run side by side (the ablation's concurrent runs, the local data-parallel
// launcher): start a program with its output in a log file, and describe how it ended.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace coordexp {

// Starts argv[0] (a path) with `argv`, standard output and error appended to `log_path` (created when
// missing). The child gets SIGTERM when this process dies, so an interrupted parent leaves no orphans
// training on. Returns the child's pid; a log that cannot be opened or a failed fork throws
// std::runtime_error naming it. A program that cannot be executed exits 127 with the reason in the log.
pid_t start_logged_process(const std::vector<std::string>& argv, const std::string& log_path);

// "exited with status 3", "was killed by signal Terminated", for a waitpid status.
std::string describe_exit_status(int status);

// True for a waitpid status of a normal exit with status 0.
bool exited_cleanly(int status);

}  // namespace coordexp
