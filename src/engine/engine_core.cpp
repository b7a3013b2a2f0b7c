// The engine step: schedule, run the batch through the model, sample, stream.
#include "engine/engine_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "base/log.h"
#include "dist/communicator.h"
#include "grammar/grammar.h"
#include "sampling/logit_ops.h"
#include "sampling/sampler.h"
#include "sampling/stop_checker.h"

namespace pagoda::engine {

using Clock = std::chrono::steady_clock;

namespace {
double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
constexpr int kMaxLogprobs = 20;
std::string kv_description(KvType k, KvType v) {
  return k == v ? std::string(kv_type_name(k)) : fmt::format("K {}, V {}", kv_type_name(k), kv_type_name(v));
}
}  // namespace

// One of a request's n samples: scheduling state plus its own sampler, stop
// checker and detokenizer.
struct EngineCore::Sequence : SchedSequence {
  Active* owner = nullptr;
  int index = 0;
  bool forked = false;  // false for samples 1.. until they fork from sample 0
  std::optional<sampling::Sampler> sampler;
  std::optional<sampling::StopChecker> stop;
  std::optional<tokenizer::IncrementalDetokenizer> detok;
  std::optional<grammar::GrammarMatcher> matcher;  // constrained requests: this sample's parse state
  int n_generated = 0;
  Finish finish = Finish::none;
  Clock::time_point last_token;
  SequenceDelta pending;  // news since the last output
  bool has_news = false;
};

struct EngineCore::Active {
  RequestId id = 0;
  GenerationRequest request;
  std::shared_ptr<RequestStream> stream;
  std::vector<std::unique_ptr<Sequence>> seqs;
  Clock::time_point arrival;
  std::optional<Clock::time_point> first_token;
  int n_generated = 0;
  int n_done = 0;
  std::string error;
  bool touched = false;
};

EngineCore::EngineCore(model::Model& model, const tokenizer::Tokenizer& tok, const EngineConfig& config,
                       ThreadPool& pool)
    : model_(model), tok_(tok), config_(config), threads_(pool) {}

EngineCore::~EngineCore() {
  if (tp_) {
    tp_bytes_ = encode_tp_stop();
    tp_->broadcast(tp_bytes_, 0);
  }
}

namespace {
// Tells the workers of a tensor-parallel job that rank 0 will not start an engine.
void stop_workers(dist::Communicator* tp) {
  if (!tp) return;
  std::vector<uint8_t> bytes = encode_tp_stop();
  tp->broadcast(bytes, 0);
}
}  // namespace

Expected<std::unique_ptr<EngineCore>> EngineCore::create(model::Model& model, const tokenizer::Tokenizer& tok,
                                                         const EngineConfig& config, ThreadPool& pool,
                                                         dist::Communicator* tp) {
  if (tp && tp->size() <= 1) tp = nullptr;
  if (tp && tp->rank() != 0) return Error{"only rank 0 of a tensor-parallel job runs the engine"};
  auto core = create_alone(model, tok, config, pool);
  if (!core) {
    stop_workers(tp);
    return core.error();
  }
  if (tp) {
    const PoolPlan& p = (*core)->plan_;
    TpSetup setup{p.n_blocks, p.block_size, std::max(1, config.max_num_seqs), p.max_model_len, config.k_type,
                  config.v_type};
    (*core)->tp_bytes_ = encode_tp_setup(setup);
    tp->broadcast((*core)->tp_bytes_, 0);
    (*core)->tp_ = tp;
    log::info("tensor parallel: rank 0 of {} schedules; each rank holds {} of the KV heads", tp->size(),
              model.hparams().n_kv_head);
  }
  return core;
}

Expected<std::unique_ptr<EngineCore>> EngineCore::create_alone(model::Model& model, const tokenizer::Tokenizer& tok,
                                                               const EngineConfig& config, ThreadPool& pool) {
  const model::HParams& hp = model.hparams();
  kv::KvShape shape = model.kv_shape(std::max(1, config.max_num_seqs), /*n_ctx=*/1, config.k_type, config.v_type);
  if (auto ok = kv::validate_shape(shape); !ok) return ok.error();
  const uint64_t bytes_per_token =
      (kv::k_row_bytes(shape) + kv::v_row_bytes(shape)) * static_cast<uint64_t>(hp.n_layer);
  auto plan = plan_pool(config, bytes_per_token, hp.n_ctx_train, model.file().bytes().size(),
                        kv::PagedKvCache::bytes_per_block(shape, config.block_size));
  if (!plan) return plan.error();
  shape.n_ctx = plan->max_model_len;
  std::unique_ptr<EngineCore> core(new EngineCore(model, tok, config, pool));
  core->plan_ = *plan;
  auto cache = kv::PagedKvCache::create(shape, plan->n_blocks, plan->block_size);
  if (!cache) return cache.error();
  core->cache_ = std::move(*cache);
  // Blocks of caches with other element types never match.
  core->kv_salt_ = (static_cast<uint64_t>(config.k_type) << 8) | static_cast<uint64_t>(config.v_type);
  core->blocks_ = std::make_unique<kv::BlockManager>(plan->n_blocks, plan->block_size, config.prefix_caching,
                                                     core->kv_salt_);
  core->scheduler_ = std::make_unique<Scheduler>(
      SchedulerConfig{config.max_num_seqs, config.max_num_batched_tokens}, *core->blocks_);
  core->metrics_.kv_blocks_total = plan->n_blocks;
  core->metrics_.kv_block_size = plan->block_size;
  log::info(
      "kv cache: {} blocks x {} tokens = {} tokens, {} ({} per token, {}); max model len {}: {} such sequences "
      "fit; prefix caching {}",
      plan->n_blocks, plan->block_size, int64_t{plan->n_blocks} * plan->block_size, format_bytes(plan->bytes),
      format_bytes(plan->bytes_per_token), kv_description(config.k_type, config.v_type), plan->max_model_len,
      plan->full_length_sequences(), config.prefix_caching ? "on" : "off");
  return core;
}

Expected<void> EngineCore::validate(const GenerationRequest& r) const {
  const int n_prompt = static_cast<int>(r.prompt.size());
  if (n_prompt == 0) return Error{"the prompt is empty: at least one token is needed"};
  for (int32_t id : r.prompt)
    if (id < 0 || id >= model_.n_vocab())
      return Error{fmt::format("prompt token id {} is outside the vocabulary [0, {})", id, model_.n_vocab())};
  if (r.n < 1) return Error{fmt::format("n must be at least 1, got {}", r.n)};
  if (r.n > config_.max_num_seqs)
    return Error{fmt::format("n = {} exceeds --max-num-seqs {}", r.n, config_.max_num_seqs)};
  if (r.top_logprobs > kMaxLogprobs)
    return Error{fmt::format("top_logprobs must be at most {}, got {}", kMaxLogprobs, r.top_logprobs)};
  if (r.top_logits < 0 || r.top_logits > 100) return Error{"top_logits must be in [0, 100]"};
  const int max_len = plan_.max_model_len;
  if (n_prompt >= max_len)
    return Error{fmt::format("the prompt is {} tokens, but the maximum model length is {} tokens (room for at "
                             "least one generated token is needed)",
                             n_prompt, max_len)};
  if (static_cast<int64_t>(n_prompt) + r.params.max_tokens > max_len)
    return Error{fmt::format("this model's maximum context length is {} tokens; the request asks for {} "
                             "tokens ({} in the prompt, {} to generate)",
                             max_len, int64_t{n_prompt} + r.params.max_tokens, n_prompt, r.params.max_tokens)};
  if (auto ok = sampling::validate(r.params, model_.n_vocab()); !ok) return ok;
  if (r.grammar && tok_.n_vocab() > model_.n_vocab())
    return Error{fmt::format("constrained decoding needs a logits row for every token: the vocabulary has {} tokens "
                             "but the model outputs {} logits",
                             tok_.n_vocab(), model_.n_vocab())};
  return {};
}

Expected<void> EngineCore::add(RequestId id, GenerationRequest request, std::shared_ptr<RequestStream> stream) {
  if (auto ok = validate(request); !ok) return ok;
  if (requests_.count(id)) return Error{fmt::format("request id {} is already in use", id)};
  if (request.grammar && !grammar_vocab_) {
    // Once per engine: every token's bytes in a trie (~0.1 s for a 150k vocabulary).
    const auto start = Clock::now();
    grammar_vocab_ = grammar::TokenVocabulary::build(tok_);
    log::info("grammar: vocabulary trie for {} tokens built in {:.1f} ms", tok_.n_vocab(),
              seconds_between(start, Clock::now()) * 1000.0);
  }
  auto a = std::make_unique<Active>();
  a->id = id;
  a->stream = std::move(stream);
  a->arrival = Clock::now();
  for (int i = 0; i < request.n; ++i) {
    auto s = std::make_unique<Sequence>();
    s->owner = a.get();
    s->index = i;
    s->tokens = request.prompt;
    s->n_prompt = static_cast<int>(request.prompt.size());
    s->order = next_order_++;
    sampling::SamplingParams p = request.params;
    if (p.seed) p.seed = *p.seed + static_cast<uint64_t>(i);
    auto sampler = sampling::Sampler::create(p, tok_.eog_ids(), model_.n_vocab());
    if (!sampler) return sampler.error();
    s->sampler.emplace(std::move(*sampler));
    s->stop.emplace(p, tok_.eog_ids());
    s->detok.emplace(tok_, /*render_special=*/false);
    // Each sample parses its own text: forks start from the same (initial) state.
    if (request.grammar) s->matcher.emplace(request.grammar, grammar_vocab_);
    s->pending.index = i;
    a->seqs.push_back(std::move(s));
  }
  a->request = std::move(request);
  Sequence& leader = *a->seqs[0];
  leader.group = a->request.n;
  leader.forked = true;
  scheduler_->add(&leader);
  metrics_.prompt_tokens += static_cast<uint64_t>(leader.n_prompt);
  requests_.emplace(id, std::move(a));
  return {};
}

void EngineCore::abort(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Active& a = *it->second;
  for (auto& s : a.seqs)
    if (s->finish == Finish::none) finish_sequence(*s, Finish::abort);
  ++metrics_.requests_aborted;
  flush_outputs();
}

void EngineCore::abort_all() {
  std::vector<RequestId> ids;
  for (const auto& [id, a] : requests_) ids.push_back(id);
  for (RequestId id : ids) abort(id);
}

void EngineCore::finish_sequence(Sequence& seq, Finish why) {
  if (seq.finish != Finish::none) return;
  scheduler_->finish(&seq);
  if (seq.detok && why != Finish::error && why != Finish::stop) {
    // Text held back for a possible stop string, then the bytes of an
    // unfinished character (as U+FFFD), are released when generation ends for
    // a reason other than a stop.
    seq.pending.text += seq.stop->finish();
    seq.pending.text += seq.detok->flush();
  }
  seq.finish = why;
  seq.pending.finish = why;
  seq.has_news = true;
  Active& a = *seq.owner;
  ++a.n_done;
  if (!a.touched) {
    a.touched = true;
    touched_.push_back(&a);
  }
}

void EngineCore::fail_request(Active& a, const std::string& message) {
  a.error = message;
  for (auto& s : a.seqs)
    if (s->finish == Finish::none) finish_sequence(*s, Finish::error);
}

void EngineCore::broadcast_step(const StepPlan& plan) {
  tp_step_.copies = plan.copies;
  tp_step_.bindings.clear();
  for (const ScheduledChunk& c : plan.chunks) {
    const SchedSequence& s = *c.seq;
    tp_step_.bindings.push_back({s.slot, s.n_computed, s.table.blocks});
  }
  tp_step_.batch = batch_;
  tp_bytes_ = encode_tp_step(tp_step_);
  tp_->broadcast(tp_bytes_, 0);
}

Expected<void> EngineCore::run_plan(const StepPlan& plan) {
  for (const kv::BlockCopy& c : plan.copies) cache_->copy_block(c.src, c.dst);
  batch_.clear();
  for (const ScheduledChunk& c : plan.chunks) {
    SchedSequence& s = *c.seq;
    cache_->bind(s.slot, s.table.blocks, s.n_computed);
    for (int j = 0; j < c.n_tokens; ++j) {
      const int pos = s.n_computed + j;
      batch_.add(s.tokens[static_cast<size_t>(pos)], pos, s.slot, c.completes && j + 1 == c.n_tokens);
    }
  }
  if (tp_) broadcast_step(plan);
  return model_.forward(batch_, *cache_, threads_, logits_);
}

void EngineCore::finish_by_grammar(Sequence& seq) {
  // The text is complete: release what the stop checker held back for a possible stop string.
  seq.pending.text += seq.stop->finish();
  seq.pending.text += seq.detok->flush();
  finish_sequence(seq, Finish::stop);
}

std::optional<std::span<const float>> EngineCore::grammar_row(Sequence& seq, std::span<const float> logits) {
  seq.matcher->fill_allowed(allowed_);  // [tokenizer n_vocab]; validate ensured it fits the row
  size_t n_allowed = 0, n_eog = 0;
  for (uint8_t x : allowed_) n_allowed += x;
  for (int32_t id : tok_.eog_ids())
    if (id >= 0 && static_cast<size_t>(id) < allowed_.size()) n_eog += allowed_[static_cast<size_t>(id)];
  const bool any_eog = n_eog > 0, any_text = n_allowed > n_eog;
  if (!any_text) {
    // Only ending is possible: end now, whatever min_tokens says (it cannot be met).
    if (!any_eog)
      log::warn("grammar: no token can continue request {} (sample {}) after {} tokens; stopping", seq.owner->id,
                seq.index, seq.n_generated);
    return std::nullopt;
  }
  masked_.assign(logits.begin(), logits.end());
  const float ban = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < masked_.size(); ++i)
    if (i >= allowed_.size() || !allowed_[i]) masked_[i] = ban;
  return std::span<const float>(masked_);
}

