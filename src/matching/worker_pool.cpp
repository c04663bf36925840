// Worker pool (see worker_pool.hpp). A job lives in a shared_ptr that workers copy, so a worker that wakes
// after its caller returned only finds no task left; tasks are claimed with an atomic counter, and `seats`
// limits how many workers join one job.
#include "worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace coordexp::worker_pool {
namespace {

struct Job {
  const std::function<void(size_t)>* task;  // valid until done == n, when no task can be claimed any more
  size_t n;
  std::atomic<size_t> next{0}, done{0};
  std::atomic<int> seats;  // workers that may still join
};

class Pool {
 public:
  // Publishes the job to the workers, growing the pool to `workers` threads if needed.
  void post(const std::shared_ptr<Job>& job, size_t workers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (threads_.size() < workers) threads_.emplace_back([this] { loop(); });
      job_ = job;
      ++generation_;
    }
    work_.notify_all();
  }

  // Claims and runs tasks until none is left; the thread that finishes the last one wakes the waiters.
  void work_on(Job& job) {
    for (size_t k = job.next++; k < job.n; k = job.next++) {
      (*job.task)(k);
      if (++job.done == job.n) {
        std::lock_guard<std::mutex> lock(mu_);  // orders the wake-up after the waiter's predicate check
        done_.notify_all();
      }
    }
  }

  void wait(const std::shared_ptr<Job>& job) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return job->done == job->n; });
    if (job_ == job) job_.reset();
  }

 private:
  void loop() {
    uint64_t seen = 0;
    while (true) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        job = job_;
      }
      if (job && job->seats-- > 0) work_on(*job);
    }
  }

  std::mutex mu_;
  std::condition_variable work_, done_;
  std::vector<std::thread> threads_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
};

// Never destroyed: its threads sleep until the process ends, and no static destructor has to join them.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

void run(size_t n, int threads, const std::function<void(size_t)>& task) {
  const size_t workers = threads > 1 ? std::min(static_cast<size_t>(threads - 1), n > 0 ? n - 1 : 0) : 0;
  if (workers == 0) {
    for (size_t k = 0; k < n; ++k) task(k);
    return;
  }
  auto job = std::make_shared<Job>();
  job->task = &task;
  job->n = n;
  job->seats = static_cast<int>(workers);
  pool().post(job, workers);
  pool().work_on(*job);
  pool().wait(job);
}

}  // namespace coordexp::worker_pool
