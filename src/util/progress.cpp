// Progress line rendering (see progress.hpp).
#include "coordexp/util/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace coordexp {

std::string format_duration(double s) {
  char buf[32];
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", static_cast<long>(t / 3600),
                  static_cast<long>(t % 3600 / 60));
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", static_cast<long>(t / 60), static_cast<long>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lds", static_cast<long>(t));
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t start, int64_t every)
    : label_(std::move(label)),
      total_(total),
      start_(start),
      every_(std::max<int64_t>(1, every)),
      done_(start),
      tty_(isatty(fileno(stderr))),
      t0_(std::chrono::steady_clock::now()) {}

double ProgressBar::rate() const {
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  return dt > 0 ? (done_ - start_) / dt : 0;
}

void ProgressBar::update(int64_t done, const std::string& terms) {
  done_ = done;
  if (!tty_ && done % every_ != 0 && done != total_) return;
  const double r = rate();
  const double eta = r > 0 ? (total_ - done) / r : 0;
  const int width = 24;
  const int filled = total_ > 0 ? static_cast<int>(width * static_cast<double>(done) / total_) : width;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "%s%s %ld/%ld [%s] %.2f/s ETA %s %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               static_cast<long>(done), static_cast<long>(total_), bar.c_str(), r,
               format_duration(eta).c_str(), terms.c_str(), tty_ ? "" : "\n");
  std::fflush(stderr);
}

void ProgressBar::note(const std::string& line) {
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& terms) {
  update(total_, terms);
  if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace coordexp
