// The step planner: running sequences first (oldest first), then FCFS admission.
#include "engine/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "base/expected.h"

namespace pagoda::engine {

Scheduler::Scheduler(SchedulerConfig config, kv::BlockManager& blocks) : config_(config), blocks_(blocks) {
  for (int s = config_.max_num_seqs - 1; s >= 0; --s) free_slots_.push_back(s);
}

void Scheduler::add(SchedSequence* seq) {
  seq->state = SchedSequence::State::waiting;
  waiting_.push_back(seq);
}

int Scheduler::take_slot() {
  const int slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void Scheduler::remove_running(SchedSequence* seq) {
  auto it = std::find(running_.begin(), running_.end(), seq);
  if (it != running_.end()) running_.erase(it);
  if (seq->slot >= 0) free_slots_.push_back(seq->slot);
  seq->slot = -1;
}

// A group leader that has not forked yet holds group - 1 extra slots.
void Scheduler::release_reserved(SchedSequence* seq) {
  if (seq->state == SchedSequence::State::running && seq->group > 1) reserved_slots_ -= seq->group - 1;
}

void Scheduler::preempt(SchedSequence* seq) {
  release_reserved(seq);
  remove_running(seq);
  blocks_.free(seq->table);
  seq->n_computed = 0;
  seq->state = SchedSequence::State::waiting;
  ++seq->n_preemptions;
  ++counters_.preemptions;
  waiting_.push_front(seq);
}

StepPlan Scheduler::schedule() {
  StepPlan plan;
  int budget = config_.max_num_batched_tokens;
  // Running sequences, oldest first; the newest are preempted when blocks run out.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    SchedSequence* s = running_[i];
    const int n_new = std::min(static_cast<int>(s->tokens.size()) - s->n_computed, budget);
    if (n_new <= 0) {
      ++i;
      continue;
    }
    bool scheduled = false;
    while (true) {
      if (blocks_.reserve(s->table, s->n_computed, s->n_computed + n_new, plan.copies)) {
        scheduled = true;
        break;
      }
      SchedSequence* victim = running_.back();
      preempt(victim);
      plan.preempted.push_back(victim);
      if (victim == s) break;
    }
    if (!scheduled) break;  // s itself was the newest: nothing after it is running
    const bool completes = s->n_computed + n_new == static_cast<int>(s->tokens.size());
    plan.chunks.push_back({s, n_new, completes});
    plan.n_tokens += n_new;
    budget -= n_new;
    ++i;
  }
  if (!plan.preempted.empty()) return plan;

  // Admission, first come first served: stop at the first that does not fit.
  while (!waiting_.empty() && budget > 0) {
    SchedSequence* s = waiting_.front();
    if (static_cast<int>(running_.size()) + reserved_slots_ + s->group > config_.max_num_seqs) break;
    const int n_tokens = static_cast<int>(s->tokens.size());
    // The last token is always computed, so a full hit still yields logits.
    const int hit = blocks_.match_prefix(s->tokens, n_tokens - 1, s->table);
    const int n_new = std::min(n_tokens - hit, budget);
    if (!blocks_.reserve(s->table, hit, hit + n_new, plan.copies)) {
      blocks_.free(s->table);
      break;
    }
    if (blocks_.pool().prefix_caching()) {
      counters_.prefix_query_tokens += static_cast<uint64_t>(n_tokens);
      counters_.prefix_hit_tokens += static_cast<uint64_t>(hit);
    }
    waiting_.pop_front();
    s->n_computed = hit;
    if (s->n_cached_tokens < 0) s->n_cached_tokens = hit;
    s->state = SchedSequence::State::running;
    s->slot = take_slot();
    if (s->group > 1) reserved_slots_ += s->group - 1;
    running_.push_back(s);
    const bool completes = hit + n_new == n_tokens;
    plan.chunks.push_back({s, n_new, completes});
    plan.n_tokens += n_new;
    budget -= n_new;
  }
  return plan;
}

void Scheduler::on_computed(const StepPlan& plan) {
  for (const ScheduledChunk& c : plan.chunks) {
    c.seq->n_computed += c.n_tokens;
    blocks_.commit(c.seq->table, c.seq->tokens, c.seq->n_computed);
  }
}

bool Scheduler::fork(SchedSequence* parent, SchedSequence* child) {
  if (parent->state != SchedSequence::State::running || parent->group <= 1) return false;
  --parent->group;
  --reserved_slots_;
  child->table = blocks_.fork(parent->table);
  child->n_computed = parent->n_computed;
  child->n_cached_tokens = parent->n_cached_tokens;
  child->group = 1;
  child->state = SchedSequence::State::running;
  child->slot = take_slot();
  running_.push_back(child);
  return true;
}

void Scheduler::finish(SchedSequence* seq) {
  if (seq->state == SchedSequence::State::done) return;
  if (seq->state == SchedSequence::State::waiting) {
    auto it = std::find(waiting_.begin(), waiting_.end(), seq);
    if (it != waiting_.end()) waiting_.erase(it);
  } else {
    release_reserved(seq);
    remove_running(seq);
  }
  blocks_.free(seq->table);
  seq->state = SchedSequence::State::done;
}

void Scheduler::check_invariants() const {
  blocks_.pool().check_invariants();
  std::map<kv::BlockId, int> owners;
  std::vector<int> slot_used(static_cast<size_t>(config_.max_num_seqs), 0);
  int reserved = 0;
  for (const SchedSequence* s : running_) {
    if (s->state != SchedSequence::State::running) throw Exception("running sequence not in running state");
    if (s->slot < 0 || s->slot >= config_.max_num_seqs || slot_used[static_cast<size_t>(s->slot)]++)
      throw Exception(fmt::format("slot {} invalid or used twice", s->slot));
    if (s->n_computed < 0 || s->n_computed > static_cast<int>(s->tokens.size()))
      throw Exception("n_computed out of range");
    if (static_cast<int64_t>(s->table.blocks.size()) * blocks_.block_size() < s->n_computed)
      throw Exception("computed tokens beyond the block table");
    for (kv::BlockId b : s->table.blocks) ++owners[b];
    if (s->group > 1) reserved += s->group - 1;
  }
  for (const SchedSequence* s : waiting_) {
    if (s->state != SchedSequence::State::waiting) throw Exception("waiting sequence not in waiting state");
    if (!s->table.blocks.empty() || s->slot >= 0) throw Exception("waiting sequence holds blocks or a slot");
  }
  if (reserved != reserved_slots_) throw Exception("reserved slot count wrong");
  if (static_cast<int>(running_.size()) + reserved_slots_ > config_.max_num_seqs) throw Exception("too many sequences");
  if (free_slots_.size() + running_.size() != static_cast<size_t>(config_.max_num_seqs))
    throw Exception("slot leaked");
  const kv::BlockPool& pool = blocks_.pool();
  int in_use = 0;
  for (const auto& [b, n] : owners) {
    if (pool.ref_count(b) != n)
      throw Exception(fmt::format("block {} held by {} tables but ref_count {}", b, n, pool.ref_count(b)));
    ++in_use;
  }
  if (in_use != pool.n_in_use()) throw Exception(fmt::format("{} blocks in use but {} held", pool.n_in_use(), in_use));
}

}  // namespace pagoda::engine
