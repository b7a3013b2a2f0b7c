#include "grammar/stacks.h"

#include <algorithm>

namespace pagoda::grammar {
namespace {

// Expansion work bound: a safety net against pathological grammars (legit ones use a handful).
constexpr size_t kMaxExpansion = 1 << 14;

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  return x;
}

void sort_unique(std::vector<Config>& v) {
  if (v.size() < 2) return;
  std::sort(v.begin(), v.end(), [](const Config& a, const Config& b) { return a.key() < b.key(); });
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

size_t Stacks::slot_of(uint32_t state, uint32_t parent) const {
  return static_cast<size_t>(mix((uint64_t{state} << 32) | parent)) & (table_.size() - 1);
}

void Stacks::rehash(size_t slots) {
  table_.assign(slots, 0);
  for (uint32_t i = 0; i < frames_.size(); ++i) {
    size_t s = slot_of(frames_[i].state, frames_[i].parent);
    while (table_[s] != 0) s = (s + 1) & (table_.size() - 1);
    table_[s] = i + 1;
  }
}

uint32_t Stacks::intern(uint32_t state, uint32_t parent) {
  if (table_.empty() || (frames_.size() + 1) * 2 > table_.size()) rehash(std::max<size_t>(64, table_.size() * 2));
  size_t s = slot_of(state, parent);
  while (table_[s] != 0) {
    const Frame& f = frames_[table_[s] - 1];
    if (f.state == state && f.parent == parent) return table_[s] - 1;
    s = (s + 1) & (table_.size() - 1);
  }
  frames_.push_back({state, parent});
  table_[s] = static_cast<uint32_t>(frames_.size());
  return static_cast<uint32_t>(frames_.size() - 1);
}

void Stacks::truncate(size_t mark) {
  // Undoing the newest insertion first restores the table exactly: nothing inserted earlier
  // probed past a slot that was still empty at the time.
  while (frames_.size() > mark) {
    const Frame& f = frames_.back();
    size_t s = slot_of(f.state, f.parent);
    while (table_[s] != frames_.size()) s = (s + 1) & (table_.size() - 1);
    table_[s] = 0;
    frames_.pop_back();
  }
}

void Stacks::step(std::span<const Config> in, uint8_t byte, std::vector<Config>& out) const {
  out.clear();
  for (const Config& c : in) {
    const uint32_t t = g_->step(c.state, byte);
    if (t != kDead) out.push_back({t, c.frame});
  }
  sort_unique(out);
}

bool Stacks::expand(std::vector<Config>& configs) {
  bool simple = true;
  for (const Config& c : configs)
    if (g_->flag(c.state) & (kAccepting | kHasCalls)) simple = false;
  if (simple) return false;  // the common case: every top just keeps scanning

  bool completed = false;
  out_.clear();
  work_.assign(configs.begin(), configs.end());
  size_t n_seen = 0;
  seen_.assign(64, ~uint64_t{0});
  auto insert_seen = [&](uint64_t key) {
    if ((n_seen + 1) * 2 > seen_.size()) {
      std::vector<uint64_t> old(seen_.size() * 2, ~uint64_t{0});
      old.swap(seen_);
      for (uint64_t k : old)
        if (k != ~uint64_t{0}) {
          size_t s = mix(k) & (seen_.size() - 1);
          while (seen_[s] != ~uint64_t{0}) s = (s + 1) & (seen_.size() - 1);
          seen_[s] = k;
        }
    }
    size_t s = mix(key) & (seen_.size() - 1);
    while (seen_[s] != ~uint64_t{0}) {
      if (seen_[s] == key) return false;
      s = (s + 1) & (seen_.size() - 1);
    }
    seen_[s] = key;
    ++n_seen;
    return true;
  };
  while (!work_.empty() && n_seen < kMaxExpansion) {
    const Config c = work_.back();
    work_.pop_back();
    if (!insert_seen(c.key())) continue;
    const uint8_t f = g_->flag(c.state);
    if (f & kHasBytes) out_.push_back(c);
    if (f & kHasCalls) {
      for (uint32_t i = g_->call_begin[c.state]; i < g_->call_begin[c.state + 1]; ++i) {
        const CallEdge& e = g_->calls[i];
        work_.push_back({e.callee_start, intern(e.ret, c.frame)});
      }
    }
    if (f & kAccepting) {
      if (c.frame == kDead) {
        completed = true;
      } else {
        const Frame fr = frames_[c.frame];
        work_.push_back({fr.state, fr.parent});
      }
    }
  }
  sort_unique(out_);
  if (out_.size() > kMaxConfigs) out_.resize(kMaxConfigs);
  configs.swap(out_);
  return completed;
}

void Stacks::compact(std::vector<Config>& configs) {
  std::vector<Frame> old;
  old.swap(frames_);
  frames_.reserve(old.size());
  table_.clear();
  std::vector<uint32_t> remap(old.size(), kDead);
  std::vector<uint32_t> chain;
  for (Config& c : configs) {
    // Copy the frames under c bottom-up, stopping at the first one already copied.
    chain.clear();
    for (uint32_t f = c.frame; f != kDead && remap[f] == kDead; f = old[f].parent) chain.push_back(f);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Frame& fr = old[*it];
      remap[*it] = intern(fr.state, fr.parent == kDead ? kDead : remap[fr.parent]);
    }
    if (c.frame != kDead) c.frame = remap[c.frame];
  }
  sort_unique(configs);
}

void Stacks::assign(const Stacks& other) {
  g_ = other.g_;
  frames_.assign(other.frames_.begin(), other.frames_.end());
  table_.assign(other.table_.begin(), other.table_.end());
}

}  // namespace pagoda::grammar
