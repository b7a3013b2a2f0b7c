// The Llama-family forward pass (llama, qwen2, qwen3, granite), layer by
// layer over the whole batch, mirroring llama.cpp's graph and ggml's rounding.
#include <fmt/format.h>

#include <algorithm>

#include "dist/communicator.h"
#include "kernels/attention.h"
#include "kernels/kv_rows.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/weights.h"
#include "quant/codec.h"

namespace pagoda::model {

namespace {

template <typename T>
void grow(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

// Checks the batch against the model and the cache; fills next_pos[seq] with
// each touched sequence's length after the batch (-1 for untouched ones).
Expected<void> validate_batch(const Batch& b, const HParams& hp, const kv::KvCache& cache,
                              std::vector<int>& next_pos) {
  const size_t n = b.tokens.size();
  if (b.pos.size() != n || b.seq.size() != n || b.want_logits.size() != n)
    return Error{fmt::format(
        "batch: tokens ({}), pos ({}), seq ({}) and want_logits ({}) must have equal lengths", n,
        b.pos.size(), b.seq.size(), b.want_logits.size())};
  const kv::KvShape& s = cache.shape();
  if (s.n_layer != hp.n_layer || s.n_kv_head != hp.n_kv_head || s.head_dim != hp.head_dim)
    return Error{fmt::format(
        "kv cache shape (layers {}, kv heads {}, head size {}) does not match the model "
        "(layers {}, kv heads {}, head size {})",
        s.n_layer, s.n_kv_head, s.head_dim, hp.n_layer, hp.n_kv_head, hp.head_dim)};
  if (!is_valid(s.k_type) || !is_valid(s.v_type))
    return Error{fmt::format("kv cache: unknown element type (K {}, V {})",
                             static_cast<int>(s.k_type), static_cast<int>(s.v_type))};
  next_pos.assign(static_cast<size_t>(s.n_seq), -1);
  for (size_t i = 0; i < n; ++i) {
    const int32_t token = b.tokens[i], seq = b.seq[i], pos = b.pos[i];
    if (token < 0 || token >= hp.n_vocab)
      return Error{fmt::format("batch row {}: token id {} is outside the vocabulary [0, {})", i,
                               token, hp.n_vocab)};
    if (seq < 0 || seq >= s.n_seq)
      return Error{fmt::format("batch row {}: sequence {} is outside the cache's [0, {})", i, seq,
                               s.n_seq)};
    int& next = next_pos[static_cast<size_t>(seq)];
    if (next < 0) next = cache.length(seq);
    if (pos != next)
      return Error{fmt::format(
          "batch row {}: sequence {} continues at position {}, got position {}", i, seq, next,
          pos)};
    if (pos >= s.n_ctx)
      return Error{fmt::format(
          "batch row {}: position {} of sequence {} exceeds the context size of {} tokens", i,
          pos, seq, s.n_ctx)};
    ++next;
  }
  return {};
}

void add_bias(float* row, const std::vector<float>& bias) {
  for (size_t i = 0; i < bias.size(); ++i) row[i] += bias[i];
}

// x[i] += y[i] * scale (the scale multiply is exact when scale is 1).
void add_scaled(float* x, const float* y, int64_t n, float scale) {
  if (scale == 1.0f) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i] * scale;
  }
}

// The slice of kv head `kv_head` in `rows` of element type `type`.
kernels::HeadRows head_rows(const kv::KvRows& rows, KvType type, int64_t kv_head,
                            int64_t head_dim) {
  return kernels::HeadRows{type, rows.blocks, rows.block_rows, rows.row_bytes, kv_head * head_dim};
}

}  // namespace

void Scratch::reserve(const HParams& hp, int64_t n, int64_t n_want, int n_threads) {
  grow(x, n * hp.n_embd);
  grow(xn, n * hp.n_embd);
  grow(q, n * hp.q_dim());
  grow(k, n * hp.kv_dim());
  grow(v, n * hp.kv_dim());
  grow(attn, n * hp.q_dim());
  grow(proj, n * hp.n_embd);
  grow(gate, n * hp.n_ff);
  grow(up, n * hp.n_ff);
  grow(rope, n * hp.n_rot);
  grow(out_x, n_want * hp.n_embd);
  grow(attention, n_threads);
}

void Scratch::reserve_views(int n_seq) {
  grow(k_views, n_seq);
  grow(v_views, n_seq);
}

