// Data-parallel training through the command line (`coordexp train --nproc 2`, Gloo on loopback): the same
// parameters as one process with the doubled batch, a dead worker stops the others with a clear message
// and --resume continues, a port in use is a clear error.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/distributed.hpp"
#include "coordexp/train/train_config.hpp"
#include "coordexp/util/error.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

fs::path work_dir() {
  return testing::test_root();
}

TrainConfig config(const std::string& name, int64_t batch, int64_t steps) {
  TrainConfig c;
  c.data.train_json = (work_dir() / "data" / "train.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 32, c.model.patch_size = 16;
  c.model.vision_width = 16, c.model.vision_heads = 2, c.model.vision_layers = 1;
  c.model.width = 32, c.model.heads = 4, c.model.layers = 1, c.model.ffn_width = 48;
  c.criterion.matching = MatchingMode::kHungarian;
  c.optim.steps = steps, c.optim.batch_size = batch, c.optim.warmup_steps = 2, c.optim.lr = 2e-3;
  c.run.out_dir = (work_dir() / name).string();
  c.run.threads = 1;
  c.run.log_every = 1;
  c.run.checkpoint_every = 2;
  c.run.dist_timeout_s = 20;
  return c;
}

// Writes the config and runs `coordexp train --config ... <extra>`; returns the exit status, stderr in *log.
int run_cli(const TrainConfig& c, const std::string& extra, std::string* log, const std::string& env = "") {
  const fs::path cfg = fs::path(c.run.out_dir).string() + ".json";
  std::ofstream(cfg) << train_config_to_json(c);
  const fs::path err = fs::path(c.run.out_dir).string() + ".log";
  const std::string cmd = env + " " + COORDEXP_CLI + " train --config " + cfg.string() + " --no-eval " +
                          extra + " > /dev/null 2> " + err.string();
  const int status = std::system(cmd.c_str());
  std::stringstream s;
  s << std::ifstream(err).rdbuf();
  if (log) *log = s.str();
  return status;
}

std::vector<torch::Tensor> parameters_of(const TrainConfig& c, int64_t* step = nullptr) {
  const int64_t V = WordTokenizer::load((fs::path(c.run.out_dir) / "tokenizer.json").string()).vocab_size();
  TinyVlmConfig m = c.model;
  m.vocab_size = V;
  auto model = build_tiny_vlm(m);
  const auto meta = load_checkpoint((fs::path(c.run.out_dir) / "checkpoint.pt").string(), *model, nullptr, V);
  if (step) *step = meta.step;
  return model->parameters();
}

double max_abs_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

TEST(DataParallel, TwoWorkersMatchOneProcessWithTheDoubledBatch) {
  const TrainConfig one = config("one_b8", 8, 20), two = config("two_b4", 4, 20),
                    small = config("one_b4", 4, 20);
  std::string log;
  ASSERT_EQ(run_cli(one, "", &log), 0) << log;
  ASSERT_EQ(run_cli(two, "--nproc 2", &log), 0) << log;
  EXPECT_NE(log.find("2 data-parallel workers"), std::string::npos) << log;
  ASSERT_EQ(run_cli(small, "", &log), 0) << log;
  const auto p1 = parameters_of(one), p2 = parameters_of(two), p_small = parameters_of(small);
  ASSERT_EQ(p1.size(), p2.size());
  const double same = max_abs_difference(p1, p2), other = max_abs_difference(p1, p_small);
  std::cout << "max |parameter difference| after 20 steps: 2x4 vs 1x8 " << same << ", 1x4 vs 1x8 " << other
            << "\n";
  // the same global batch gives the same parameters up to float summation order ...
  EXPECT_LT(same, 1e-4);
  // ... and the comparison can tell batches apart: one worker's half batch alone ends elsewhere
  EXPECT_GT(other, 1e-3);
}

// Evaluation is sharded over the workers and gathered by rank 0: the report covers every val image, in
// dataset order, with as many generated objects as one process gets from the same checkpoint.
TEST(DataParallel, ShardedEvaluationCoversEveryImage) {
  TrainConfig c = config("eval", 4, 4);
  c.data.val_json = (work_dir() / "data" / "val.json").string();
  c.generation.max_new_tokens = 24;
  std::string log;
  const fs::path cfg = c.run.out_dir + ".json";
  std::ofstream(cfg) << train_config_to_json(c);
  const std::string err = c.run.out_dir + ".log";
  ASSERT_EQ(std::system((std::string(COORDEXP_CLI) + " train --nproc 2 --config " + cfg.string() +
                         " > /dev/null 2> " + err)
                            .c_str()),
            0);
  const auto j = nlohmann::json::parse(std::ifstream(fs::path(c.run.out_dir) / "eval_val.json"));
  EXPECT_EQ(j.at("images").get<int>(), 8);
  // the same checkpoint in one process
  const fs::path single = fs::path(c.run.out_dir).string() + "_single";
  ASSERT_EQ(std::system((std::string(COORDEXP_CLI) + " predict --run " + c.run.out_dir + " --input " +
                         c.data.val_json + " --out " + single.string() + " > /dev/null 2>> " + err)
                            .c_str()),
            0);
  const auto sharded = nlohmann::json::parse(std::ifstream(fs::path(c.run.out_dir) / "detections_val.json"));
  ASSERT_GT(sharded.size(), 0u);  // generation under the grammar writes objects even when untrained
  std::vector<int64_t> ids;
  for (const auto& d : sharded) ids.push_back(d.at("image_id").get<int64_t>());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  for (const auto& entry : fs::directory_iterator(single)) {
    if (entry.path().extension() != ".json" || entry.path().filename().string().rfind("detections", 0) != 0)
      continue;
    const auto one = nlohmann::json::parse(std::ifstream(entry.path()));
    EXPECT_EQ(one.size(), sharded.size()) << entry.path();
  }
}

TEST(DataParallel, ADeadWorkerStopsTheOthersAndResumeContinues) {
  const TrainConfig c = config("dies", 4, 12);
  std::string log;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(run_cli(c, "--nproc 2", &log, "COORDEXP_FAULT_KILL=1:5"), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
  EXPECT_NE(log.find("worker 1"), std::string::npos) << log;
  EXPECT_NE(log.find("killed by signal"), std::string::npos) << log;
  EXPECT_NE(log.find("another worker stopped"), std::string::npos) << log;
  int64_t step = 0;
  parameters_of(c, &step);
  EXPECT_EQ(step, 4);  // the last checkpoint before the kill, intact
  ASSERT_EQ(run_cli(c, "--nproc 2 --resume", &log), 0) << log;
  parameters_of(c, &step);
  EXPECT_EQ(step, 12);
}

TEST(DataParallel, APortInUseIsAClearError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  TrainConfig c = config("port", 4, 4);
  c.run.dist_timeout_s = 5;
  std::string log;
  EXPECT_NE(run_cli(c, "--nproc 2", &log, "MASTER_PORT=" + std::to_string(ntohs(a.sin_port))), 0);
  ::close(fd);
  EXPECT_NE(log.find("MASTER_PORT"), std::string::npos) << log;
  EXPECT_NE(log.find("in use"), std::string::npos) << log;
}

TEST(DataParallel, MalformedLauncherVariablesAreNamed) {
  ::setenv("WORLD_SIZE", "two", 1);
  EXPECT_THROW(distributed_env_from_environment(), InputError);
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "2", 1);
  try {
    distributed_env_from_environment();
    ADD_FAILURE() << "RANK >= WORLD_SIZE accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK"), std::string::npos);
  }
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("RANK");
  EXPECT_EQ(distributed_env_from_environment().world_size, 1);
}

}  // namespace
}  // namespace coordexp