void EngineCore::sample_one(Sequence& seq, std::span<const float> logits) {
  Active& a = *seq.owner;
  // Constrained: sample from a masked copy; logprobs below still read the raw row.
  std::span<const float> row = logits;
  if (seq.matcher) {
    auto masked = grammar_row(seq, logits);
    if (!masked) return finish_by_grammar(seq);
    row = *masked;
  }
  auto id = seq.sampler->sample(row, seq.tokens, seq.n_generated);
  if (!id && seq.matcher) {
    // logit_bias / min_tokens banned every token the grammar allows: a dead end, not an error.
    log::warn("grammar: request {} (sample {}): {}; stopping", a.id, seq.index, id.error().message);
    return finish_by_grammar(seq);
  }
  if (!id) {
    fail_request(a, "sampling failed: " + id.error().message);
    return;
  }
  if (seq.matcher && !seq.matcher->accept_token(*id)) {
    log::error("grammar: request {} sampled token {} that the grammar rejects; stopping", a.id, *id);
    return finish_by_grammar(seq);
  }
  const auto now = Clock::now();
  if (seq.n_generated == 0) {
    if (!a.first_token) {
      a.first_token = now;
      metrics_.time_to_first_token.observe(seconds_between(a.arrival, now));
    }
  } else {
    metrics_.inter_token_latency.observe(seconds_between(seq.last_token, now));
  }
  seq.last_token = now;
  ++seq.n_generated;
  ++a.n_generated;
  ++metrics_.generation_tokens;
  seq.tokens.push_back(*id);
  seq.pending.tokens.push_back(*id);
  if (a.request.top_logprobs >= 0 || a.request.top_logits > 0) {
    TokenInfo info;
    if (a.request.top_logprobs >= 0) {
      const double lse = sampling::log_sum_exp(logits);
      info.chosen = {*id, static_cast<float>(logits[static_cast<size_t>(*id)] - lse)};
      for (const auto& t : sampling::top_n(logits, a.request.top_logprobs))
        info.top.push_back({t.id, static_cast<float>(t.logit - lse)});
    }
    for (const auto& t : sampling::top_n(logits, a.request.top_logits)) info.top_logits.push_back({t.id, t.logit});
    seq.pending.info.push_back(std::move(info));
  }
  seq.pending.text += seq.stop->on_token(*id, seq.detok->push(*id));
  seq.has_news = true;
  if (!a.touched) {
    a.touched = true;
    touched_.push_back(&a);
  }
  const bool grammar_done = seq.matcher && seq.matcher->must_end();
  if (seq.stop->finished()) {
    if (seq.stop->reason() == sampling::FinishReason::stop) {
      seq.pending.stop_string = seq.stop->matched_stop_string();
      seq.pending.stop_token = seq.stop->matched_stop_token();
      finish_sequence(seq, Finish::stop);
    } else {
      // The last token the budget allowed also completed the grammar: that is a stop.
      finish_sequence(seq, grammar_done ? Finish::stop : Finish::length);
    }
  } else if (grammar_done) {
    finish_by_grammar(seq);
  }
}

