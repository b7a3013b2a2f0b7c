// Attention over the KV cache: the public entry points (path choice, per-key
// row pointers, the online path's scores), the run-time choice of kernels,
// and the scalar kernels. Compiled for baseline x86-64; the SIMD kernels are
// in attention_avx2.cpp / attention_avx512.cpp (see attention_kernels.h).
#include "kernels/attention.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "base/half.h"
#include "kernels/attention_kernels.h"
#include "kernels/kv_rows.h"
#include "kernels/matmul.h"
#include "quant/codec.h"

namespace pagoda::kernels {

void AttentionScratch::reserve(int64_t n_q, int64_t n_kv, int64_t head_dim) {
  const auto grow = [](auto& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(rows, static_cast<size_t>(2 * n_kv));
  grow(scores, static_cast<size_t>(n_q * n_kv));
  grow(work, attn::work_floats(n_q, head_dim, n_kv));
  // A quantized query exists only for head sizes a quantized cache accepts.
  if (head_dim % 32 == 0)
    grow(query, static_cast<size_t>(n_q) * activation_row_bytes(TensorType::Q8_0, head_dim));
}

namespace attn::scalar {
namespace {

uint64_t double_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}
double bits_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof(d));
  return d;
}

// std::fma(a, b, c) for floats, exactly, in instructions every x86-64 has (a
// baseline build turns std::fma into a libm call). The product is exact in
// double; the double sum is rounded to odd (its error, by TwoSum, tells the
// direction), and a round-to-odd result with 53 >= 24 + 2 bits rounds to float
// exactly as the exact sum would (Boldo & Melquiond, IEEE TC 57(4), 2008).
// Inf/NaN operands give a non-finite s and skip the adjustment, as fmaf does.
inline float fma_inline(float a, float b, float c) {
  const double p = static_cast<double>(a) * static_cast<double>(b);
  const double cd = c;
  double s = p + cd;
  const double bv = s - p;
  const double e = (p - (s - bv)) + (cd - bv);  // s + e == p + c exactly
  if (e < 0.0 || e > 0.0) {
    const uint64_t u = double_bits(s);
    if ((u & 1) == 0) s = bits_double((e > 0.0) == (s > 0.0) ? u + 1 : u - 1);
  }
  return static_cast<float>(s);
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// ops.h's ggml_expf, operation for operation, with fma_inline.
float expf_ggml(float x) {
  const float r = 0x1.8p23f;
  const float z = fma_inline(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = fma_inline(-n, 0x1.7f7d1cp-20f, fma_inline(-n, 0x1.62e4p-1f, x));
  const uint32_t e = float_bits(z) << 23;
  const float k = bits_float(e + float_bits(1.0f));
  const float u = b * b;
  const float j = fma_inline(fma_inline(fma_inline(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                        fma_inline(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return fma_inline(j, k, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = bits_float(g + 0x7f000000u);
  const float s2 = bits_float(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return fma_inline(s2, j, s2) * s1;
}

// Sum of 8 floats in the order of an AVX2 horizontal add.
float hsum8(const float* v) {
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = v[i + 4] + v[i];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

// ops.h's softmax_row with expf_ggml.
void softmax(float* x, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 8) {
    float group[8] = {};
    const int64_t end = i0 + 8 < n ? i0 + 8 : n;
    for (int64_t i = i0; i < end; ++i) group[i - i0] = x[i] = expf_ggml(x[i] - max);
    sum += static_cast<double>(hsum8(group));
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// ggml_vec_dot_f16's reduction of its 32 lanes (attention_ref.cpp).
double reduce_lanes(const float* acc) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = acc[i];
  for (int l = 0; l < 8; ++l) {
    x[l] += x[16 + l];
    x[8 + l] += x[24 + l];
  }
  for (int l = 0; l < 8; ++l) x[l] += x[8 + l];
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = x[l] + x[l + 4];
  return static_cast<double>((t[0] + t[1]) + (t[2] + t[3]));
}

// Row r as n floats, with kv_rows' decoders' exact values.
void decode_row(RowFormat format, KvType type, int64_t first, const uint8_t* r, int64_t n,
                float* out) {
  switch (format) {
    case RowFormat::kF32:
      std::memcpy(out, r, static_cast<size_t>(n) * sizeof(float));
      return;
    case RowFormat::kF16:
      for (int64_t d = 0; d < n; ++d)
        out[d] = fp16_to_fp32(reinterpret_cast<const uint16_t*>(r)[d]);
      return;
    case RowFormat::kBf16:
      for (int64_t d = 0; d < n; ++d)
        out[d] = bf16_to_fp32(reinterpret_cast<const uint16_t*>(r)[d]);
      return;
    case RowFormat::kQ8_0:
      quant::dequantize_row(TensorType::Q8_0, r, out, n);
      return;
    case RowFormat::kQ4_0:
      quant::dequantize_row(TensorType::Q4_0, r, out, n);
      return;
    case RowFormat::kDecoded:
      decode_kv_elements(type, r, first, n, out);
      return;
  }
}

}  // namespace

float fma_exact(float a, float b, float c) {
  return fma_inline(a, b, c);
}

void expf_row(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = expf_ggml(x[i]);
}

void attend_f16(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  float* qr = job.work;         // [n_q, hd] queries rounded to f16
  float* krow = qr + n_q * hd;  // [hd] a decoded key
  float* lanes = krow + hd;     // [hd, 32]
  for (int64_t i = 0; i < n_q * hd; ++i) qr[i] = round_fp16(job.q[i]);
  const int64_t np = hd & ~int64_t{31};
  for (int64_t j = 0; j < n_kv; ++j) {
    const auto* k = reinterpret_cast<const uint16_t*>(job.k[j]);
    for (int64_t d = 0; d < hd; ++d) krow[d] = fp16_to_fp32(k[d]);
    for (int64_t g = 0; g < n_q; ++g) {
      const float* a = qr + g * hd;
      float acc[32] = {};
      for (int64_t i = 0; i < np; ++i) acc[i % 32] = fma_inline(a[i], krow[i], acc[i % 32]);
      double sum = reduce_lanes(acc);
      for (int64_t i = np; i < hd; ++i) sum += static_cast<double>(a[i] * krow[i]);
      job.scores[g * n_kv + j] = static_cast<float>(sum);
    }
  }
  for (int64_t g = 0; g < n_q; ++g) {
    float* p = job.scores + g * n_kv;
    softmax(p, n_kv, job.scale);
    for (int64_t i = 0; i < hd * 32; ++i) lanes[i] = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
      const float pj = round_fp16(p[j]);
      const auto* v = reinterpret_cast<const uint16_t*>(job.v[j]);
      const int64_t lane = j % 32;
      for (int64_t d = 0; d < hd; ++d)
        lanes[d * 32 + lane] = fma_inline(pj, fp16_to_fp32(v[d]), lanes[d * 32 + lane]);
    }
    for (int64_t d = 0; d < hd; ++d)
      job.out[g * hd + d] = static_cast<float>(reduce_lanes(lanes + d * 32));
  }
}

void attend_f32(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  for (int64_t j = 0; j < n_kv; ++j) {
    const auto* k = reinterpret_cast<const float*>(job.k[j]);
    for (int64_t g = 0; g < n_q; ++g) {
      const float* q = job.q + g * hd;
      float dot = 0.0f;
      for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
      job.scores[g * n_kv + j] = dot;
    }
  }
  for (int64_t g = 0; g < n_q; ++g) {
    float* p = job.scores + g * n_kv;
    float* out = job.out + g * hd;
    softmax(p, n_kv, job.scale);
    for (int64_t d = 0; d < hd; ++d) out[d] = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
      const auto* v = reinterpret_cast<const float*>(job.v[j]);
      for (int64_t d = 0; d < hd; ++d) out[d] += p[j] * v[d];
    }
  }
}

void decoded_scores(const ScoresJob& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  float* krow = job.work;  // [hd]
  for (int64_t j = 0; j < n_kv; ++j) {
    decode_row(job.format, job.type, job.first, job.k[j], hd, krow);
    for (int64_t g = 0; g < n_q; ++g) {
      const float* q = job.q + g * hd;
      double dot = 0.0;  // exact products, summed in element order
      for (int64_t d = 0; d < hd; ++d)
        dot += static_cast<double>(q[d]) * static_cast<double>(krow[d]);
      job.scores[g * n_kv + j] = static_cast<float>(dot) * job.scale;
    }
  }
}

void accumulate_online(const OnlineJob& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  float* acc = job.work;        // [n_q, hd]
  float* max = acc + n_q * hd;  // [n_q]
  float* sum = max + n_q;       // [n_q]
  float* vrow = sum + n_q;      // [hd]
  for (int64_t i = 0; i < n_q * hd; ++i) acc[i] = 0.0f;
  for (int64_t g = 0; g < n_q; ++g) {
    max[g] = -std::numeric_limits<float>::infinity();
    sum[g] = 0.0f;
  }
  for (int64_t j = 0; j < n_kv; ++j) {
    decode_row(job.format, job.type, job.first, job.v[j], hd, vrow);
    for (int64_t g = 0; g < n_q; ++g) {
      const float score = job.scores[g * n_kv + j];
      float* a = acc + g * hd;
      float rescale = 1.0f;  // factor for what was accumulated so far
      float weight = 1.0f;   // exp(score - max) for this key
      if (score > max[g]) {
        const float old_max = max[g];
        max[g] = score;
        rescale = std::exp(old_max - max[g]);
        for (int64_t d = 0; d < hd; ++d) a[d] *= rescale;
      } else {
        weight = std::exp(score - max[g]);
      }
      for (int64_t d = 0; d < hd; ++d) a[d] += vrow[d] * weight;
      sum[g] = sum[g] * rescale + weight;
    }
  }
  for (int64_t g = 0; g < n_q; ++g) {
    const float inv = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
    for (int64_t d = 0; d < hd; ++d) job.out[g * hd + d] = acc[g * hd + d] * inv;
  }
}

}  // namespace attn::scalar

namespace {

const attn::Kernels& kernels_for(Isa isa) {
  static const attn::Kernels table[] = {
      {attn::scalar::attend_f16, attn::scalar::attend_f32, attn::scalar::accumulate_online,
       attn::scalar::decoded_scores},
      {attn::avx2::attend_f16, attn::avx2::attend_f32, attn::avx2::accumulate_online,
       attn::avx2::decoded_scores},
      {attn::avx512::attend_f16, attn::avx512::attend_f32, attn::avx512::accumulate_online,
       attn::avx512::decoded_scores},
  };
  return table[static_cast<int>(isa)];
}

bool is_block_type(KvType t) {
  return kv_type_geometry(t).block_size > 1;
}

// rows[j] = the start of row j plus `offset` bytes, for j < n: rows.row(j) +
// offset, without a division per key.
void row_pointers(const HeadRows& rows, size_t offset, int64_t n, const uint8_t** out) {
  for (int64_t j0 = 0, b = 0; j0 < n; j0 += rows.block_rows, ++b) {
    const uint8_t* base = rows.blocks[b] + offset;
    const int64_t end = j0 + rows.block_rows < n ? j0 + rows.block_rows : n;
    for (int64_t j = j0; j < end; ++j) out[j] = base + static_cast<size_t>(j - j0) * rows.row_bytes;
  }
}

// The byte offset of the head's first block within a row (HeadRows::at).
size_t head_offset(const HeadRows& rows) {
  const KvTypeGeometry g = kv_type_geometry(rows.type);
  return static_cast<size_t>(rows.first / g.block_size) * g.block_bytes;
}

// How the kernels read rows of `rows` (attn::RowFormat), and the row
// pointers that go with it: the head's first byte, or the row start for kDecoded.
attn::RowFormat row_format(const HeadRows& rows, int64_t head_dim) {
  const bool whole_blocks = head_dim % 32 == 0 && rows.block_aligned();
  switch (rows.type) {
    case KvType::f32:
      return attn::RowFormat::kF32;
    case KvType::f16:
      return attn::RowFormat::kF16;
    case KvType::bf16:
      return attn::RowFormat::kBf16;
    case KvType::q8_0:
      return whole_blocks ? attn::RowFormat::kQ8_0 : attn::RowFormat::kDecoded;
    case KvType::q4_0:
      return whole_blocks ? attn::RowFormat::kQ4_0 : attn::RowFormat::kDecoded;
    default:
      return attn::RowFormat::kDecoded;
  }
}

void format_pointers(const HeadRows& rows, attn::RowFormat format, int64_t n, const uint8_t** out) {
  row_pointers(rows, format == attn::RowFormat::kDecoded ? 0 : head_offset(rows), n, out);
}

// The online path's scores [n_q, n_kv], already scaled (attention.h); k_rows
// is scratch for n_kv row pointers.
void online_scores(Isa isa, const attn::Kernels& kernels, const float* q, int64_t n_q,
                   int64_t head_dim, const HeadRows& keys, int64_t n_kv, float scale,
                   const uint8_t** k_rows, AttentionScratch& s) {
  float* scores = s.scores.data();
  if (is_block_type(keys.type) && head_dim % 32 == 0 && keys.block_aligned()) {
    // The query quantized to Q8_0 once per head; the K type's vec_dot.
    const TensorType type = *kv_tensor_type(keys.type);
    const size_t query_bytes = activation_row_bytes(type, head_dim);
    uint8_t* query = s.query.data();
    for (int64_t g = 0; g < n_q; ++g)
      prepare_activation_row(type, q + g * head_dim, query + g * query_bytes, head_dim);
    const VecDotFn dot = vec_dot_kernel(type, isa);
    row_pointers(keys, head_offset(keys), n_kv, k_rows);
    for (int64_t j = 0; j < n_kv; ++j)
      for (int64_t g = 0; g < n_q; ++g)
        scores[g * n_kv + j] = dot(head_dim, k_rows[j], query + g * query_bytes) * scale;
    return;
  }
  // The K slice decoded once per key for every head; exact products summed
  // in double in element order.
  attn::ScoresJob job;
  job.q = q;
  job.n_q = n_q;
  job.head_dim = head_dim;
  job.n_kv = n_kv;
  job.format = row_format(keys, head_dim);
  job.type = keys.type;
  job.first = keys.first;
  job.scale = scale;
  job.scores = scores;
  job.work = s.work.data();
  format_pointers(keys, job.format, n_kv, k_rows);
  job.k = k_rows;
  kernels.scores(job);
}

}  // namespace

void attend_heads(Isa isa, const float* q, int64_t n_q, int64_t head_dim, const HeadRows& keys,
                  const HeadRows& values, int64_t n_kv, float scale, float* out,
                  AttentionScratch& scratch) {
  scratch.reserve(n_q, n_kv, head_dim);
  const attn::Kernels& kernels = kernels_for(isa);
  const uint8_t** k_rows = scratch.rows.data();
  const uint8_t** v_rows = k_rows + n_kv;
  const bool f16 = keys.type == KvType::f16 && values.type == KvType::f16;
  const bool f32 = keys.type == KvType::f32 && values.type == KvType::f32;
  if (f16 || f32) {
    row_pointers(keys, head_offset(keys), n_kv, k_rows);
    row_pointers(values, head_offset(values), n_kv, v_rows);
    attn::Job job;
    job.q = q;
    job.n_q = n_q;
    job.head_dim = head_dim;
    job.n_kv = n_kv;
    job.k = k_rows;
    job.v = v_rows;
    job.scale = scale;
    job.out = out;
    job.scores = scratch.scores.data();
    job.work = scratch.work.data();
    (f16 ? kernels.f16 : kernels.f32)(job);
    return;
  }

  online_scores(isa, kernels, q, n_q, head_dim, keys, n_kv, scale, k_rows, scratch);
  attn::OnlineJob job;
  job.scores = scratch.scores.data();
  job.n_q = n_q;
  job.head_dim = head_dim;
  job.n_kv = n_kv;
  job.format = row_format(values, head_dim);
  job.type = values.type;
  job.first = values.first;
  job.out = out;
  job.work = scratch.work.data();
  format_pointers(values, job.format, n_kv, v_rows);
  job.v = v_rows;
  kernels.online(job);
}

void attend_heads(const float* q, int64_t n_q, int64_t head_dim, const HeadRows& keys,
                  const HeadRows& values, int64_t n_kv, float scale, float* out,
                  AttentionScratch& scratch) {
  attend_heads(active_isa(), q, n_q, head_dim, keys, values, n_kv, scale, out, scratch);
}

void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out, AttentionScratch& scratch) {
  attend_heads(active_isa(), q, 1, head_dim, keys, values, n_kv, scale, out, scratch);
}

}  // namespace pagoda::kernels
