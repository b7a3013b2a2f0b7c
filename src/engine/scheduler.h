#pragma once
// Token-budget scheduler (vLLM v1 style): no prefill or decode modes. Each
// step gives every running sequence min(tokens not yet computed, budget left)
// tokens, oldest first, then admits waiting sequences first come, first
// served, with chunked prefill. When the pool runs out of blocks the most
// recently started sequence is preempted: its blocks are freed and it is
// recomputed later (reusing whatever prefix is still cached).
//
// Knows sequences only through SchedSequence (tokens, progress, blocks); never
// includes model/ or kernels/. Not thread-safe: owned by the engine loop.
#include <cstdint>
#include <deque>
#include <vector>

#include "kv/block_manager.h"

namespace pagoda::engine {

struct SchedSequence {
  std::vector<int32_t> tokens;  // prompt + generated; the last one may not be computed yet
  int n_prompt = 0;
  int n_computed = 0;           // tokens[0, n_computed) have K/V in `table`
  kv::BlockTable table;
  int slot = -1;                // KV slot while running
  enum class State { waiting, running, done } state = State::waiting;
  // Slots this sequence needs on admission: 1, or n for the first sample of an
  // n > 1 request whose other samples fork from it after its prompt.
  int group = 1;
  int n_cached_tokens = -1;     // prefix-cache hit at first admission (-1: not admitted yet)
  int n_preemptions = 0;
  uint64_t order = 0;           // arrival order (FCFS)
};

struct SchedulerConfig {
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
};

// Tokens [seq->n_computed, seq->n_computed + n_tokens) are computed this step.
struct ScheduledChunk {
  SchedSequence* seq;
  int n_tokens;
  bool completes;  // reaches the end of seq->tokens: its last row's logits are sampled
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;
  std::vector<kv::BlockCopy> copies;         // block copies to make before the forward
  std::vector<SchedSequence*> preempted;     // moved back to waiting this step
  int n_tokens = 0;
  bool empty() const { return chunks.empty(); }
};

struct SchedulerCounters {
  uint64_t preemptions = 0;
  uint64_t prefix_query_tokens = 0;  // prompt tokens looked up in the prefix cache
  uint64_t prefix_hit_tokens = 0;    // of which found
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, kv::BlockManager& blocks);

  // Queues a new sequence (state waiting) at the back.
  void add(SchedSequence* seq);
  // Plans the next step; may preempt running sequences.
  StepPlan schedule();
  // Records that the plan's chunks were computed (n_computed advances, full
  // blocks enter the prefix cache).
  void on_computed(const StepPlan& plan);
  // Starts `child` (which has the same tokens as running `parent` up to
  // parent->n_computed) sharing parent's blocks, in one of the slots reserved
  // by parent's group. Returns false if parent reserved no more slots.
  bool fork(SchedSequence* parent, SchedSequence* child);
  // Ends a sequence in any state: frees its blocks, slot and reserved slots.
  void finish(SchedSequence* seq);

  const std::deque<SchedSequence*>& waiting() const { return waiting_; }
  const std::vector<SchedSequence*>& running() const { return running_; }
  const SchedulerCounters& counters() const { return counters_; }
  const SchedulerConfig& config() const { return config_; }
  kv::BlockManager& blocks() { return blocks_; }

  // Throws pagoda::Exception on a broken invariant (tests): every block owned
  // as often as tables hold it, slots unique, states consistent.
  void check_invariants() const;

 private:
  void preempt(SchedSequence* seq);
  int take_slot();
  void remove_running(SchedSequence* seq);
  void release_reserved(SchedSequence* seq);

  SchedulerConfig config_;
  kv::BlockManager& blocks_;
  std::deque<SchedSequence*> waiting_;
  std::vector<SchedSequence*> running_;  // in start order: preemption takes the back
  std::vector<int> free_slots_;
  int reserved_slots_ = 0;  // slots held for forks not made yet
  SchedulerCounters counters_;
};

}  // namespace pagoda::engine
