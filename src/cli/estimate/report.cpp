// Text and JSON renderings of memory plans.
#include "cli/estimate/report.h"

#include <fmt/format.h>

#include <cstdio>

#include "engine/config.h"

namespace pagoda::cli::estimate {
namespace {

using engine::format_bytes;
using nlohmann::json;

// Model sizes are quoted in decimal GB; everything else here is binary.
std::string gb(uint64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }

std::string kv_types(KvType k, KvType v) {
  return k == v ? std::string(kv_type_name(k)) : fmt::format("K {}, V {}", kv_type_name(k), kv_type_name(v));
}

std::string params(uint64_t n) {
  return n >= 1000000000 ? fmt::format("{:.2f} B", n / 1e9) : fmt::format("{:.2f} M", n / 1e6);
}

// A largest context, flagged when the model was not trained that long.
std::string context_label(int64_t tokens, int64_t n_ctx_train) {
  if (tokens <= 0) return "none fits";
  if (tokens <= n_ctx_train) return fmt::format("{} tokens", tokens);
  return fmt::format("{} tokens (beyond the training context of {})", tokens, n_ctx_train);
}

std::string seqs(int64_t n) { return fmt::format("{} sequence{}", n, n == 1 ? "" : "s"); }

void print_model(const planner::PlannedModel& m, const Context& c) {
  const planner::ModelShape& s = m.shape;
  fmt::print("model      {} ({}): {}, {} parameters, {} layers, {} heads / {} KV heads x {}, vocab {}, "
             "training context {}\n",
             s.name, c.source, s.arch, params(m.weights.params()), s.n_layer, s.n_head,
             s.n_head_kv, s.head_size(), s.n_vocab, s.n_ctx);
}

}  // namespace

void print_estimate(const planner::PlannedModel& m, const planner::Estimate& e, const Context& c) {
  const planner::ModelShape& s = m.shape;
  const KvType k = e.k_type, v = e.v_type;
  print_model(m, c);
  fmt::print("weights    {}: {} ({}), {:.2f} bits per weight{}\n", m.weights.label, gb(e.weights_bytes),
             format_bytes(e.weights_bytes), m.weights.bits_per_weight(),
             m.exact ? ", the file's tensor data" : "");
  for (const auto& t : m.weights.by_type())
    fmt::print("             {:<6} {:>5} tensors {:>15} params {:>12}\n", tensor_type_name(t.type), t.n_tensors,
               t.params, format_bytes(t.bytes));
  const uint64_t per_elem_k = kv_type_geometry(k).block_bytes, per_elem_v = kv_type_geometry(v).block_bytes;
  fmt::print("kv cache   {}: {} per token", kv_types(k, v), format_bytes(e.kv_bytes_per_token));
  if (kv_type_geometry(k).block_size == 1 && kv_type_geometry(v).block_size == 1)
    fmt::print(" ({} layers x {} KV heads x {} x ({} + {}) bytes for K and V)", s.n_layer, s.n_head_kv,
               s.head_size(), per_elem_k, per_elem_v);
  else
    fmt::print(" ({} layers x {} KV heads x {}, K and V, in blocks of 32 values with their scales)", s.n_layer,
               s.n_head_kv, s.head_size());
  fmt::print("\n");
  if (s.n_head_kv < s.n_head) {
    // What the formula that ignores grouped-query attention says, against the real f16 figure.
    const uint64_t naive = 2 * static_cast<uint64_t>(s.n_layer) * static_cast<uint64_t>(s.n_embd) * 2;
    const double ratio = static_cast<double>(s.n_embd) / static_cast<double>(s.kv_dim());
    fmt::print("             (the often-quoted 2 x layers x hidden x 2 bytes = {} per token is {:.3g}x the real f16 "
               "figure: {} query heads share each KV head)\n",
               format_bytes(naive), ratio, s.n_head / s.n_head_kv);
  }
  fmt::print("             {} tokens x {} = {} ({} blocks of {} tokens, {} each{})\n", e.ctx,
             seqs(e.concurrency), format_bytes(e.kv_bytes), e.kv.blocks_for(e.ctx) * e.concurrency,
             e.kv.block_size, format_bytes(e.kv.bytes_per_block), e.tp > 1 ? ", per device" : "");
  if (e.ctx > s.n_ctx)
    fmt::print("             note: {} tokens is beyond the model's training context of {}\n", e.ctx, s.n_ctx);
  fmt::print("scratch    {}: activations {}, attention {}, logits {}, sampling {} (steps of {} tokens, {} threads)\n",
             format_bytes(e.scratch.total()), format_bytes(e.scratch.activations), format_bytes(e.scratch.attention),
             format_bytes(e.scratch.logits), format_bytes(e.scratch.sampling), e.batch_tokens, e.threads);
  fmt::print("overhead   {}: runtime {}, GGUF metadata {}, tokenizer {}, f32 norms {}\n",
             format_bytes(e.overhead.total()), format_bytes(e.overhead.runtime), format_bytes(e.overhead.metadata),
             format_bytes(e.overhead.tokenizer), format_bytes(e.overhead.f32_copies));
  if (e.tp > 1)
    fmt::print("total      {} over {} devices; per device {} (weights {}, KV {}, scratch {}, overhead {})\n",
               format_bytes(e.total_bytes), e.tp, format_bytes(e.device.total()), format_bytes(e.device.weights),
               format_bytes(e.device.kv), format_bytes(e.device.scratch), format_bytes(e.device.overhead));
  else
    fmt::print("total      {}\n", format_bytes(e.total_bytes));
  if (e.memory == 0) {
    fmt::print("budget     none (--memory SIZE)\n");
    return;
  }
  const uint64_t used = e.device.total();
  fmt::print("budget     {}{} ({}): {}\n", format_bytes(e.memory), e.tp > 1 ? " per device" : "", c.memory_label,
             e.fits ? fmt::format("fits, {} to spare", format_bytes(e.memory - used))
                    : fmt::format("does NOT fit, {} short", format_bytes(used - e.memory)));
  fmt::print("largest    context at {}: {}; concurrency at {} tokens: {}\n", seqs(e.concurrency),
             context_label(e.max_context, s.n_ctx), e.ctx,
             e.max_concurrency > 0 ? seqs(e.max_concurrency) : std::string("none fits"));
}

json estimate_json(const planner::PlannedModel& m, const planner::Estimate& e, const Context& c) {
  const planner::ModelShape& s = m.shape;
  json by_type = json::array();
  for (const auto& t : m.weights.by_type())
    by_type.push_back({{"type", tensor_type_name(t.type)}, {"tensors", t.n_tensors}, {"params", t.params},
                       {"bytes", t.bytes}});
  return {
      {"model",
       {{"name", s.name}, {"source", c.source}, {"arch", s.arch}, {"params", m.weights.params()},
        {"n_layer", s.n_layer}, {"n_head", s.n_head}, {"n_head_kv", s.n_head_kv}, {"head_dim", s.head_size()},
        {"n_embd", s.n_embd}, {"n_ff", s.n_ff}, {"n_vocab", s.n_vocab}, {"n_ctx_train", s.n_ctx}}},
      {"weights_type", m.weights.label},
      {"weights_exact", m.exact},
      {"weights_bytes", e.weights_bytes},
      {"bits_per_weight", m.weights.bits_per_weight()},
      {"weights_by_type", by_type},
      {"cache_type_k", kv_type_name(e.k_type)},
      {"cache_type_v", kv_type_name(e.v_type)},
      {"kv_bytes_per_token", e.kv_bytes_per_token},
      {"block_size", e.kv.block_size},
      {"kv_bytes_per_block", e.kv.bytes_per_block * static_cast<uint64_t>(e.tp)},
      {"ctx", e.ctx},
      {"concurrency", e.concurrency},
      {"kv_bytes", e.kv_bytes},
      {"batch_tokens", e.batch_tokens},
      {"threads", e.threads},
      {"scratch_bytes", e.scratch.total()},
      {"scratch",
       {{"activations", e.scratch.activations}, {"attention", e.scratch.attention}, {"logits", e.scratch.logits},
        {"sampling", e.scratch.sampling}}},
      {"overhead_bytes", e.overhead.total()},
      {"overhead",
       {{"runtime", e.overhead.runtime}, {"metadata", e.overhead.metadata}, {"tokenizer", e.overhead.tokenizer},
        {"f32_copies", e.overhead.f32_copies}}},
      {"tensor_parallel_size", e.tp},
      {"per_device",
       {{"weights_bytes", e.device.weights}, {"kv_bytes", e.device.kv}, {"scratch_bytes", e.device.scratch},
        {"overhead_bytes", e.device.overhead}, {"total_bytes", e.device.total()}}},
      {"total_bytes", e.total_bytes},
      {"memory_bytes", e.memory},
      {"memory_source", c.memory_label},
      {"fits", e.fits},
      {"max_context", e.max_context},
      {"max_concurrency", e.max_concurrency},
  };
}

void print_table(const std::vector<TableRow>& rows, const Context& c) {
  if (rows.empty()) return;
  const planner::PlannedModel& m0 = rows.front().model;
  const planner::Estimate& e0 = rows.front().estimate;
  print_model(m0, c);
  fmt::print("kv cache   {}: {} per token; {} tokens x {} = {}\n", kv_types(e0.k_type, e0.v_type),
             format_bytes(e0.kv_bytes_per_token), e0.ctx, seqs(e0.concurrency), format_bytes(e0.kv_bytes));
  if (e0.memory > 0)
    fmt::print("budget     {}{} ({})\n", e0.tp > 1 ? fmt::format("{} x ", e0.tp) : "", format_bytes(e0.memory),
               c.memory_label);
  const std::string ctx_label = e0.ctx % 1024 == 0 ? fmt::format("{}K", e0.ctx / 1024) : fmt::format("{}", e0.ctx);
  fmt::print("\n{:<8} {:>9} {:>11} {:>11} {:>14} {:>16}  {:<5} {:>10}\n", "weights", "bits/wt", "size (GB)",
             "uniform", "KV " + ctx_label, e0.tp > 1 ? "total/device" : "total", "fits", "max ctx");
  for (const auto& r : rows) {
    const planner::Estimate& e = r.estimate;
    // What a table computed as params x the main block type's bits says.
    const auto mix = quant::find_mix(r.mix);
    const TensorTypeTraits& main = traits(mix ? mix->default_type : TensorType::F16);
    const double uniform = static_cast<double>(r.model.weights.params()) * 8.0 * main.block_bytes /
                           main.block_size / 8.0 / 1e9;
    fmt::print("{:<8} {:>9.2f} {:>11.1f} {:>11.1f} {:>14} {:>16}  {:<5} {:>10}\n", r.mix,
               r.model.weights.bits_per_weight(), static_cast<double>(e.weights_bytes) / 1e9, uniform,
               format_bytes(e.kv_bytes), format_bytes(e.device.total()), e.memory == 0 ? "?" : e.fits ? "yes" : "no",
               fmt::format("{}{}", e.max_context, e.max_context > r.model.shape.n_ctx ? "*" : ""));
  }
  fmt::print("\nsize: the mix's real bytes (llama.cpp's per-tensor rules: embeddings, output, attn_v and\n"
             "ffn_down layers kept at higher precision, block scales included); uniform: parameters x the main\n"
             "type's bits, what common tables quote. total: weights + KV + scratch + runtime overhead{}.\n"
             "max ctx: the longest context of which --concurrency sequences fit the budget (*: beyond the\n"
             "training context).\n",
             e0.tp > 1 ? ", per device" : "");
}

json table_json(const std::vector<TableRow>& rows, const Context& c) {
  json out = json::object();
  if (rows.empty()) return out;
  const planner::Estimate& e0 = rows.front().estimate;
  out["model"] = estimate_json(rows.front().model, e0, c)["model"];
  out["cache_type_k"] = kv_type_name(e0.k_type);
  out["cache_type_v"] = kv_type_name(e0.v_type);
  out["ctx"] = e0.ctx;
  out["concurrency"] = e0.concurrency;
  out["kv_bytes_per_token"] = e0.kv_bytes_per_token;
  out["kv_bytes"] = e0.kv_bytes;
  out["tensor_parallel_size"] = e0.tp;
  out["memory_bytes"] = e0.memory;
  json table = json::array();
  for (const auto& r : rows)
    table.push_back({{"weights_type", r.mix}, {"bits_per_weight", r.model.weights.bits_per_weight()},
                     {"weights_bytes", r.estimate.weights_bytes}, {"kv_bytes", r.estimate.kv_bytes},
                     {"device_total_bytes", r.estimate.device.total()}, {"total_bytes", r.estimate.total_bytes},
                     {"fits", r.estimate.fits}, {"max_context", r.estimate.max_context},
                     {"max_concurrency", r.estimate.max_concurrency}});
  out["rows"] = table;
  return out;
}

}  // namespace pagoda::cli::estimate
