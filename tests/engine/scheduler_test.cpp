// Scheduler + BlockManager driven by a fake model (no weights): each completed
// chunk "samples" a deterministic token. A shadow copy of the KV blocks
// (token ids instead of K/V rows) catches lost copies, writes into shared or
// cached blocks and wrong prefix hits.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace pagoda::engine {
namespace {

using State = SchedSequence::State;

struct Seq : SchedSequence {
  int uid = 0;
  int target = 0;              // finish when tokens.size() reaches this
  std::vector<Seq*> unforked;  // samples 1.. of a group, forked after the prompt
  bool in_scheduler = false;   // added, or forked
  bool ended = false;          // finished or aborted
  bool admitted_once = false;
};

int32_t fake_token(int uid, size_t len) {
  return static_cast<int32_t>((uid * 7919 + len * 104729) % 5000);
}

struct Config {
  std::string name;
  int n_blocks, block_size;
  bool prefix_caching;
  int max_num_seqs, max_batched;
  double p_group;  // chance that a request asks for n > 1 samples
};

// How often each behaviour happened, so a workload that never exercises it fails.
struct Stats {
  uint64_t steps = 0, preempted = 0, hits = 0, forks = 0, copies = 0, aborts = 0, partial = 0;
};

class Sim {
 public:
  Sim(const Config& c, uint32_t seed, Stats& stats)
      : cfg_(c),
        st_(stats),
        rng_(seed),
        blocks_(c.n_blocks, c.block_size, c.prefix_caching, 7),
        sched_({c.max_num_seqs, c.max_batched}, blocks_),
        shadow_(static_cast<size_t>(c.n_blocks),
                std::vector<int32_t>(static_cast<size_t>(c.block_size), -1)) {
    for (int i = 0; i < 3; ++i) {  // shared prompt stems, for prefix-cache hits
      std::vector<int32_t> s(static_cast<size_t>(pick(16, 120)));
      for (auto& t : s) t = pick(0, 4999);
      stems_.push_back(s);
    }
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  Seq* make(int n_prompt) {
    all_.push_back(std::make_unique<Seq>());
    Seq* s = all_.back().get();
    s->uid = static_cast<int>(all_.size());
    const int pool_tokens = cfg_.n_blocks * cfg_.block_size;  // each sequence fits the pool alone
    s->target = n_prompt + pick(1, std::min(40, pool_tokens - n_prompt));
    return s;
  }

  void arrive() {
    const int pool_tokens = cfg_.n_blocks * cfg_.block_size;
    const int n_prompt = pick(1, std::min(300, pool_tokens - 1));
    Seq* s = make(n_prompt);
    if (chance(0.6)) s->tokens = stems_[static_cast<size_t>(pick(0, 2))];  // shared prefix
    s->tokens.resize(std::min(s->tokens.size(), static_cast<size_t>(n_prompt)));
    while (static_cast<int>(s->tokens.size()) < n_prompt) s->tokens.push_back(pick(0, 4999));
    s->n_prompt = n_prompt;
    s->order = next_order_++;
    if (chance(cfg_.p_group)) {
      s->group = pick(2, std::min(4, cfg_.max_num_seqs));
      for (int i = 1; i < s->group; ++i) s->unforked.push_back(make(n_prompt));
    }
    s->in_scheduler = true;
    sched_.add(s);
  }

  void end(Seq* s) {  // finish or abort: the same call in the scheduler
    sched_.finish(s);
    ASSERT_EQ(s->state, State::done);
    ASSERT_TRUE(s->table.blocks.empty());
    s->ended = true;
  }

  void abort_random() {
    std::vector<Seq*> live;
    for (auto& s : all_)
      if (s->in_scheduler && !s->ended) live.push_back(s.get());
    if (live.empty()) return;
    Seq* s = live[static_cast<size_t>(pick(0, static_cast<int>(live.size()) - 1))];
    for (Seq* c : s->unforked) c->ended = true;  // aborting a request aborts its unstarted samples
    s->unforked.clear();
    ++st_.aborts;
    end(s);
  }

  // The shadow KV cell of position p of s.
  int32_t& cell(const SchedSequence* s, int p) {
    const kv::BlockId b = s->table.blocks[static_cast<size_t>(p / cfg_.block_size)];
    return shadow_[static_cast<size_t>(b)][static_cast<size_t>(p % cfg_.block_size)];
  }

  bool idle() const { return sched_.running().empty() && sched_.waiting().empty(); }

  // One engine step (schedule, fake forward, sample) with every check.
  void step() {
    ++step_;
    ++st_.steps;
    SCOPED_TRACE(testing::Message() << cfg_.name << " step " << step_);
    const std::vector<SchedSequence*> run_before = sched_.running();
    const std::deque<SchedSequence*> wait_before = sched_.waiting();
    std::vector<int> computed_before;
    for (SchedSequence* s : run_before) computed_before.push_back(s->n_computed);
    const SchedulerCounters c0 = sched_.counters();

    StepPlan plan = sched_.schedule();
    ASSERT_NO_THROW(sched_.check_invariants());
    ASSERT_LE(plan.n_tokens, cfg_.max_batched);
    ASSERT_LE(static_cast<int>(sched_.running().size()), cfg_.max_num_seqs);
    const int bs = cfg_.block_size;

    // Victims are the most recently started, newest first; they go back to
    // the front of the queue holding nothing, oldest in front.
    const size_t n_pre = plan.preempted.size();
    ASSERT_LE(n_pre, run_before.size());
    for (size_t k = 0; k < n_pre; ++k) {
      SchedSequence* v = plan.preempted[k];
      ASSERT_EQ(v, run_before[run_before.size() - 1 - k]);
      ASSERT_EQ(v->state, State::waiting);
      ASSERT_TRUE(v->table.blocks.empty());
      ASSERT_EQ(v->n_computed, 0);
      ASSERT_EQ(v->slot, -1);
      ASSERT_EQ(sched_.waiting()[n_pre - 1 - k], v);
      for (const auto& c : plan.chunks) ASSERT_NE(c.seq, v) << "a preempted sequence got a chunk";
    }
    ASSERT_EQ(sched_.counters().preemptions - c0.preemptions, n_pre);
    st_.preempted += n_pre;

    // The oldest running sequence always progresses: it fits the pool alone.
    if (!run_before.empty()) {
      ASSERT_FALSE(plan.chunks.empty());
      ASSERT_EQ(plan.chunks[0].seq, run_before[0]);
    }
    if (plan.chunks.empty()) {
      ASSERT_TRUE(n_pre > 0 || idle()) << "stalled with work queued (deadlock)";
    }

    // Continuing sequences first in start order, then admissions in queue order.
    int sum = 0;
    size_t next_running = 0, next_waiting = 0;
    uint64_t query = 0, hit = 0;
    for (const ScheduledChunk& c : plan.chunks) {
      SchedSequence* s = c.seq;
      sum += c.n_tokens;
      st_.partial += !c.completes;
      ASSERT_GE(c.n_tokens, 1);
      ASSERT_EQ(s->state, State::running);
      ASSERT_LE(s->n_computed + c.n_tokens, static_cast<int>(s->tokens.size()));
      ASSERT_EQ(c.completes, s->n_computed + c.n_tokens == static_cast<int>(s->tokens.size()));
      ASSERT_GE(static_cast<int64_t>(s->table.blocks.size()) * bs, s->n_computed + c.n_tokens);
      auto it =
          std::find(run_before.begin() + static_cast<long>(next_running), run_before.end(), s);
      if (it != run_before.end()) {
        ASSERT_EQ(next_waiting, 0u) << "running sequences are planned before admissions";
        next_running = static_cast<size_t>(it - run_before.begin()) + 1;
        ASSERT_EQ(s->n_computed, computed_before[next_running - 1])
            << "chunk must continue at n_computed";
      } else {
        // FCFS: the admitted are exactly the head of the queue, in order.
        ASSERT_LT(next_waiting, wait_before.size());
        ASSERT_EQ(s, wait_before[next_waiting++]);
        ASSERT_EQ(s->n_computed % bs, 0);
        ASSERT_LT(s->n_computed, static_cast<int>(s->tokens.size()));
        if (!cfg_.prefix_caching) {
          ASSERT_EQ(s->n_computed, 0);
        }
        query += s->tokens.size();
        hit += static_cast<uint64_t>(s->n_computed);
        auto* q = static_cast<Seq*>(s);
        if (!q->admitted_once) {
          q->admitted_once = true;
          ASSERT_EQ(s->n_cached_tokens, s->n_computed);
          first_admissions_.push_back(s->order);
        }
      }
    }
    ASSERT_EQ(sum, plan.n_tokens);
    const SchedulerCounters& c1 = sched_.counters();
    ASSERT_EQ(c1.prefix_query_tokens - c0.prefix_query_tokens, cfg_.prefix_caching ? query : 0);
    ASSERT_EQ(c1.prefix_hit_tokens - c0.prefix_hit_tokens, cfg_.prefix_caching ? hit : 0);
    st_.hits += hit;

    // Shadow KV: copies first, then every write lands in a private, uncached block.
    const kv::BlockPool& pool = blocks_.pool();
    st_.copies += plan.copies.size();
    for (const kv::BlockCopy& cp : plan.copies) {
      ASSERT_EQ(pool.ref_count(cp.dst), 1);
      shadow_[static_cast<size_t>(cp.dst)] = shadow_[static_cast<size_t>(cp.src)];
    }
    for (const ScheduledChunk& c : plan.chunks) {
      for (int p = c.seq->n_computed; p < c.seq->n_computed + c.n_tokens; ++p) {
        const kv::BlockId b = c.seq->table.blocks[static_cast<size_t>(p / bs)];
        ASSERT_EQ(pool.ref_count(b), 1) << "write into a shared block";
        ASSERT_FALSE(pool.is_registered(b)) << "write into a cached block";
        cell(c.seq, p) = c.seq->tokens[static_cast<size_t>(p)];
      }
    }
    sched_.on_computed(plan);
    for (SchedSequence* s : sched_.running())
      for (int p = 0; p < s->n_computed; ++p)
        ASSERT_EQ(cell(s, p), s->tokens[static_cast<size_t>(p)])
            << "KV content of position " << p << " is wrong";

    // "Sample": a leader at the end of its prompt forks its samples first.
    for (const ScheduledChunk& c : plan.chunks) {
      if (!c.completes) continue;
      auto* s = static_cast<Seq*>(c.seq);
      std::vector<Seq*> samplers{s};
      if (static_cast<int>(s->tokens.size()) == s->n_prompt) {
        for (Seq* child : s->unforked) {
          child->tokens = s->tokens;
          child->n_prompt = s->n_prompt;
          child->order = s->order;
          ASSERT_TRUE(sched_.fork(s, child));
          ++st_.forks;
          child->in_scheduler = true;
          child->admitted_once = true;
          ASSERT_EQ(child->n_computed, s->n_computed);
          ASSERT_EQ(child->table.blocks, s->table.blocks);
          samplers.push_back(child);
        }
        s->unforked.clear();
        SchedSequence extra;
        ASSERT_FALSE(sched_.fork(s, &extra)) << "no slots left to fork into";
        ASSERT_EQ(s->group, 1);
      }
      for (Seq* q : samplers) {
        q->tokens.push_back(fake_token(q->uid, q->tokens.size()));
        if (static_cast<int>(q->tokens.size()) >= q->target) end(q);
      }
    }
    ASSERT_NO_THROW(sched_.check_invariants());
  }

  // Runs a workload: arrivals, aborts, then drains; checks the end state.
  void run(int n_requests, double p_arrive, double p_abort) {
    int arrived = 0;
    const int max_steps = 60000;
    while (arrived < n_requests || !idle()) {
      ASSERT_LT(step_, max_steps) << "no progress (livelock)";
      while (arrived < n_requests && chance(p_arrive)) {
        arrive();
        ++arrived;
        if (chance(0.5)) break;
      }
      if (chance(p_abort)) {
        ASSERT_NO_FATAL_FAILURE(abort_random());
      }
      ASSERT_NO_FATAL_FAILURE(step());
    }
    // Everything finished or aborted, every block back, counters add up.
    uint64_t n_preemptions = 0;
    for (auto& s : all_) {
      ASSERT_TRUE(s->ended) << "sequence " << s->uid << " never finished";
      ASSERT_TRUE(s->unforked.empty());
      n_preemptions += static_cast<uint64_t>(s->n_preemptions);
    }
    EXPECT_EQ(blocks_.pool().n_in_use(), 0);
    EXPECT_EQ(sched_.counters().preemptions, n_preemptions);
    EXPECT_LE(sched_.counters().prefix_hit_tokens, sched_.counters().prefix_query_tokens);
    EXPECT_TRUE(std::is_sorted(first_admissions_.begin(), first_admissions_.end()))
        << "FCFS broken";
    EXPECT_EQ(std::adjacent_find(first_admissions_.begin(), first_admissions_.end()),
              first_admissions_.end());
    blocks_.pool().check_invariants();
  }

 private:
  Config cfg_;
  Stats& st_;
  std::mt19937 rng_;
  kv::BlockManager blocks_;
  Scheduler sched_;
  std::vector<std::vector<int32_t>> shadow_;  // [n_blocks][block_size] token "K/V"
  std::vector<std::vector<int32_t>> stems_;
  std::vector<std::unique_ptr<Seq>> all_;
  std::vector<uint64_t> first_admissions_;  // arrival order of each first admission
  uint64_t next_order_ = 0;
  int step_ = 0;
};

// Each workload is sized so that the behaviour it targets actually happens
// (asserted below), so a test cannot pass by never exercising it.
const Config kConfigs[] = {
    {"chunked_no_cache", 24, 16, false, 8, 48, 0.0},
    {"cache_small_pool", 24, 16, true, 8, 256, 0.2},
    {"tiny_budget", 40, 16, true, 6, 5, 0.2},
    {"groups_big_budget", 64, 16, true, 16, 2048, 0.5},
    {"small_blocks", 80, 4, true, 12, 64, 0.3},
};

TEST(Scheduler, RandomWorkloadsKeepEveryInvariant) {
  for (const Config& c : kConfigs) {
    Stats st;
    for (uint32_t seed : {1u, 7u, 2024u}) {
      SCOPED_TRACE(testing::Message() << c.name << " seed " << seed);
      Sim sim(c, seed, st);
      ASSERT_NO_FATAL_FAILURE(sim.run(120, 0.4, 0.02));
    }
    EXPECT_GT(st.steps, 1000u) << c.name;
    EXPECT_GT(st.preempted, 0u) << c.name << ": the pool never ran out";
    EXPECT_GT(st.aborts, 0u) << c.name;
    EXPECT_EQ(st.hits > 0, c.prefix_caching) << c.name << ": prefix-cache hits";
    EXPECT_EQ(st.partial > 0, c.max_batched < 300) << c.name << ": prompts chunked";
    EXPECT_EQ(st.forks > 0, c.p_group > 0) << c.name;
    EXPECT_EQ(st.copies > 0, c.p_group > 0) << c.name << ": copy-on-write";
  }
}

// A sequence whose prompt is `tokens`, n samples.
std::unique_ptr<Seq> prompt(std::vector<int32_t> tokens, int n = 1) {
  auto s = std::make_unique<Seq>();
  s->n_prompt = static_cast<int>(tokens.size());
  s->tokens = std::move(tokens);
  s->group = n;
  return s;
}

// Two prompts sharing 3 full blocks: the second, admitted after the first's
// prompt is computed, starts at 48 and the counters say so.
TEST(Scheduler, SharedPrefixIsReusedAfterItIsComputed) {
  kv::BlockManager blocks(32, 16, true, 7);
  Scheduler sched({4, 2048}, blocks);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) ta.push_back(i);
  for (int i = 0; i < 58; ++i) tb.push_back(i < 48 ? i : 1000 + i);  // ta's 3 full blocks, then not
  auto pa = prompt(ta), pb = prompt(tb);
  Seq &a = *pa, &b = *pb;
  sched.add(&a);
  StepPlan p1 = sched.schedule();
  ASSERT_EQ(p1.chunks.size(), 1u);
  EXPECT_EQ(p1.chunks[0].n_tokens, 50);
  EXPECT_TRUE(p1.chunks[0].completes);
  sched.on_computed(p1);
  a.tokens.push_back(7);