void EngineCore::sample_completed(const StepPlan& plan) {
  size_t row = 0;
  const auto n_vocab = static_cast<size_t>(model_.n_vocab());
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.completes) continue;
    std::span<const float> logits(&logits_[row * n_vocab], n_vocab);
    ++row;
    auto& seq = static_cast<Sequence&>(*c.seq);
    if (seq.finish != Finish::none) continue;
    Active& a = *seq.owner;
    // Samples 1.. of an n > 1 request start here, sharing the prompt's blocks
    // and sampling from the same logits row.
    std::vector<Sequence*> samplers{&seq};
    if (seq.index == 0 && seq.n_generated == 0) {
      for (size_t i = 1; i < a.seqs.size(); ++i) {
        Sequence& child = *a.seqs[i];
        if (child.forked || child.finish != Finish::none) continue;
        if (scheduler_->fork(&seq, &child)) {
          child.forked = true;
          samplers.push_back(&child);
        }
      }
    }
    for (Sequence* s : samplers)
      if (s->finish == Finish::none && a.error.empty()) sample_one(*s, logits);
  }
}

void EngineCore::flush_outputs() {
  for (Active* a : touched_) {
    a->touched = false;
    RequestOutput out;
    out.id = a->id;
    out.n_prompt_tokens = static_cast<int>(a->request.prompt.size());
    out.n_cached_tokens = std::max(0, a->seqs[0]->n_cached_tokens);
    out.n_generated_tokens = a->n_generated;
    const auto now = Clock::now();
    out.elapsed_ms = seconds_between(a->arrival, now) * 1000.0;
    if (a->first_token) out.time_to_first_token_ms = seconds_between(a->arrival, *a->first_token) * 1000.0;
    for (auto& s : a->seqs) {
      if (!s->has_news) continue;
      out.deltas.push_back(std::move(s->pending));
      s->pending = SequenceDelta{};
      s->pending.index = s->index;
      s->has_news = false;
    }
    out.finished = a->n_done == static_cast<int>(a->seqs.size());
    out.error = a->error;
    if (a->stream) a->stream->push(std::move(out));
    if (a->n_done == static_cast<int>(a->seqs.size())) {
      metrics_.e2e_latency.observe(seconds_between(a->arrival, now));
      ++metrics_.requests_finished;
      requests_.erase(a->id);
    }
  }
  touched_.clear();
}

