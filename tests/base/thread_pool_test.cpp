#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <stdexcept>
#include <vector>

#include "base/expected.h"
#include "base/half.h"

namespace pagoda {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, [&](int64_t t, int thread) {
    ASSERT_LT(thread, pool.size());
    hits[t]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

// Back-to-back loops of a few tasks, the regime in which a worker can wake after a loop's tasks
// are all claimed: every task runs once, inside its own loop (a task run late would count in the
// next loop's array, at the same address).
TEST(ThreadPool, BackToBackLoopsRunEachTaskOnceInsideTheirLoop) {
  ThreadPool pool(4);
  for (int call = 0; call < 10000; ++call) {
    const int n = 1 + call % 5;
    std::array<std::atomic<int>, 5> hits{};
    pool.parallel_for(n, [&](int64_t t, int) { hits[static_cast<size_t>(t)]++; });
    for (int t = 0; t < 5; ++t) ASSERT_EQ(hits[static_cast<size_t>(t)].load(), t < n ? 1 : 0) << "call " << call;
  }
}

TEST(ThreadPool, RangesCoverEverythingOnce) {
  ThreadPool pool(2);
  std::vector<int> seen(777, 0);
  pool.parallel_range(777, 10, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) seen[i]++;
  });
  for (int v : seen) EXPECT_EQ(v, 1);
}

TEST(ThreadPool, ExceptionInWorkerReachesCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(64, [](int64_t t, int) {
                 if (t == 37) throw Exception("task 37 failed");
               }),
               Exception);
  // The pool stays usable afterwards.
  std::atomic<int> n{0};
  pool.parallel_for(10, [&](int64_t, int) { n++; });
  EXPECT_EQ(n.load(), 10);
}

TEST(Half, RoundTripsAndRoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7C00);  // overflow -> inf
  EXPECT_EQ(fp16_to_fp32(0x0001), 5.9604645e-08f);  // smallest subnormal
  // 1 + 2^-11 is halfway between 1 and the next fp16: ties go to even (1.0).
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1.0p-11f), 0x3C00);
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
}

TEST(Expected, CarriesValueOrError) {
  Expected<int> good = 3;
  Expected<int> bad = Error{"nope"};
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "nope");
  EXPECT_THROW(bad.value(), Exception);
  auto captured = capture([]() -> int { throw Exception("boom"); });
  EXPECT_EQ(captured.error().message, "boom");
}

}  // namespace
}  // namespace pagoda