  sched.add(&b);
  StepPlan p2 = sched.schedule();
  ASSERT_EQ(p2.chunks.size(), 2u);
  EXPECT_EQ(p2.chunks[0].seq, &a);
  EXPECT_EQ(p2.chunks[0].n_tokens, 1);
  EXPECT_EQ(p2.chunks[1].seq, &b);
  EXPECT_EQ(b.n_computed, 48);
  EXPECT_EQ(b.n_cached_tokens, 48);
  EXPECT_EQ(p2.chunks[1].n_tokens, 10);
  EXPECT_EQ(sched.counters().prefix_hit_tokens, 48u);
  EXPECT_EQ(sched.counters().prefix_query_tokens, 50u + 58u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.table.blocks[static_cast<size_t>(i)], a.table.blocks[static_cast<size_t>(i)]);
    EXPECT_EQ(blocks.pool().ref_count(a.table.blocks[static_cast<size_t>(i)]), 2);
  }
  EXPECT_NE(b.table.blocks[3], a.table.blocks[3]);
  sched.check_invariants();
  sched.finish(&a);
  sched.finish(&b);
  EXPECT_EQ(blocks.pool().n_in_use(), 0);
  EXPECT_EQ(blocks.pool().n_cached(), 3);
}

// Out of blocks: the newest sequence is preempted, the older one proceeds.
TEST(Scheduler, PreemptsTheMostRecentlyStarted) {
  kv::BlockManager blocks(4, 16, false, 7);
  Scheduler sched({4, 2048}, blocks);
  auto pa = prompt(std::vector<int32_t>(32, 1)), pb = prompt(std::vector<int32_t>(30, 2));
  Seq &a = *pa, &b = *pb;
  sched.add(&a);
  sched.add(&b);
  StepPlan p1 = sched.schedule();
  ASSERT_EQ(p1.chunks.size(), 2u);
  sched.on_computed(p1);
  a.tokens.push_back(3);  // position 32 needs a third block for a
  b.tokens.push_back(4);
  StepPlan p2 = sched.schedule();
  ASSERT_EQ(p2.preempted, std::vector<SchedSequence*>{&b});
  ASSERT_EQ(p2.chunks.size(), 1u);
  EXPECT_EQ(p2.chunks[0].seq, &a);
  EXPECT_EQ(sched.waiting().front(), &b);
  EXPECT_EQ(b.n_computed, 0);
  EXPECT_EQ(b.n_preemptions, 1);
  EXPECT_EQ(sched.counters().preemptions, 1u);
  sched.check_invariants();
  sched.on_computed(p2);
  sched.finish(&a);
  // b is recomputed from scratch: prompt and generated token together.
  StepPlan p3 = sched.schedule();
  ASSERT_EQ(p3.chunks.size(), 1u);
  EXPECT_EQ(p3.chunks[0].n_tokens, 31);
  sched.finish(&b);
  EXPECT_EQ(blocks.pool().n_in_use(), 0);
}