bool EngineCore::step() {
  StepPlan plan = scheduler_->schedule();
  if (plan.empty() && !plan.preempted.empty()) return true;  // retry with the freed blocks
  if (plan.empty()) {
    // Every queued request fits the pool alone, so an empty plan with work
    // left means nothing can run: fail the head instead of spinning.
    if (!scheduler_->waiting().empty() && scheduler_->running().empty()) {
      auto& head = static_cast<Sequence&>(*scheduler_->waiting().front());
      fail_request(*head.owner, "the request does not fit in the KV cache");
      flush_outputs();
      return true;
    }
    return false;
  }
  ++metrics_.steps;
  metrics_.computed_tokens += static_cast<uint64_t>(plan.n_tokens);
  if (auto ok = run_plan(plan); !ok) {
    log::error("engine: forward failed: {}", ok.error().message);
    for (const ScheduledChunk& c : plan.chunks) {
      auto& seq = static_cast<Sequence&>(*c.seq);
      if (seq.owner->error.empty()) fail_request(*seq.owner, "forward pass failed: " + ok.error().message);
    }
    flush_outputs();
    return true;
  }
  scheduler_->on_computed(plan);
  sample_completed(plan);
  flush_outputs();
  return true;
}

MetricsSnapshot EngineCore::metrics() const {
  MetricsSnapshot m = metrics_;
  m.n_running = static_cast<int>(scheduler_->running().size());
  m.n_waiting = static_cast<int>(scheduler_->waiting().size());
  const kv::BlockPool& pool = blocks_->pool();
  m.kv_blocks_in_use = pool.n_in_use();
  m.kv_blocks_cached = pool.n_cached();
  m.prefix_query_tokens = scheduler_->counters().prefix_query_tokens;
  m.prefix_hit_tokens = scheduler_->counters().prefix_hit_tokens;
  m.preemptions = scheduler_->counters().preemptions;
  return m;
}

}  // namespace pagoda::engine