Expected<void> Model::forward(const Batch& batch, kv::KvCache& cache, ThreadPool& pool,
                              std::vector<float>& logits_out) {
  logits_out.clear();
  std::vector<int> next_pos;  // [n_seq]
  if (auto ok = validate_batch(batch, hparams_, cache, next_pos); !ok) return ok;
  const int64_t n = static_cast<int64_t>(batch.size());
  if (n == 0) return {};
  const kv::KvShape& ks = cache.shape();
  for (int s = 0; s < ks.n_seq; ++s)
    if (next_pos[static_cast<size_t>(s)] >= 0)
      if (auto ok = cache.reserve(s, next_pos[static_cast<size_t>(s)]); !ok) return ok;

  const HParams& hp = hparams_;
  const Weights& w = *weights_;
  Scratch& sc = *scratch_;
  sc.want_rows.clear();
  for (int64_t i = 0; i < n; ++i)
    if (batch.want_logits[static_cast<size_t>(i)]) sc.want_rows.push_back(static_cast<int32_t>(i));
  const int64_t n_want = static_cast<int64_t>(sc.want_rows.size());

  auto run = [&] {
    sc.reserve(hp, n, n_want, pool.size());
    sc.reserve_views(ks.n_seq);
    const int64_t n_embd = hp.n_embd, q_dim = hp.q_dim(), kv_dim = hp.kv_dim(), n_ff = hp.n_ff;
    const int64_t head_dim = hp.head_dim;
    const int group = hp.n_head / hp.n_kv_head;
    const float kq_scale = hp.kq_scale();
    kernels::RopeConfig rope{hp.n_rot, hp.rope_base, hp.rope_freq_scale,
                             hp.rope_style == RopeStyle::neox,
                             w.rope_factors.empty() ? nullptr : w.rope_factors.data()};

    // Embeddings and per-token RoPE tables.
    pool.parallel_range(n, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        const int32_t token = batch.tokens[static_cast<size_t>(t)];
        float* x = &sc.x[static_cast<size_t>(t * n_embd)];
        if (token >= w.vocab_first && token < w.vocab_first + w.n_vocab_local) {
          quant::dequantize_row(w.token_embd->type,
                                w.token_embd->data + static_cast<size_t>(token) * w.token_embd_row_bytes,
                                x, n_embd);
          if (hp.embedding_scale != 1.0f)
            for (int64_t i = 0; i < n_embd; ++i) x[i] *= hp.embedding_scale;
        } else {  // tensor parallelism: another rank holds this row (the all-reduce adds it)
          std::fill(x, x + n_embd, 0.0f);
        }
        kernels::rope_cos_sin(rope, batch.pos[static_cast<size_t>(t)],
                              &sc.rope[static_cast<size_t>(t * hp.n_rot)]);
      }
    });

    // Tensor parallelism: every rank's partial rows summed in rank order (identical bits on
    // every rank); the one embedding row a token has comes from the rank that holds it.
    auto all_reduce = [&](std::vector<float>& rows) {
      if (comm_) comm_->all_reduce_sum(rows.data(), static_cast<size_t>(n * n_embd));
    };
    // in [n, cols] (this rank's columns) → sc.gathered [n, cols * ranks], ranks' columns in order.
    auto all_gather_columns = [&](const std::vector<float>& in, int64_t cols) -> const float* {
      const int64_t ranks = comm_->size();
      grow(sc.gather_stage, ranks * n * cols);
      grow(sc.gathered, ranks * n * cols);
      comm_->all_gather(in.data(), static_cast<size_t>(n * cols), sc.gather_stage.data());  // [rank][n][cols]
      for (int64_t r = 0; r < ranks; ++r)
        for (int64_t t = 0; t < n; ++t)
          std::copy_n(&sc.gather_stage[static_cast<size_t>((r * n + t) * cols)], cols,
                      &sc.gathered[static_cast<size_t>(t * ranks * cols + r * cols)]);
      return sc.gathered.data();
    };
    // A row-split product (attn_output, ffn_down) followed by the sum over ranks; a matrix kept
    // whole (its column split would cut a block) takes every rank's input columns instead.
    auto row_split_matmul = [&](const kernels::WeightView& m, bool whole, const std::vector<float>& in,
                                int64_t cols) {
      if (comm_ && whole) {
        const float* full = all_gather_columns(in, cols);
        kernels::matmul(m, full, n, cols * comm_->size(), sc.proj.data(), n_embd, pool);
        return;
      }
      kernels::matmul(m, in.data(), n, cols, sc.proj.data(), n_embd, pool);
      all_reduce(sc.proj);
    };
    all_reduce(sc.x);

    for (int layer = 0; layer < hp.n_layer; ++layer) {
      const LayerWeights& l = w.layers[static_cast<size_t>(layer)];

      // --- attention block ---
      pool.parallel_range(n, kernels::kRmsNormRowsAtOnce, [&](int64_t begin, int64_t end, int) {
        kernels::rmsnorm_rows(&sc.x[static_cast<size_t>(begin * n_embd)], l.attn_norm.data(),
                              &sc.xn[static_cast<size_t>(begin * n_embd)], end - begin, n_embd, hp.rms_eps);
      });
      // Q, K and V in one parallel loop (the bits of three matmuls, one wait for the threads).
      const kernels::MatmulTarget qkv[] = {
          {&l.wq, sc.q.data(), q_dim}, {&l.wk, sc.k.data(), kv_dim}, {&l.wv, sc.v.data(), kv_dim}};
      kernels::matmul_many(qkv, sc.xn.data(), n, n_embd, pool);

      // Biases, per-head Q/K norms, RoPE, then K/V into the cache.
      pool.parallel_range(n, 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t) {
          float* q = &sc.q[static_cast<size_t>(t * q_dim)];
          float* k = &sc.k[static_cast<size_t>(t * kv_dim)];
          float* v = &sc.v[static_cast<size_t>(t * kv_dim)];
          add_bias(q, l.bq);
          add_bias(k, l.bk);
          add_bias(v, l.bv);
          const float* cs = &sc.rope[static_cast<size_t>(t * hp.n_rot)];
          for (int h = 0; h < hp.n_head; ++h) {
            float* qh = q + h * head_dim;
            if (!l.q_norm.empty()) kernels::rmsnorm_row(qh, l.q_norm.data(), qh, head_dim, hp.rms_eps);
            kernels::rope_apply(rope, cs, qh);
          }
          for (int h = 0; h < hp.n_kv_head; ++h) {
            float* kh = k + h * head_dim;
            if (!l.k_norm.empty()) kernels::rmsnorm_row(kh, l.k_norm.data(), kh, head_dim, hp.rms_eps);
            kernels::rope_apply(rope, cs, kh);
          }
        }
      });
      // K/V rows into the cache; views are looked up before the parallel part.
      for (int s = 0; s < ks.n_seq; ++s) {
        if (next_pos[static_cast<size_t>(s)] < 0) continue;
        sc.k_views[static_cast<size_t>(s)] = cache.keys(layer, s);
        sc.v_views[static_cast<size_t>(s)] = cache.values(layer, s);
      }
      pool.parallel_range(n, 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t) {
          const auto seq = static_cast<size_t>(batch.seq[static_cast<size_t>(t)]);
          const int pos = batch.pos[static_cast<size_t>(t)];
          kernels::encode_kv_row(ks.k_type, &sc.k[static_cast<size_t>(t * kv_dim)],
                                 sc.k_views[seq].row(pos), kv_dim);
          kernels::encode_kv_row(ks.v_type, &sc.v[static_cast<size_t>(t * kv_dim)],
                                 sc.v_views[seq].row(pos), kv_dim);
        }
      });
      // One task per (token, kv head, part of the kv head's query heads); keys
      // 0 .. pos of the token's sequence. The query heads of a task share every
      // K/V row read (GQA). A head's result never depends on the heads it is
      // processed with, so splitting groups into parts (more tasks than threads
      // for short batches) changes no bits, whatever the thread count.
      const int64_t units = n * hp.n_kv_head;
      const int64_t parts = std::min<int64_t>(
          group, std::max<int64_t>(1, (2 * pool.size() + units - 1) / units));
      const int64_t per_part = (group + parts - 1) / parts;
      pool.parallel_for(units * parts, [&](int64_t task, int thread) {
        const int64_t t = task / (hp.n_kv_head * parts);
        const int64_t kv_head = task / parts % hp.n_kv_head;
        const int64_t h0 = kv_head * group + task % parts * per_part;
        const int64_t h1 = std::min<int64_t>(h0 + per_part, (kv_head + 1) * group);
        if (h0 >= h1) return;
        const auto seq = static_cast<size_t>(batch.seq[static_cast<size_t>(t)]);
        kernels::attend_heads(&sc.q[static_cast<size_t>(t * q_dim + h0 * head_dim)], h1 - h0,
                              head_dim, head_rows(sc.k_views[seq], ks.k_type, kv_head, head_dim),
                              head_rows(sc.v_views[seq], ks.v_type, kv_head, head_dim),
                              batch.pos[static_cast<size_t>(t)] + 1, kq_scale,
                              &sc.attn[static_cast<size_t>(t * q_dim + h0 * head_dim)],
                              sc.attention[static_cast<size_t>(thread)]);
      });
      row_split_matmul(l.wo, l.wo_whole, sc.attn, q_dim);
      pool.parallel_range(n, kernels::kRmsNormRowsAtOnce, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t) {
          float* proj = &sc.proj[static_cast<size_t>(t * n_embd)];
          add_bias(proj, l.bo);
          add_scaled(&sc.x[static_cast<size_t>(t * n_embd)], proj, n_embd, hp.residual_scale);
        }
        kernels::rmsnorm_rows(&sc.x[static_cast<size_t>(begin * n_embd)], l.ffn_norm.data(),
                              &sc.xn[static_cast<size_t>(begin * n_embd)], end - begin, n_embd, hp.rms_eps);
      });

      // --- feed-forward block: down(silu(gate(x)) * up(x)) ---
      const kernels::MatmulTarget gate_up[] = {{&l.w_gate, sc.gate.data(), n_ff}, {&l.w_up, sc.up.data(), n_ff}};
      kernels::matmul_many(gate_up, sc.xn.data(), n, n_embd, pool);
      pool.parallel_range(n, 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t)
          kernels::swiglu_row(&sc.gate[static_cast<size_t>(t * n_ff)],
                              &sc.up[static_cast<size_t>(t * n_ff)],
                              &sc.gate[static_cast<size_t>(t * n_ff)], n_ff);
      });
      row_split_matmul(l.w_down, l.down_whole, sc.gate, n_ff);
      pool.parallel_range(n, 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t t = begin; t < end; ++t)
          add_scaled(&sc.x[static_cast<size_t>(t * n_embd)],
                     &sc.proj[static_cast<size_t>(t * n_embd)], n_embd, hp.residual_scale);
      });
    }

    // Final norm and output projection for the rows that want logits.
    if (n_want == 0) return;
    for (int64_t r = 0; r < n_want; ++r)
      kernels::rmsnorm_row(&sc.x[static_cast<size_t>(sc.want_rows[static_cast<size_t>(r)] * n_embd)],
                           w.output_norm.data(), &sc.out_x[static_cast<size_t>(r * n_embd)],
                           n_embd, hp.rms_eps);
    const int64_t n_vocab = hp.n_vocab, n_local = w.n_vocab_local;
    std::vector<float>& local = comm_ ? sc.local_logits : logits_out;  // [n_want, n_local]
    local.resize(static_cast<size_t>(n_want * n_local));
    kernels::matmul(w.output, sc.out_x.data(), n_want, n_embd, local.data(), n_local, pool);
    if (hp.logit_scale != 1.0f) {
      const float inv = 1.0f / hp.logit_scale;
      for (float& z : local) z *= inv;
    }
    if (comm_) {
      // Vocabulary slices, rank-major [rank][n_want][slice], into rows [n_want][n_vocab] on rank 0.
      comm_->gather(local.data(), local.size(), sc.gathered_logits, 0);
      if (comm_->rank() != 0) return;
      logits_out.resize(static_cast<size_t>(n_want * n_vocab));
      const int64_t chunk = (n_vocab + comm_->size() - 1) / comm_->size();
      const float* src = sc.gathered_logits.data();
      for (int r = 0; r < comm_->size(); ++r) {
        const int64_t first = std::min<int64_t>(r * chunk, n_vocab);
        const int64_t count = std::min<int64_t>(first + chunk, n_vocab) - first;
        for (int64_t row = 0; row < n_want; ++row, src += count)
          std::copy(src, src + count, &logits_out[static_cast<size_t>(row * n_vocab + first)]);
      }
    }
  };
  if (auto ok = capture(run); !ok) {
    logits_out.clear();
    return ok;
  }
  for (int s = 0; s < ks.n_seq; ++s)
    if (next_pos[static_cast<size_t>(s)] >= 0)
      if (auto ok = cache.set_length(s, next_pos[static_cast<size_t>(s)]); !ok) return ok;
  return {};
}

}  // namespace pagoda::model