// n = 3 with a partial last prompt block: two writers copy it, the last one
// writes in place.
TEST(Scheduler, ForkedSamplesCopyTheSharedPartialBlock) {
  kv::BlockManager blocks(16, 16, true, 7);
  Scheduler sched({3, 2048}, blocks);
  auto pl = prompt(std::vector<int32_t>(20, 5), 3), pt = prompt(std::vector<int32_t>(4, 6));
  Seq &lead = *pl, c1, c2, &late = *pt;
  sched.add(&lead);
  sched.add(&late);
  StepPlan p1 = sched.schedule();
  ASSERT_EQ(p1.chunks.size(), 1u) << "the group's reserved slots keep `late` waiting";
  sched.on_computed(p1);
  for (Seq* c : {&c1, &c2}) {
    c->tokens = lead.tokens;
    c->n_prompt = 20;
    ASSERT_TRUE(sched.fork(&lead, c));
  }
  const kv::BlockId partial = lead.table.blocks[1];
  EXPECT_EQ(blocks.pool().ref_count(partial), 3);
  for (Seq* s : {&lead, &c1, &c2})
    s->tokens.push_back(static_cast<int32_t>(s->tokens.size() + (s == &c2)));
  StepPlan p2 = sched.schedule();
  ASSERT_EQ(p2.chunks.size(), 3u);
  ASSERT_EQ(p2.copies.size(), 2u);
  for (const auto& cp : p2.copies) EXPECT_EQ(cp.src, partial);
  EXPECT_EQ(c2.table.blocks[1], partial);
  EXPECT_NE(lead.table.blocks[1], c1.table.blocks[1]);
  EXPECT_EQ(lead.table.blocks[0], c2.table.blocks[0]) << "the full block stays shared";
  sched.check_invariants();
  for (Seq* s : {&lead, &c1, &c2, &late}) sched.finish(s);
  EXPECT_EQ(blocks.pool().n_in_use(), 0);
}

}  // namespace
}  // namespace pagoda::engine
