// The step profiler: self times of nested phases add up to the step, warm-up steps can be dropped, per-step
// counts are kept, timers without an active profiler record nothing, page faults are counted in the phase
// that causes them; and the allocator policy: freed memory is reused without faulting it in again.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "coordexp/util/allocator.hpp"
#include "coordexp/util/step_profile.hpp"

namespace coordexp {
namespace {

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

long page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt + u.ru_majflt;
}

double phase_wall(const StepProfiler::Step& s, const std::string& name) {
  const auto it = s.find(name);
  return it == s.end() ? -1 : it->second.wall;
}

TEST(StepProfiler, NestedPhasesAreSelfTimesThatAddUpToTheStep) {
  StepProfiler p;
  ASSERT_EQ(StepProfiler::active(), &p);
  p.begin_step();
  {
    PhaseTimer outer("criterion");
    sleep_ms(30);
    {
      PhaseTimer inner("matching");
      sleep_ms(50);
    }
  }
  sleep_ms(10);  // outside every phase: "other"
  p.count("tokens", 123);
  p.end_step();
  ASSERT_EQ(p.steps().size(), 1u);
  const auto& s = p.steps()[0];
  EXPECT_NEAR(phase_wall(s, "criterion"), 0.030, 0.015);  // its own 30 ms, not the 80 ms with the child
  EXPECT_NEAR(phase_wall(s, "matching"), 0.050, 0.015);
  EXPECT_NEAR(phase_wall(s, "other"), 0.010, 0.010);
  EXPECT_EQ(p.phase_order(), (std::vector<std::string>{"criterion", "matching", "other"}));
  const nlohmann::json j = p.to_json();
  EXPECT_NEAR(j["median_step_wall_s"].get<double>(), 0.090, 0.02);
  EXPECT_EQ(j["counts"]["tokens"][0].get<double>(), 123);
  EXPECT_NE(p.table().find("matching"), std::string::npos);
}

TEST(StepProfiler, WarmUpStepsAreDroppedAndTimersOutsideAStepIgnored) {
  StepProfiler p;
  {
    PhaseTimer t("before any step");  // not in a step: nothing recorded
  }
  for (int step = 0; step < 3; ++step) {
    p.begin_step();
    {
      PhaseTimer t("backward");
      sleep_ms(step == 0 ? 40 : 5);  // a slow first step, then dropped
    }
    p.count("step", step);
    p.end_step();
    if (step == 0) p.drop_last_step();
  }
  ASSERT_EQ(p.steps().size(), 2u);
  EXPECT_LT(phase_wall(p.steps()[0], "backward"), 0.030);
  EXPECT_EQ(p.counts()[0].at("step"), 1);
  EXPECT_EQ(p.phase_order(), (std::vector<std::string>{"backward", "other"}));
}

TEST(StepProfiler, TimersStartedWithoutAProfilerRecordNothing) {
  { StepProfiler gone; }
  EXPECT_EQ(StepProfiler::active(), nullptr);
  auto early = std::make_unique<PhaseTimer>("started before the profiler");
  StepProfiler p;
  p.begin_step();
  early.reset();  // ends inside the step, but it holds no profiler
  p.end_step();
  ASSERT_EQ(p.steps().size(), 1u);
  EXPECT_EQ(p.phase_order(), (std::vector<std::string>{"other"}));
}

TEST(StepProfiler, PageFaultsCountInThePhaseThatTouchesNewMemory) {
  constexpr size_t kBytes = 32 << 20;
  StepProfiler p;
  p.begin_step();
  {
    PhaseTimer t("touch");
    void* m = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    madvise(m, kBytes, MADV_NOHUGEPAGE);  // one fault per 4 KiB page
    auto* bytes = static_cast<volatile char*>(m);
    for (size_t i = 0; i < kBytes; i += 4096) bytes[i] = 1;
    munmap(m, kBytes);
    PhaseTimer quiet("quiet");  // nested, touches nothing new
  }
  p.end_step();
  const auto& step = p.steps().at(0);
  EXPECT_GE(step.at("touch").faults, 0.9 * kBytes / 4096);
  EXPECT_LT(step.at("quiet").faults, 64);
  const nlohmann::json j = p.to_json();
  EXPECT_GE(j["median_step_page_faults"].get<double>(), 0.9 * kBytes / 4096);
  EXPECT_NE(p.table().find("page faults"), std::string::npos);
}

// AddressSanitizer replaces malloc (its mallopt accepts nothing): the policy call then reports false.
#if defined(__SANITIZE_ADDRESS__)
#define COORDEXP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COORDEXP_TEST_ASAN 1
#endif
#endif

TEST(Allocator, KeepingFreedMemoryIsAcceptedByGlibc) {
#if defined(__GLIBC__) && !defined(COORDEXP_TEST_ASAN)
  EXPECT_TRUE(keep_freed_memory_for_reuse());
  std::vector<char> big(64 << 20, 1);  // served from the heap now; still ordinary memory
  EXPECT_EQ(big[12345], 1);
  // A step-sized buffer freed and allocated again is the same memory: no page is faulted in the second
  // time (the C library's default maps a block this size afresh each time: 65,536 faults at 4 KiB pages).
  constexpr size_t kBytes = 256 << 20;
  auto fill = [&] {
    std::unique_ptr<char[]> b(new char[kBytes]);
    for (size_t i = 0; i < kBytes; i += 4096) b[i] = static_cast<char>(i);
    return static_cast<int>(b[4096]);
  };
  fill();
  const long before = page_faults();
  EXPECT_EQ(fill(), 0);
  EXPECT_LT(page_faults() - before, 1000);
#else
  GTEST_SKIP() << "not glibc's malloc (AddressSanitizer's, or another C library's)";
#endif
}

}  // namespace
}  // namespace coordexp
