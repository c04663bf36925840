// Data-parallel training on PyTorch's c10d: the process group is read from the environment that torchrun
// and cluster launchers set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), rendezvous goes
// through a TCPStore served by rank 0, collectives run on Gloo. A world of one needs no environment and
// makes every collective a no-op, so the trainer has one code path.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace coordexp {

struct DistributedEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads the launcher variables; a world of one when WORLD_SIZE is unset. Malformed or inconsistent values
// are InputErrors naming the variable.
DistributedEnv distributed_env_from_environment();

class Communicator {
 public:
  // Connects to the group (blocks until every rank has joined or `timeout` passes). A port in use, an
  // unreachable master or a timeout are InputErrors naming MASTER_ADDR:MASTER_PORT.
  Communicator(const DistributedEnv& env, std::chrono::seconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }

  // Copies rank 0's values into every rank's tensors (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Sums every rank's gradients in place, in flat buckets of at most bucket_bytes; parameters without a
  // gradient take part as zeros so the buckets line up on every rank.
  void all_reduce_gradients(const std::vector<torch::Tensor>& parameters, int64_t bucket_bytes = 8 << 20);
  // Element-wise sum over ranks of a small vector.
  std::vector<double> all_reduce_sum(const std::vector<double>& values);
  void barrier();
  // Every rank's bytes, in rank order (sizes first, then one padded all-gather).
  std::vector<std::string> all_gather(const std::string& bytes);

  // Seconds spent inside collectives since construction (the communication share of a step).
  double communication_seconds() const { return comm_seconds_; }

 private:
  struct Impl;
  DistributedEnv env_;
  std::unique_ptr<Impl> impl_;
  double comm_seconds_ = 0;
};

}  // namespace coordexp
