// Local data-parallel worker launcher (see local_workers.hpp).
#include "local_workers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "coordexp/util/child_process.hpp"

namespace coordexp::cli {
namespace {

// This process's arguments, from /proc/self/cmdline.
std::vector<std::string> own_arguments() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::string cur;
  for (char c : all) {
    if (c == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return args;
}

// The arguments without "--nproc N" / "--nproc=N".
std::vector<std::string> without_nproc(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

// A port the kernel reports free on 127.0.0.1 (the usual bind-to-0 probe; a race with another program
// taking it in between shows up as the rendezvous's "port in use" error).
int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("finding a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

int run_local_workers(int nproc, int grace_seconds) {
  const auto args = without_nproc(own_arguments());
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string port = port_env && *port_env ? port_env : std::to_string(free_local_port());
  const char* addr_env = std::getenv("MASTER_ADDR");
  const std::string addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  std::cerr << "coordexp train: starting " << nproc << " workers, rendezvous at " << addr << ":" << port
            << "\n";
  std::map<pid_t, int> workers;  // pid -> rank
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::perror("coordexp train: exec");
      std::_Exit(127);
    }
    workers[pid] = rank;
  }
  int result = 0;
  bool failed = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (!workers.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failed ? WNOHANG : 0);
    if (pid > 0) {
      const int rank = workers.at(pid);
      workers.erase(pid);
      if (!exited_cleanly(status)) {
        std::cerr << "coordexp train: worker " << rank << " (pid " << pid << ") "
                  << describe_exit_status(status)
                  << (failed ? "" : "; the others stop within " + std::to_string(grace_seconds) + " s")
                  << "\n";
        result = 1;
        if (!failed) deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
        failed = true;
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed && std::chrono::steady_clock::now() > deadline) {
      for (const auto& [p, r] : workers) {
        std::cerr << "coordexp train: stopping worker " << r << " (pid " << p << ")\n";
        ::kill(p, SIGTERM);
      }
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3600);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return result;
}

}  // namespace coordexp::cli
