// Model loading and KV-cache creation.
#include "model/model.h"

#include <fmt/format.h>

#include <chrono>

#include "base/log.h"
#include "dist/communicator.h"
#include "gguf/gguf.h"
#include "kernels/vec_dot.h"
#include "model/forward.h"
#include "model/weights.h"

namespace pagoda::model {

Model::Model() = default;
Model::~Model() = default;

Expected<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  return from_file(std::move(*file));
}

Expected<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
  auto model = bind_file(std::move(file));
  if (!model) return model.error();
  if (auto ok = (*model)->interleave(); !ok) return ok.error();
  return model;
}

Expected<std::unique_ptr<Model>> Model::bind_file(std::unique_ptr<gguf::File> file) {
  if (!file) return Error{"model: no file given"};
  auto hp = read_hparams(*file);
  if (!hp) return hp.error();
  auto weights = bind_weights(*file, *hp);
  if (!weights) return weights.error();
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->hparams_ = std::move(*hp);
  m->weights_ = std::make_unique<Weights>(std::move(*weights));
  m->scratch_ = std::make_unique<Scratch>();
  m->shard_ = ShardPlan{0, m->hparams_.n_head, 0, m->hparams_.n_kv_head, 0, m->hparams_.n_ff, 0, m->hparams_.n_vocab};
  return m;
}

Expected<void> Model::interleave() {
  const auto start = std::chrono::steady_clock::now();
  try {
    interleaved_bytes_ += interleave_matrices(*weights_, hparams_.tied_output);
  } catch (const Exception& e) {  // a matrix matmul would refuse too (e.g. misaligned in the file)
    return Error{fmt::format("{}: {}", file_->name(), e.what())};
  }
  if (interleaved_bytes_ == 0) return {};
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  log::info("model: {:.1f} MiB of weights interleaved for the {} kernels in {:.0f} ms",
            static_cast<double>(interleaved_bytes_) / (1 << 20), kernels::isa_name(kernels::active_isa()), ms);
  return {};
}

Expected<std::unique_ptr<Model>> Model::load_shard(const std::string& path, dist::Communicator& comm) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  auto model = bind_file(std::move(*file));
  if (!model) return model.error();
  Model& m = **model;
  m.tp_ = TensorParallel{comm.rank(), comm.size()};
  auto plan = plan_shard(m.hparams_, m.tp_);
  if (!plan) return plan.error();
  m.shard_ = *plan;
  if (auto ok = shard_weights(*m.weights_, m.hparams_, m.tp_, m.shard_); !ok) return ok.error();
  if (m.tp_.active()) m.comm_ = &comm;
  if (auto ok = m.interleave(); !ok) return ok.error();
  return model;
}

uint64_t Model::weight_bytes() const {
  const auto matrix = [](const kernels::WeightView& m) {
    return static_cast<uint64_t>(m.n_rows) * static_cast<uint64_t>(m.row_stride);
  };
  const Weights& w = *weights_;
  uint64_t total = matrix(w.output);
  if (!hparams_.tied_output) total += static_cast<uint64_t>(w.n_vocab_local) * w.token_embd_row_bytes;
  for (const LayerWeights& l : w.layers)
    for (const kernels::WeightView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      total += matrix(*m);
  return total;
}

Expected<std::unique_ptr<kv::KvCache>> Model::make_kv_cache(int n_seq, int n_ctx,
                                                            KvType k_type,
                                                            KvType v_type) const {
  if (n_ctx <= 0) n_ctx = hparams_.n_ctx_train;
  if (n_ctx > hparams_.n_ctx_train)
    return Error{fmt::format("context of {} tokens exceeds the model's training context of {}",
                             n_ctx, hparams_.n_ctx_train)};
  return kv::make_contiguous_cache(kv_shape(n_seq, n_ctx, k_type, v_type));
}

kv::KvShape Model::kv_shape(int n_seq, int n_ctx, KvType k, KvType v) const {
  kv::KvShape shape;
  shape.n_layer = hparams_.n_layer;
  shape.n_kv_head = hparams_.n_kv_head;
  shape.head_dim = hparams_.head_dim;
  shape.n_seq = n_seq;
  shape.n_ctx = n_ctx;
  shape.k_type = k;
  shape.v_type = v;
  return shape;
}

}  // namespace pagoda::model
