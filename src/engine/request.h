#pragma once
// What a caller submits to the engine and what it gets back, step by step.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sampling/sampling_params.h"

namespace pagoda::grammar {
class Grammar;
}

namespace pagoda::engine {

using RequestId = uint64_t;

struct GenerationRequest {
  std::vector<int32_t> prompt;      // token ids; non-empty
  sampling::SamplingParams params;  // validated by the engine at submit
  int n = 1;                        // independent samples of the prompt (sharing its KV blocks)
  // -1: no logprobs. k >= 0: each generated token's log-probability (log-softmax of the raw
  // logits) and the k most likely alternatives.
  int top_logprobs = -1;
  // > 0: each generated token also carries the k highest raw logits (for traces / debugging).
  int top_logits = 0;
  // Constrained decoding: each sample only produces text of this grammar and stops (finish
  // "stop", no EOG token) once the grammar is complete and nothing may follow. null: unconstrained.
  std::shared_ptr<const grammar::Grammar> grammar;
};

enum class Finish {
  none,    // still generating
  stop,    // EOG id, stop token id or stop string
  length,  // max_tokens or the model's length
  abort,   // aborted by the caller
  error,   // the engine could not serve it (message in RequestOutput::error)
};
// "stop", "length", "abort", "error", "" for none.
const char* to_string(Finish f);

struct TokenLogprob {
  int32_t id;
  float value;  // a log-probability, or a raw logit for top_logits
};

// One generated token's probabilities.
struct TokenInfo {
  TokenLogprob chosen{0, 0.0f};          // the sampled token and its logprob (top_logprobs >= 0)
  std::vector<TokenLogprob> top;         // [top_logprobs] most likely, descending
  std::vector<TokenLogprob> top_logits;  // [top_logits] highest raw logits, descending
};

// What one of the n samples produced since the last output.
struct SequenceDelta {
  int index = 0;                 // 0 .. n-1
  std::vector<int32_t> tokens;   // new ids (their text may still be held back)
  std::string text;              // new UTF-8 text: never a partial character, never a stop string
  std::vector<TokenInfo> info;   // [tokens] when logprobs or top_logits were asked for
  Finish finish = Finish::none;  // set once, on this sequence's last delta
  std::optional<std::string> stop_string;  // the stop string that ended it
  std::optional<int32_t> stop_token;       // the EOG / stop id that ended it
};

struct RequestOutput {
  RequestId id = 0;
  std::vector<SequenceDelta> deltas;  // only sequences with news
  bool finished = false;              // every sequence is done; the last output of the request
  std::string error;                  // set with finish error
  int n_prompt_tokens = 0;
  int n_cached_tokens = 0;            // prompt tokens reused from the prefix cache (first admission)
  int n_generated_tokens = 0;         // all sequences, so far
  double time_to_first_token_ms = -1.0;  // set once the first token exists
  double elapsed_ms = 0.0;            // since submit
};

// Thread-safe queue of a request's outputs: the engine thread pushes (never
// blocking on the consumer), the caller pops. An optional notifier runs on the
// engine thread after each push (keep it cheap: e.g. post to an event loop).
class RequestStream {
 public:
  explicit RequestStream(RequestId id, std::function<void()> notify = {})
      : id_(id), notify_(std::move(notify)) {}
  RequestId id() const { return id_; }

  void push(RequestOutput out);
  // Waits for the next output; nullopt once the final output was taken.
  std::optional<RequestOutput> next();
  // Returns an output if one is ready, without waiting.
  std::optional<RequestOutput> try_next();
  bool done() const;

 private:
  RequestId id_;
  std::function<void()> notify_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<RequestOutput> queue_;
  bool final_pushed_ = false, final_taken_ = false;
};

}  // namespace pagoda::engine
