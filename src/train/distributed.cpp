// c10d process group for data-parallel training (see distributed.hpp).
#define USE_C10D_GLOO 1
#include "coordexp/train/distributed.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

// The integer in environment variable `name`, or `fallback` when unset.
int env_int(const char* name, int fallback, int min_value) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  int out = 0;
  const char* end = v + std::char_traits<char>::length(v);
  auto [p, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || p != end || out < min_value)
    throw_input_error(std::string("environment variable ") + name,
                      "an integer >= " + std::to_string(min_value), std::string("\"") + v + "\"");
  return out;
}

class Timer {
 public:
  explicit Timer(double& sink) : sink_(sink), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { sink_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  double& sink_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

DistributedEnv distributed_env_from_environment() {
  DistributedEnv env;
  env.world_size = env_int("WORLD_SIZE", 1, 1);
  env.rank = env_int("RANK", 0, 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0);
  env.master_port = env_int("MASTER_PORT", 29500, 1);
  if (const char* a = std::getenv("MASTER_ADDR"); a != nullptr && *a != '\0') env.master_addr = a;
  if (env.rank >= env.world_size)
    throw_input_error("environment variable RANK", "< WORLD_SIZE (" + std::to_string(env.world_size) + ")",
                      std::to_string(env.rank));
  if (env.master_port > 65535)
    throw_input_error("environment variable MASTER_PORT", "a port <= 65535", std::to_string(env.master_port));
  return env;
}

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  // Runs one collective and waits; a peer that died or hung becomes a runtime_error saying so.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("data parallel: ") + what +
                               " failed (another worker stopped or timed out): " + e.what());
    }
  }
};

Communicator::Communicator(const DistributedEnv& env, std::chrono::seconds timeout) : env_(env) {
  if (env.world_size == 1) return;
  impl_ = std::make_unique<Impl>();
  const std::string where = "data-parallel rendezvous at MASTER_ADDR:MASTER_PORT " + env.master_addr + ":" +
                            std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = env.rank == 0;
    o.numWorkers = static_cast<std::size_t>(env.world_size);
    o.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    options->threads = 2;
    impl_->group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    const std::string hint =
        msg.find("in use") != std::string::npos
            ? "the port is in use: set MASTER_PORT to a free port"
            : "is every worker started with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT?";
    if (msg.size() > 400) msg = msg.substr(0, 400) + "...";
    throw_input_error(
        where,
        std::to_string(env.world_size) + " workers joining within " + std::to_string(timeout.count()) + " s",
        "a failure: " + msg, hint);
  }
}

Communicator::~Communicator() = default;

void Communicator::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (!impl_) return;
  Timer t(comm_seconds_);
  torch::NoGradGuard ng;
  for (const auto& x : tensors) {
    std::vector<at::Tensor> v{x.is_contiguous() ? x : x.contiguous()};
    impl_->wait(impl_->group->broadcast(v), "broadcast");
    if (!x.is_contiguous()) x.copy_(v[0]);
  }
}

void Communicator::all_reduce_gradients(const std::vector<torch::Tensor>& parameters, int64_t bucket_bytes) {
  if (!impl_) return;
  Timer t(comm_seconds_);
  torch::NoGradGuard ng;
  size_t i = 0;
  while (i < parameters.size()) {
    // one bucket: consecutive parameters of one dtype up to bucket_bytes (at least one parameter)
    std::vector<torch::Tensor> grads;
    int64_t bytes = 0;
    const auto dtype = parameters[i].scalar_type();
    for (; i < parameters.size() && parameters[i].scalar_type() == dtype; ++i) {
      const auto& p = parameters[i];
      const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
      if (!grads.empty() && bytes + b > bucket_bytes) break;
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
      bytes += b;
    }
    std::vector<torch::Tensor> flat_views;
    for (auto& g : grads) flat_views.push_back(g.reshape({-1}));
    std::vector<at::Tensor> flat{torch::cat(flat_views)};
    impl_->wait(impl_->group->allreduce(flat), "gradient all-reduce");
    int64_t offset = 0;
    for (auto& g : grads) {
      g.copy_(flat[0].narrow(0, offset, g.numel()).view(g.sizes()));
      offset += g.numel();
    }
  }
}

std::vector<double> Communicator::all_reduce_sum(const std::vector<double>& values) {
  if (!impl_ || values.empty()) return values;
  Timer t(comm_seconds_);
  std::vector<at::Tensor> v{torch::tensor(values, torch::kDouble)};
  impl_->wait(impl_->group->allreduce(v), "metric all-reduce");
  return std::vector<double>(v[0].data_ptr<double>(), v[0].data_ptr<double>() + v[0].numel());
}

std::vector<std::string> Communicator::all_gather(const std::string& bytes) {
  if (!impl_) return {bytes};
  Timer t(comm_seconds_);
  const auto sizes = [&] {
    std::vector<double> mine(static_cast<size_t>(env_.world_size), 0.0);
    mine[static_cast<size_t>(env_.rank)] = static_cast<double>(bytes.size());
    return mine;
  }();
  std::vector<at::Tensor> size_in{torch::tensor(sizes, torch::kDouble)};
  impl_->wait(impl_->group->allreduce(size_in), "size all-reduce");
  const auto all_sizes = size_in[0];
  const int64_t longest = static_cast<int64_t>(all_sizes.max().item<double>());
  auto mine = torch::zeros({std::max<int64_t>(1, longest)}, torch::kUInt8);
  std::memcpy(mine.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  std::vector<at::Tensor> input{mine};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < env_.world_size; ++r) output[0].push_back(torch::empty_like(mine));
  impl_->wait(impl_->group->allgather(output, input), "all-gather");
  std::vector<std::string> out;
  for (int r = 0; r < env_.world_size; ++r)
    out.emplace_back(reinterpret_cast<const char*>(output[0][r].data_ptr<uint8_t>()),
                     static_cast<size_t>(all_sizes[r].item<double>()));
  return out;
}

void Communicator::barrier() {
  if (!impl_) return;
  Timer t(comm_seconds_);
  impl_->wait(impl_->group->barrier(), "barrier");
}

}  // namespace coordexp
