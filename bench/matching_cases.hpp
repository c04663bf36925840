// The assignment benchmark's case files, read by bench_matching (coordexp) and by any other solver's driver
// given to bench/matching_vs_scipy.sh (LAPJV, built outside the repository). bench/matching_vs_scipy.py
// writes DIR/cases.txt, one line per case: "name num_rows num_cols count reps file", file holding count
// row-major float64 matrices. Each solver calls every matrix reps times and prints "name cpu_s_per_call
// wall_s_per_call checksum".
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace matching_bench {

struct Case {
  std::string name;
  int64_t num_rows = 0, num_cols = 0, count = 0, reps = 0;
  std::vector<double> costs;  // [count x num_rows x num_cols]
  const double* matrix(int64_t k) const { return costs.data() + k * num_rows * num_cols; }
};

inline std::vector<Case> read_cases(const std::string& dir) {
  std::ifstream list(dir + "/cases.txt");
  if (!list) throw std::runtime_error("cannot read " + dir + "/cases.txt");
  std::vector<Case> cases;
  Case c;
  std::string file;
  while (list >> c.name >> c.num_rows >> c.num_cols >> c.count >> c.reps >> file) {
    c.costs.resize(c.count * c.num_rows * c.num_cols);
    std::ifstream f(dir + "/" + file, std::ios::binary);
    f.read(reinterpret_cast<char*>(c.costs.data()), static_cast<std::streamsize>(c.costs.size() * 8));
    if (!f) throw std::runtime_error("short case file " + dir + "/" + file);
    cases.push_back(c);
  }
  return cases;
}

inline double seconds(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Runs body() once per call and prints the per-call process CPU time and wall time.
template <class Body>
void time_case(const std::string& name, int64_t calls, double checksum, Body body) {
  const double cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID), wall0 = seconds(CLOCK_MONOTONIC);
  body();
  const double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0, wall = seconds(CLOCK_MONOTONIC) - wall0;
  std::printf("%s %.9g %.9g %.17g\n", name.c_str(), cpu / calls, wall / calls, checksum);
  std::fflush(stdout);
}

}  // namespace matching_bench
