// Private to src/eval: the evaluators' and the results loader's worker threads. parallel_for runs a loop's
// iterations on a few threads started for the loop; which thread runs an iteration never changes what it
// computes, so callers that write each iteration's result to its own place get the same bytes at any count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace coordexp::eval_internal {

// The number of workers `threads` asks for: 0 means std::thread::hardware_concurrency() (at least 1).
inline unsigned resolve_threads(unsigned threads) {
  return threads ? threads : std::max(1u, std::thread::hardware_concurrency());
}

// Runs fn(0) ... fn(n - 1) on `threads` workers (0: hardware_concurrency), handing out indices in order;
// the first exception thrown stops the handing out and is rethrown once every worker has finished.
template <typename Fn>
void parallel_for(size_t n, unsigned threads, Fn fn) {
  threads = unsigned(std::min<size_t>(resolve_threads(threads), n));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < threads; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n && !failed;) {
        try {
          fn(i);
        } catch (...) {
          if (!failed.exchange(true)) error = std::current_exception();
        }
      }
    });
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace coordexp::eval_internal
