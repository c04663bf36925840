// A process-wide pool of worker threads for many small independent tasks (the batched assignment solver).
// The calling thread always works too and returns as soon as every task is done: it never waits for a worker
// that has not started, which on a loaded machine can take a scheduler time slice (milliseconds) per thread.
#pragma once

#include <cstddef>
#include <functional>

namespace coordexp::worker_pool {

// Runs task(k) for every k in [0, n), each exactly once, on the calling thread and up to threads - 1 pool
// workers (started on first use, kept for later calls). task must not throw. Safe to call from several
// threads at once.
void run(size_t n, int threads, const std::function<void(size_t)>& task);

}  // namespace coordexp::worker_pool
