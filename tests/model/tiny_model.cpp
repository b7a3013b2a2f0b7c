// Random tiny models and the plain reference forward (see tiny_model.h).
#include "tiny_model.h"

#include <cmath>
#include <filesystem>
#include <random>

#include "gguf/gguf.h"

namespace pagoda::test {

namespace {

struct TensorPlan {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order
  float center;                // values are center + uniform(-spread, spread)
  float spread;
};

std::vector<TensorPlan> plan_tensors(const TinySpec& s) {
  const int64_t hd = s.resolved_head_dim(), q_dim = int64_t{s.n_head} * hd,
                kv_dim = int64_t{s.n_kv_head} * hd;
  auto w = [](int64_t fan_in) { return 1.5f / std::sqrt(static_cast<float>(fan_in)); };
  std::vector<TensorPlan> p;
  p.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}, 0.0f, 1.0f});
  p.push_back({"output_norm.weight", {s.n_embd}, 1.0f, 0.2f});
  if (!s.tied) p.push_back({"output.weight", {s.n_embd, s.n_vocab}, 0.0f, w(s.n_embd) * 2});
  if (s.rope_freqs) p.push_back({"rope_freqs.weight", {s.resolved_n_rot() / 2}, 2.0f, 1.0f});
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    p.push_back({b + "attn_norm.weight", {s.n_embd}, 1.0f, 0.2f});
    p.push_back({b + "attn_q.weight", {s.n_embd, q_dim}, 0.0f, w(s.n_embd) * 2});
    p.push_back({b + "attn_k.weight", {s.n_embd, kv_dim}, 0.0f, w(s.n_embd) * 2});
    p.push_back({b + "attn_v.weight", {s.n_embd, kv_dim}, 0.0f, w(s.n_embd)});
    p.push_back({b + "attn_output.weight", {q_dim, s.n_embd}, 0.0f, w(q_dim)});
    if (s.qkv_bias) {
      p.push_back({b + "attn_q.bias", {q_dim}, 0.0f, 0.3f});
      p.push_back({b + "attn_k.bias", {kv_dim}, 0.0f, 0.3f});
      p.push_back({b + "attn_v.bias", {kv_dim}, 0.0f, 0.3f});
    }
    if (s.qk_norm) {
      p.push_back({b + "attn_q_norm.weight", {hd}, 1.0f, 0.3f});
      p.push_back({b + "attn_k_norm.weight", {hd}, 1.0f, 0.3f});
    }
    p.push_back({b + "ffn_norm.weight", {s.n_embd}, 1.0f, 0.2f});
    p.push_back({b + "ffn_gate.weight", {s.n_embd, s.n_ff}, 0.0f, w(s.n_embd) * 2});
    p.push_back({b + "ffn_up.weight", {s.n_embd, s.n_ff}, 0.0f, w(s.n_embd) * 2});
    p.push_back({b + "ffn_down.weight", {s.n_ff, s.n_embd}, 0.0f, w(s.n_ff)});
  }
  return p;
}

}  // namespace

