// The engine's bookkeeping cost and the paged pool's capacity, without a model:
//  - BM_SchedulerStep: one schedule() + on_computed() + token append with N
//    running decode sequences (must be negligible next to a decode step).
//  - BM_PagedCapacity: how many sequences a fixed KV budget holds at once,
//    paged (blocks on demand, shared prefix blocks) against llama-server's
//    contiguous layout (each of -np slots reserves n_ctx / np positions).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "engine/scheduler.h"
#include "kv/block_manager.h"

namespace {

using pagoda::engine::SchedSequence;

void BM_SchedulerStep(benchmark::State& state) {
  const int n_seqs = static_cast<int>(state.range(0));
  const int block_size = 16, prompt = 500;
  pagoda::kv::BlockManager blocks(n_seqs * (prompt / block_size + 64), block_size, true, 1);
  pagoda::engine::Scheduler sched({n_seqs, 1 << 20}, blocks);
  std::vector<std::unique_ptr<SchedSequence>> seqs;
  std::mt19937 rng(1);
  for (int i = 0; i < n_seqs; ++i) {
    auto s = std::make_unique<SchedSequence>();
    for (int t = 0; t < prompt; ++t) s->tokens.push_back(static_cast<int32_t>(rng() % 32000));
    s->n_prompt = prompt;
    sched.add(s.get());
    seqs.push_back(std::move(s));
  }
  auto step = [&] {
    auto plan = sched.schedule();
    sched.on_computed(plan);
    for (const auto& c : plan.chunks)
      if (c.completes) c.seq->tokens.push_back(static_cast<int32_t>(c.seq->tokens.size() % 32000));
    return plan.n_tokens;
  };
  step();  // prefill everything once
  int generated = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(step());
    // Keep sequences bounded: restart one that grew long (as if it finished).
    if (++generated % 512 == 0) {
      for (auto& s : seqs) {
        sched.finish(s.get());
        s->tokens.resize(static_cast<size_t>(prompt));
        s->n_computed = 0;
        sched.add(s.get());
      }
      state.PauseTiming();
      step();
      state.ResumeTiming();
    }
  }
  state.counters["running"] = static_cast<double>(sched.running().size());
}
BENCHMARK(BM_SchedulerStep)->Arg(32)->Arg(256)->Unit(benchmark::kMicrosecond);

// Peak and mean number of sequences resident at once when a stream of
// requests (max length 1024) is served from a budget of budget_tokens KV
// positions. Lengths: prompt + output, both random; `shared` prompt tokens
// are a common system prompt.
struct Workload {
  int budget_tokens;
  int shared;         // common prefix tokens
  bool full_length;   // every sequence uses all 1024 positions
};

void BM_PagedCapacity(benchmark::State& state) {
  const Workload w{16 * 1024, static_cast<int>(state.range(0)), state.range(1) != 0};
  const int block_size = 16, max_len = 1024, n_requests = 400;
  double mean_running = 0, peak_running = 0;
  for (auto _ : state) {
    pagoda::kv::BlockManager blocks(w.budget_tokens / block_size, block_size, true, 1);
    pagoda::engine::Scheduler sched({1024, 1 << 20}, blocks);
    std::mt19937 rng(7);
    std::vector<std::unique_ptr<SchedSequence>> seqs;
    std::vector<int> target;  // total length each sequence stops at
    std::vector<int32_t> system(static_cast<size_t>(w.shared));
    for (auto& t : system) t = static_cast<int32_t>(rng() % 32000);
    for (int i = 0; i < n_requests; ++i) {
      auto s = std::make_unique<SchedSequence>();
      const int total = w.full_length ? max_len : w.shared + 32 + static_cast<int>(rng() % (max_len - w.shared - 32));
      const int n_prompt = w.full_length ? max_len / 2 : w.shared + 16 + static_cast<int>(rng() % (total - w.shared - 16));
      s->tokens = system;
      while (static_cast<int>(s->tokens.size()) < n_prompt) s->tokens.push_back(static_cast<int32_t>(rng() % 32000));
      s->n_prompt = n_prompt;
      target.push_back(total);
      sched.add(s.get());
      seqs.push_back(std::move(s));
    }
    double sum = 0;
    int steps = 0, peak = 0;
    while (!sched.running().empty() || !sched.waiting().empty()) {
      auto plan = sched.schedule();
      sched.on_computed(plan);
      for (const auto& c : plan.chunks) {
        if (!c.completes) continue;
        SchedSequence* s = c.seq;
        const size_t index = static_cast<size_t>(std::find_if(seqs.begin(), seqs.end(), [&](auto& p) { return p.get() == s; }) - seqs.begin());
        if (static_cast<int>(s->tokens.size()) >= target[index]) sched.finish(s);
        else s->tokens.push_back(static_cast<int32_t>(rng() % 32000));
      }
      const int running = static_cast<int>(sched.running().size());
      peak = std::max(peak, running);
      sum += running;
      ++steps;
    }
    mean_running = sum / steps;
    peak_running = peak;
  }
  state.counters["contiguous_slots"] = w.budget_tokens / max_len;
  state.counters["paged_peak"] = peak_running;
  state.counters["paged_mean"] = mean_running;
}
// (shared prefix tokens, every sequence 1024 long?)
BENCHMARK(BM_PagedCapacity)->Args({0, 1})->Args({256, 1})->Args({0, 0})->Args({256, 0})->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
