#pragma once
// Parse configurations of a CompiledGrammar and the two moves on them: step (consume a byte)
// and expand (enter calls, return from finished rules).
//
// A configuration is (top state, frame): the frame is the rest of the stack, a linked list of
// return states kept in an arena. Frames are hash-consed, so two configurations are the same
// parse state exactly when their (state, frame) pairs are equal; that makes deduplication a
// sort. The arena is LIFO (mark / truncate), which the vocabulary walk uses to backtrack.
#include <cstdint>
#include <span>
#include <vector>

#include "grammar/grammar_rules.h"

namespace pagoda::grammar {

struct Config {
  uint32_t state;
  uint32_t frame;  // kDead: the stack below is empty (the start rule)
  uint64_t key() const { return (uint64_t{state} << 32) | frame; }
  bool operator==(const Config&) const = default;
};

struct Frame {
  uint32_t state;   // where the caller continues
  uint32_t parent;  // kDead at the bottom
};

// At most this many configurations are kept (the lowest (state, frame) ones): only highly
// ambiguous recursive grammars get there, and the kept ones are still valid parses.
inline constexpr size_t kMaxConfigs = 256;

class Stacks {
 public:
  Stacks() = default;
  explicit Stacks(const CompiledGrammar* g) : g_(g) {}

  const CompiledGrammar& grammar() const { return *g_; }
  // Index of frame (state, parent), created when new.
  uint32_t intern(uint32_t state, uint32_t parent);
  const Frame& frame(uint32_t i) const { return frames_[i]; }
  size_t mark() const { return frames_.size(); }
  // Forgets the frames created since `mark` (in LIFO order).
  void truncate(size_t mark);

  // out = the configurations of `in` that can consume `byte`, advanced over it (not expanded).
  void step(std::span<const Config> in, uint8_t byte, std::vector<Config>& out) const;
  // Replaces raw configurations by the scanning ones they lead to without consuming input:
  // calls entered, finished rules returned from. Sorted, unique, at most kMaxConfigs. Returns
  // true when the start rule itself finished (the text so far is complete).
  bool expand(std::vector<Config>& configs);
  // Drops frames no configuration uses and renumbers the rest (after accepting input).
  void compact(std::vector<Config>& configs);
  // Same frames as other (reusing this object's memory).
  void assign(const Stacks& other);

 private:
  void rehash(size_t slots);
  size_t slot_of(uint32_t state, uint32_t parent) const;

  const CompiledGrammar* g_ = nullptr;
  std::vector<Frame> frames_;
  std::vector<uint32_t> table_;  // open addressing: frame index + 1, 0 = empty
  // expand's scratch
  std::vector<Config> work_, out_;
  std::vector<uint64_t> seen_;  // open addressing set of Config keys, ~0 = empty
};

}  // namespace pagoda::grammar
