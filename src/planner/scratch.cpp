// Scratch arithmetic mirroring the buffers the forward pass and the engine grow.
#include "planner/scratch.h"

#include <algorithm>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "kernels/attention_kernels.h"
#include "kernels/matmul.h"
#include "quant/mix.h"

namespace pagoda::planner {

ScratchBytes scratch_bytes(const ModelShape& s, const WeightsPlan& weights, const ScratchParams& p) {
  const uint64_t tp = static_cast<uint64_t>(std::max(p.tp, 1));
  const auto n = static_cast<uint64_t>(std::max<int64_t>(p.batch_tokens, 1));
  // Rows that want logits in one step: at most one per running sequence.
  const auto n_want = std::min<uint64_t>(n, static_cast<uint64_t>(std::max<int64_t>(p.n_seqs, 1)));
  const auto embd = static_cast<uint64_t>(s.n_embd), vocab = static_cast<uint64_t>(s.n_vocab);
  const auto q = static_cast<uint64_t>(s.q_dim()) / tp;
  const auto kv = std::max<uint64_t>(static_cast<uint64_t>(s.kv_dim()) / tp, static_cast<uint64_t>(s.head_size()));
  const auto ff = static_cast<uint64_t>(s.n_ff) / tp;
  const auto hd = static_cast<uint64_t>(s.head_size());
  ScratchBytes b;
  // model::Scratch: x, xn, proj [n, n_embd]; q, attn [n, q_dim]; k, v [n, kv_dim];
  // gate, up [n, n_ff]; rope [n, n_rot]; out_x [n_want, n_embd]; all f32.
  b.activations = sizeof(float) * (n * (3 * embd + 2 * q + 2 * kv + 2 * ff + hd) + n_want * embd);
  // kernels::matmul prepares the activation rows of the widest call in the
  // weight's vec_dot type, in one buffer on the calling thread.
  // Each thread that runs a share of a matmul also grows its tile_scratch to the packed token
  // group of the widest call (kernels::tile_scratch_bytes; 0 where tiles read in place).
  // Interleaved matrices also read per-block terms of each token, made once per call on the calling
  // thread, one part per kind of the call's matrices (kernels::interleaved_act_call_bytes): Q, K
  // and V are one call, gate and up another (model/forward.cpp), every other matrix its own.
  uint64_t prepared = 0, tiles = 0;
  struct Call {
    std::string key;
    int64_t cols = 0, rows = 0;
    std::vector<TensorType> types;
  };
  std::vector<Call> calls;
  const auto call_key = [](const std::string& name) {
    for (const char* part : {"attn_q.", "attn_k.", "attn_v."})
      if (const auto at = name.find(part); at != std::string::npos) return name.substr(0, at) + "qkv";
    for (const char* part : {"ffn_gate.", "ffn_up."})
      if (const auto at = name.find(part); at != std::string::npos) return name.substr(0, at) + "gate_up";
    return name;
  };
  for (const auto& t : weights.tensors) {
    if (t.shape.size() < 2 || !kernels::supports_weight_type(t.type)) continue;
    const bool output = t.name == "output.weight" || (s.tied_embeddings && t.name == "token_embd.weight");
    if (t.name == "token_embd.weight" && !output) continue;  // rows are looked up, not multiplied
    int64_t cols = t.shape[0], matrix_rows = t.shape[1];
    if (t.name.find("attn_output") != std::string::npos || t.name.find("ffn_down") != std::string::npos)
      cols = std::max<int64_t>(cols / static_cast<int64_t>(tp), 1);
    else
      matrix_rows = std::max<int64_t>(matrix_rows / static_cast<int64_t>(tp), 1);
    if (kernels::vec_dot_type(t.type) == TensorType::F32) continue;  // f32 rows are used in place
    const auto rows = static_cast<int64_t>(output ? n_want : n);
    prepared = std::max<uint64_t>(prepared, kernels::activation_row_bytes(t.type, cols) * static_cast<uint64_t>(rows));
    tiles = std::max<uint64_t>(tiles, kernels::tile_scratch_bytes(t.type, cols, matrix_rows, rows, p.threads));
    const std::string key = call_key(t.name);
    auto call = std::find_if(calls.begin(), calls.end(), [&](const Call& c) { return c.key == key; });
    if (call == calls.end()) call = calls.insert(calls.end(), Call{key, cols, rows, {}});
    call->types.push_back(t.type);
  }
  uint64_t terms = 0;
  for (const Call& c : calls)
    terms = std::max<uint64_t>(terms, kernels::interleaved_act_call_bytes(c.types, c.cols, c.rows));
  b.activations += prepared + terms + tiles * static_cast<uint64_t>(std::max(p.threads, 1));
  // kernels::AttentionScratch per thread, for one task's query heads (the GQA group sharing a
  // KV head) over ctx keys: rows [2 * ctx] K/V pointers, scores [group, ctx] f32, the kernels'
  // work floats, and Q8_0 query rows [group].
  const auto ctx = static_cast<uint64_t>(std::max<int64_t>(p.ctx, 1));
  const auto group = static_cast<uint64_t>(
      s.n_head_kv > 0 && s.n_head >= s.n_head_kv ? s.n_head / s.n_head_kv : std::max<int64_t>(s.n_head, 1));
  const uint64_t query = hd % 32 == 0 ? kernels::activation_row_bytes(TensorType::Q8_0, static_cast<int64_t>(hd)) : 0;
  const uint64_t per_thread =
      sizeof(void*) * 2 * ctx + sizeof(float) * group * ctx +
      sizeof(float) * kernels::attn::work_floats(static_cast<int64_t>(group), static_cast<int64_t>(hd),
                                                 static_cast<int64_t>(ctx)) +
      group * query;
  b.attention = per_thread * static_cast<uint64_t>(std::max(p.threads, 1));
  // EngineCore: logits_ [n_want, n_vocab] and logprobs_ [n_vocab], f32.
  b.logits = sizeof(float) * vocab * (n_want + 1);
  // Each running sequence's Sampler keeps an adjusted [n_vocab] f32 row; one
  // Candidates list of (id, logit) pairs [n_vocab] is alive at a time.
  b.sampling = sizeof(float) * vocab * static_cast<uint64_t>(std::max<int64_t>(p.n_seqs, 1)) + 8 * vocab;
  return b;
}

}  // namespace pagoda::planner