TinyModel make_tiny_model(const TinySpec& s, const std::string& drop, const std::string& reshape) {
  TinyModel m;
  m.spec = s;
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set("general.architecture", gguf::Value::string(s.arch));
  w.set(a + "context_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(a + "embedding_length", gguf::Value::u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + "block_count", gguf::Value::u32(static_cast<uint32_t>(s.n_layer)));
  w.set(a + "feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + "attention.head_count", gguf::Value::u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + "attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(s.n_kv_head)));
  w.set(a + "attention.layer_norm_rms_epsilon", gguf::Value::f32(s.rms_eps));
  w.set(a + "rope.freq_base", gguf::Value::f32(s.rope_base));
  if (s.head_dim > 0) {
    w.set(a + "attention.key_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim)));
    w.set(a + "attention.value_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim)));
  }
  if (s.n_rot > 0) w.set(a + "rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(s.n_rot)));
  if (s.rope_scale > 0.0f) {
    w.set(a + "rope.scaling.type", gguf::Value::string("linear"));
    w.set(a + "rope.scaling.factor", gguf::Value::f32(s.rope_scale));
  }
  if (s.arch == "granite") {
    w.set(a + "embedding_scale", gguf::Value::f32(s.embedding_scale));
    w.set(a + "residual_scale", gguf::Value::f32(s.residual_scale));
    w.set(a + "logit_scale", gguf::Value::f32(s.logit_scale));
    w.set(a + "attention.scale", gguf::Value::f32(s.attention_scale));
  }

  std::mt19937 rng(s.seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (const TensorPlan& p : plan_tensors(s)) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    for (float& v : values) v = p.center + p.spread * uni(rng);
    m.tensors[p.name] = std::move(values);
  }
  for (const TensorPlan& p : plan_tensors(s)) {
    if (p.name == drop) continue;
    std::vector<int64_t> shape = p.shape;
    if (p.name == reshape) shape.back() += 1;  // its data is then too short: use a copy
    auto& data = m.tensors[p.name];
    if (p.name == reshape) {
      auto grown = std::make_shared<std::vector<float>>(data);
      grown->resize(data.size() + data.size() / static_cast<size_t>(p.shape.back()));
      m.tensors["__reshaped"] = *grown;
      w.add_tensor(p.name, TensorType::F32, shape,
                   reinterpret_cast<const uint8_t*>(m.tensors["__reshaped"].data()));
    } else {
      w.add_tensor(p.name, TensorType::F32, shape, reinterpret_cast<const uint8_t*>(data.data()));
    }
  }
  m.bytes = std::make_shared<std::vector<uint8_t>>(w.write_memory().value());
  return m;
}

std::string write_tiny_model(const TinyModel& m, const std::string& file_name) {
  const auto path = std::filesystem::temp_directory_path() / file_name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return {};
  std::fwrite(m.bytes->data(), 1, m.bytes->size(), f);
  std::fclose(f);
  return path.string();
}

Expected<std::unique_ptr<model::Model>> load_tiny_model(const TinyModel& m) {
  auto file = gguf::File::parse(*m.bytes, "tiny-" + m.spec.arch + ".gguf");
  if (!file) return file.error();
  return model::Model::from_file(std::move(*file));
}

namespace {

void rmsnorm(std::vector<float>& out, const float* x, const float* w, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += double{x[i]} * x[i];
  const double inv = 1.0 / std::sqrt(ss / n + eps);
  out.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<float>(x[i] * inv) * w[i];
}

// out[r] = sum_c W[r][c] * x[c] (+ bias) for a GGUF matrix {cols, rows}.
std::vector<float> matvec(const std::vector<float>& w, const std::vector<float>& x, int rows,
                          const std::vector<float>* bias = nullptr) {
  const size_t cols = x.size();
  std::vector<float> out(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    double sum = 0;
    for (size_t c = 0; c < cols; ++c) sum += double{w[static_cast<size_t>(r) * cols + c]} * x[c];
    out[static_cast<size_t>(r)] = static_cast<float>(sum) + (bias ? (*bias)[static_cast<size_t>(r)] : 0.0f);
  }
  return out;
}

void rotate(float* head, int pos, const TinySpec& s, const std::vector<float>* factors) {
  const int n_rot = s.resolved_n_rot();
  const bool neox = s.arch == "qwen2" || s.arch == "qwen3";
  const double freq_scale = s.rope_scale > 0 ? 1.0 / s.rope_scale : 1.0;
  for (int i = 0; i < n_rot / 2; ++i) {
    double angle = pos * std::pow(double{s.rope_base}, -2.0 * i / n_rot) * freq_scale;
    if (factors) angle /= (*factors)[static_cast<size_t>(i)];
    const int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
    const double x0 = head[a], x1 = head[b];
    head[a] = static_cast<float>(x0 * std::cos(angle) - x1 * std::sin(angle));
    head[b] = static_cast<float>(x0 * std::sin(angle) + x1 * std::cos(angle));
  }
}

}  // namespace

std::vector<float> reference_logits(const TinyModel& m, const std::vector<int32_t>& tokens) {
  const TinySpec& s = m.spec;
  const int hd = s.resolved_head_dim(), E = s.n_embd;
  const int q_dim = s.n_head * hd, kv_dim = s.n_kv_head * hd;
  const bool granite = s.arch == "granite";
  const float res_scale = granite ? s.residual_scale : 1.0f;
  const float kq_scale = granite && s.attention_scale != 0.0f ? s.attention_scale
                                                              : 1.0f / std::sqrt(float(hd));
  const std::vector<float>* factors = s.rope_freqs ? &m.t("rope_freqs.weight") : nullptr;
  // key_cache[layer][pos * kv_dim + i]
  std::vector<std::vector<float>> key_cache(static_cast<size_t>(s.n_layer)),
      value_cache(static_cast<size_t>(s.n_layer));
  std::vector<float> all_logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const float* emb = &m.t("token_embd.weight")[static_cast<size_t>(tokens[pos]) * E];
    std::vector<float> x(emb, emb + E), xn;
    if (granite) for (float& v : x) v *= s.embedding_scale;
    for (int l = 0; l < s.n_layer; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      auto opt = [&](const std::string& n) { return m.tensors.count(b + n) ? &m.t(b + n) : nullptr; };
      rmsnorm(xn, x.data(), m.t(b + "attn_norm.weight").data(), E, s.rms_eps);
      auto q = matvec(m.t(b + "attn_q.weight"), xn, q_dim, opt("attn_q.bias"));
      auto k = matvec(m.t(b + "attn_k.weight"), xn, kv_dim, opt("attn_k.bias"));
      auto v = matvec(m.t(b + "attn_v.weight"), xn, kv_dim, opt("attn_v.bias"));
      std::vector<float> tmp;
      for (int h = 0; h < s.n_head; ++h) {
        if (s.qk_norm) {
          rmsnorm(tmp, &q[static_cast<size_t>(h * hd)], m.t(b + "attn_q_norm.weight").data(), hd, s.rms_eps);
          std::copy(tmp.begin(), tmp.end(), q.begin() + h * hd);
        }
        rotate(&q[static_cast<size_t>(h * hd)], static_cast<int>(pos), s, factors);
      }
      for (int h = 0; h < s.n_kv_head; ++h) {
        if (s.qk_norm) {
          rmsnorm(tmp, &k[static_cast<size_t>(h * hd)], m.t(b + "attn_k_norm.weight").data(), hd, s.rms_eps);
          std::copy(tmp.begin(), tmp.end(), k.begin() + h * hd);
        }
        rotate(&k[static_cast<size_t>(h * hd)], static_cast<int>(pos), s, factors);
      }
      auto& kc = key_cache[static_cast<size_t>(l)];
      auto& vc = value_cache[static_cast<size_t>(l)];
      kc.insert(kc.end(), k.begin(), k.end());
      vc.insert(vc.end(), v.begin(), v.end());
      std::vector<float> att_out(static_cast<size_t>(q_dim), 0.0f);
      for (int h = 0; h < s.n_head; ++h) {
        const int kvh = h / (s.n_head / s.n_kv_head);
        std::vector<double> score(pos + 1);
        double max = -1e300;
        for (size_t j = 0; j <= pos; ++j) {
          double dot = 0;
          for (int d = 0; d < hd; ++d)
            dot += double{q[static_cast<size_t>(h * hd + d)]} * kc[j * kv_dim + static_cast<size_t>(kvh * hd + d)];
          score[j] = dot * kq_scale;
          max = std::max(max, score[j]);
        }
        double sum = 0;
        for (double& sc : score) sum += (sc = std::exp(sc - max));
        for (size_t j = 0; j <= pos; ++j)
          for (int d = 0; d < hd; ++d)
            att_out[static_cast<size_t>(h * hd + d)] += static_cast<float>(
                score[j] / sum * vc[j * kv_dim + static_cast<size_t>(kvh * hd + d)]);
      }
      auto o = matvec(m.t(b + "attn_output.weight"), att_out, E);
      for (int i = 0; i < E; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)] * res_scale;
      rmsnorm(xn, x.data(), m.t(b + "ffn_norm.weight").data(), E, s.rms_eps);
      auto g = matvec(m.t(b + "ffn_gate.weight"), xn, s.n_ff);
      auto u = matvec(m.t(b + "ffn_up.weight"), xn, s.n_ff);
      for (int i = 0; i < s.n_ff; ++i) {
        const double gv = g[static_cast<size_t>(i)];
        g[static_cast<size_t>(i)] = static_cast<float>(gv / (1.0 + std::exp(-gv)) * u[static_cast<size_t>(i)]);
      }
      auto d = matvec(m.t(b + "ffn_down.weight"), g, E);
      for (int i = 0; i < E; ++i) x[static_cast<size_t>(i)] += d[static_cast<size_t>(i)] * res_scale;
    }
    rmsnorm(xn, x.data(), m.t("output_norm.weight").data(), E, s.rms_eps);
    auto logits = matvec(m.t(s.tied ? "token_embd.weight" : "output.weight"), xn, s.n_vocab);
    if (granite) for (float& z : logits) z /= s.logit_scale;
    all_logits.insert(all_logits.end(), logits.begin(), logits.end());
  }
  return all_logits;
}

}  // namespace pagoda::test
