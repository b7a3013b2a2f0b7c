// The estimate of a GGUF model equals what pagoda maps and allocates for it:
// the file's bytes, the paged pool of the estimated size, and the heap the
// forward pass grows (measured with glibc's counters). Runs on every fixture
// model and on models the test writes itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "common/fixtures.h"
#include "kv/paged_cache.h"
#include "model/model.h"
#include "planner/estimate.h"
#include "planner_test_util.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::planner {
namespace {

namespace fs = std::filesystem;

const char* const kFixtureModels[] = {
    "models/llama-spm-f16.gguf",  "models/llama-spm-q4_0.gguf",   "models/llama-spm-q4_k_m.gguf",
    "models/llama-spm-q8_0.gguf", "models/qwen2-gpt2-f16.gguf",   "models/qwen2-gpt2-q8_0.gguf",
    "models/stories260K-f16.gguf", "models/stories260K.gguf",
};

// Checks the estimate of the model at `path` against the real thing.
void check_model(const std::string& path) {
  SCOPED_TRACE(path);
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto planned = model_from_gguf(**file, std::nullopt);
  ASSERT_TRUE(planned.ok()) << planned.error().message;
  const PlannedModel& m = *planned;
  // Weights: exactly the tensor data; with the header, exactly the mapped file.
  uint64_t tensor_bytes = 0;
  for (const auto& t : (*file)->tensors()) tensor_bytes += t.n_bytes;
  EXPECT_EQ(m.weights.bytes(), tensor_bytes);
  EXPECT_EQ(m.weights.bytes() + m.metadata_bytes, fs::file_size(path));

  // What loading takes besides the mapping: the parsed metadata and the f32
  // norms (Model::load), then the tokenizer built from the metadata.
  const size_t heap_before_load = test::heap_in_use();
  auto model = model::Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const size_t load_heap = test::heap_in_use() - heap_before_load;
  auto tok = tokenizer::Tokenizer::from_gguf((*model)->file());
  const size_t tokenizer_heap = test::heap_in_use() - heap_before_load - load_heap;
  const Overhead overhead = runtime_overhead(m);
  const double load_estimate = static_cast<double>(overhead.metadata - m.metadata_bytes + overhead.f32_copies);
  if (test::kHeapCounted) {
    EXPECT_NEAR(static_cast<double>(load_heap), load_estimate, 0.15 * load_estimate + 16384);
  }
  if (tok.ok() && test::kHeapCounted) {  // a written model's bare token list need not make a tokenizer
    EXPECT_NEAR(static_cast<double>(tokenizer_heap), static_cast<double>(overhead.tokenizer),
                0.2 * static_cast<double>(overhead.tokenizer) + 16384);
  }
  const model::HParams& hp = (*model)->hparams();
  EXPECT_EQ(m.shape.n_layer, hp.n_layer);
  EXPECT_EQ(m.shape.n_head_kv, hp.n_kv_head);
  EXPECT_EQ(m.shape.head_size(), hp.head_dim);
  EXPECT_EQ(m.shape.n_vocab, hp.n_vocab);

  // KV: the paged pool of the estimated size, for every type.
  for (KvType t : kAllKvTypes) {
    EstimateOptions o;
    o.k_type = o.v_type = t;
    o.ctx = 300;
    o.concurrency = 3;
    auto e = estimate(m, o);
    ASSERT_TRUE(e.ok()) << e.error().message;
    kv::KvShape shape{hp.n_layer, hp.n_kv_head, hp.head_dim, 3, 300, t, t};
    auto cache = kv::PagedKvCache::create(shape, static_cast<int>(e->kv.blocks_for(300) * 3), 16);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_EQ(e->kv_bytes, (*cache)->memory_bytes()) << kv_type_name(t);
    EXPECT_EQ(e->kv_bytes_per_token, (*cache)->token_bytes()) << kv_type_name(t);
  }

  // Scratch: one batch of 4 sequences x 16 tokens, each wanting its last logits.
  constexpr int kSeqs = 4, kLen = 16, kThreads = 2;
  auto cache = (*model)->make_kv_cache(kSeqs, 64);
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  model::Batch batch;
  for (int s = 0; s < kSeqs; ++s)
    for (int p = 0; p < kLen; ++p) batch.add(p % hp.n_vocab, p, s, p == kLen - 1);
  ThreadPool pool(kThreads);
  std::vector<float> logits;
  // On a fresh thread: the prepared-activation buffer is thread-local and
  // would otherwise keep the size an earlier model grew it to.
  size_t forward_heap = 0;
  bool forward_ok = false;
  std::thread([&] {
    const size_t heap_before = test::heap_in_use();
    forward_ok = (*model)->forward(batch, **cache, pool, logits).ok();
    forward_heap = test::heap_in_use() - heap_before;
  }).join();
  ASSERT_TRUE(forward_ok);
  const ScratchBytes sb = scratch_bytes(m.shape, m.weights, {kSeqs * kLen, kSeqs, kLen, pool.size(), 1});
  // The forward's part of the estimate: its buffers and the logits rows it returns
  // (the engine's log-prob row and the samplers are not in this call).
  const uint64_t forward_estimate = sb.activations + sb.attention + uint64_t{kSeqs} * hp.n_vocab * sizeof(float);
  if (test::kHeapCounted) {
    EXPECT_NEAR(static_cast<double>(forward_heap), static_cast<double>(forward_estimate),
                0.02 * static_cast<double>(forward_estimate) + 4096)
        << "activations " << sb.activations << ", attention " << sb.attention;
  }

  // The whole: mapped file + pool + heap of load, tokenizer and forward, within
  // 2% of the estimate (less the runtime's fixed part, which no library call shows).
  EstimateOptions o;
  o.ctx = 300;
  o.concurrency = 3;
  auto e = estimate(m, o);
  ASSERT_TRUE(e.ok());
  const uint64_t tokenizer_part = tok.ok() ? tokenizer_heap : overhead.tokenizer;
  const double actual =
      static_cast<double>(fs::file_size(path) + e->kv_bytes + load_heap + tokenizer_part + forward_heap);
  const double estimated = static_cast<double>(m.weights.bytes() + e->kv_bytes + e->overhead.total() -
                                               e->overhead.runtime + forward_estimate);
  if (test::kHeapCounted) {
    EXPECT_NEAR(estimated, actual, 0.02 * actual);
  }
}

TEST(PlannerFixtures, EstimateEqualsWhatPagodaMapsAndAllocates) {
  int checked = 0;
  for (const char* rel : kFixtureModels) {
    if (!fs::exists(test::fixture(rel))) continue;
    check_model(test::fixture(rel));
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no fixture model under " << test::fixtures_dir() << ": skipped";
}

// The mixes the planner applies to a file are the ones llama.cpp applied to the
// fixtures: the F16 file planned as Q8_0 / Q4_0 / Q4_K_M has exactly the bytes of
// the file llama-quantize wrote.
TEST(PlannerFixtures, MixOfTheF16FileEqualsLlamaCppsQuantizedFiles) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  auto f16 = gguf::File::open(test::fixture("models/llama-spm-f16.gguf"));
  ASSERT_TRUE(f16.ok());
  for (const auto& [mix, file] : {std::pair{"Q8_0", "models/llama-spm-q8_0.gguf"},
                                  std::pair{"Q4_0", "models/llama-spm-q4_0.gguf"},
                                  std::pair{"Q4_K_M", "models/llama-spm-q4_k_m.gguf"}}) {
    PAGODA_REQUIRE_FIXTURE(file);
    auto real = gguf::File::open(test::fixture(file));
    ASSERT_TRUE(real.ok());
    auto planned = model_from_gguf(**f16, quant::find_mix(mix));
    auto actual = model_from_gguf(**real, std::nullopt);
    ASSERT_TRUE(planned.ok() && actual.ok());
    EXPECT_EQ(planned->weights.bytes(), actual->weights.bytes()) << mix;
    // And a shape with the file's hyper-parameters lays out the same tensors.
    auto from_shape = model_from_shape(actual->shape, *quant::find_mix(mix));
    ASSERT_TRUE(from_shape.ok()) << from_shape.error().message;
    EXPECT_EQ(from_shape->weights.bytes(), actual->weights.bytes()) << mix;
  }
}

// Models the test writes itself (no fixtures needed): a shape's estimate equals
// the file written from it, and the file's estimate equals what loading it takes.
TEST(PlannerFixtures, ModelsWrittenFromShapes) {
  const fs::path dir = fs::temp_directory_path() / ("pagoda_planner_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ModelShape s;
  s.name = "written";
  s.n_vocab = 1000;
  s.n_embd = 128;
  s.n_layer = 3;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.n_ff = 256;
  for (const char* arch : {"llama", "qwen2"})
    for (const char* mix : {"F16", "Q8_0", "Q4_K_M"}) {
      s.arch = arch;
      s.qkv_bias = s.arch == "qwen2";
      s.tied_embeddings = s.arch == "qwen2";
      auto planned = model_from_shape(s, *quant::find_mix(mix));
      ASSERT_TRUE(planned.ok()) << planned.error().message;
      const std::string path = (dir / (std::string(arch) + "-" + mix + ".gguf")).string();
      ASSERT_TRUE(test::write_shape_gguf(path, s, planned->weights).ok());
      auto file = gguf::File::open(path);
      ASSERT_TRUE(file.ok());
      auto from_file = model_from_gguf(**file, std::nullopt);
      ASSERT_TRUE(from_file.ok()) << from_file.error().message;
      EXPECT_EQ(from_file->weights.bytes(), planned->weights.bytes()) << arch << " " << mix;
      EXPECT_EQ(from_file->shape.tied_embeddings, s.tied_embeddings);
      EXPECT_EQ(from_file->shape.qkv_bias, s.qkv_bias);
      check_model(path);
    }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pagoda::planner
