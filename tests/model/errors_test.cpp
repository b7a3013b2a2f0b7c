// Bad models and bad batches give clear errors, never crashes, and a failed
// forward leaves the KV cache unchanged.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "tiny_model.h"

namespace pagoda::test {
namespace {

std::string load_error(const TinyModel& tm) {
  auto m = load_tiny_model(tm);
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : m.error().message;
}

TEST(ModelErrors, UnknownArchitecture) {
  TinySpec s;
  s.arch = "mamba";
  const std::string e = load_error(make_tiny_model(s));
  EXPECT_NE(e.find("architecture 'mamba' is not supported"), std::string::npos) << e;
}

TEST(ModelErrors, MissingTensorsAreListed) {
  const std::string e = load_error(make_tiny_model(TinySpec{}, "blk.1.ffn_up.weight"));
  EXPECT_NE(e.find("missing tensor 'blk.1.ffn_up.weight'"), std::string::npos) << e;
}

TEST(ModelErrors, WrongShape) {
  const std::string e = load_error(make_tiny_model(TinySpec{}, "", "blk.0.attn_k.weight"));
  EXPECT_NE(e.find("tensor 'blk.0.attn_k.weight' has shape [32, 17], expected [32, 16]"),
            std::string::npos)
      << e;
}

TEST(ModelErrors, Qwen2WithoutBiases) {
  TinySpec s;
  s.arch = "qwen2";
  const std::string e = load_error(make_tiny_model(s));
  EXPECT_NE(e.find("missing tensor 'blk.0.attn_q.bias'"), std::string::npos) << e;
}

TEST(ModelErrors, Qwen3WithoutQkNorms) {
  TinySpec s;
  s.arch = "qwen3";
  const std::string e = load_error(make_tiny_model(s));
  EXPECT_NE(e.find("missing tensor 'blk.0.attn_q_norm.weight'"), std::string::npos) << e;
}

TEST(ModelErrors, MissingMetadata) {
  TinyModel tm = make_tiny_model(TinySpec{});
  auto file = gguf::File::parse(*tm.bytes, "tiny.gguf");
  ASSERT_TRUE(file.ok());
  gguf::Writer w;
  w.copy_metadata(**file);
  w.remove("llama.embedding_length");
  for (const auto& t : (*file)->tensors()) w.add_tensor(t.name, t.type, t.shape, t.data);
  auto bytes = w.write_memory();
  ASSERT_TRUE(bytes.ok());
  auto f2 = gguf::File::parse(*bytes, "no-embd.gguf");
  ASSERT_TRUE(f2.ok());
  auto m = model::Model::from_file(std::move(*f2));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("missing metadata 'llama.embedding_length'"), std::string::npos)
      << m.error().message;
}

TEST(ModelErrors, UnreadableFile) {
  auto m = model::Model::load("/nonexistent/model.gguf");
  EXPECT_FALSE(m.ok());
}

class ForwardErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    tm_ = make_tiny_model(TinySpec{});  // n_ctx 64, n_vocab 67
    auto m = load_tiny_model(tm_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    model_ = std::move(*m);
    auto c = model_->make_kv_cache(2, 16);
    ASSERT_TRUE(c.ok()) << c.error().message;
    cache_ = std::move(*c);
  }
  std::string forward_error(const model::Batch& b) {
    auto ok = model_->forward(b, *cache_, pool_, logits_);
    EXPECT_FALSE(ok.ok());
    EXPECT_TRUE(logits_.empty());
    return ok.ok() ? "" : ok.error().message;
  }
  TinyModel tm_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<kv::KvCache> cache_;
  ThreadPool pool_{2};
  std::vector<float> logits_;
};

TEST_F(ForwardErrors, PromptLongerThanContext) {
  model::Batch b;
  for (int i = 0; i < 17; ++i) b.add(1, i, 0, i == 16);
  const std::string e = forward_error(b);
  EXPECT_NE(e.find("exceeds the context size of 16"), std::string::npos) << e;
  EXPECT_EQ(cache_->length(0), 0);
}

TEST_F(ForwardErrors, ContextAboveTraining) {
  auto c = model_->make_kv_cache(1, 65);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("training context of 64"), std::string::npos);
}

TEST_F(ForwardErrors, TokenOutOfVocabulary) {
  model::Batch b;
  b.add(67, 0, 0, true);
  EXPECT_NE(forward_error(b).find("token id 67 is outside the vocabulary"), std::string::npos);
  b.clear();
  b.add(-1, 0, 0, true);
  EXPECT_NE(forward_error(b).find("token id -1"), std::string::npos);
}

TEST_F(ForwardErrors, UnknownSequence) {
  model::Batch b;
  b.add(1, 0, 2, true);
  EXPECT_NE(forward_error(b).find("sequence 2 is outside"), std::string::npos);
}

TEST_F(ForwardErrors, PositionsMustContinueTheSequence) {
  model::Batch b;
  b.add(1, 1, 0, true);
  EXPECT_NE(forward_error(b).find("continues at position 0, got position 1"), std::string::npos);
  b.clear();
  b.add(1, 0, 0, false);
  b.add(2, 0, 0, true);
  EXPECT_NE(forward_error(b).find("continues at position 1, got position 0"), std::string::npos);
  EXPECT_EQ(cache_->length(0), 0);
}

TEST_F(ForwardErrors, MismatchedBatchArrays) {
  model::Batch b;
  b.add(1, 0, 0, true);
  b.pos.push_back(1);
  EXPECT_NE(forward_error(b).find("must have equal lengths"), std::string::npos);
}

TEST_F(ForwardErrors, CacheOfAnotherModel) {
  TinySpec s;
  s.n_layer = 3;
  TinyModel other = make_tiny_model(s);
  auto m = load_tiny_model(other);
  ASSERT_TRUE(m.ok());
  auto c = (*m)->make_kv_cache(1, 8);
  ASSERT_TRUE(c.ok());
  model::Batch b;
  b.add(1, 0, 0, true);
  auto ok = model_->forward(b, **c, pool_, logits_);
  ASSERT_FALSE(ok.ok());
  EXPECT_NE(ok.error().message.find("does not match the model"), std::string::npos);
}

TEST_F(ForwardErrors, TruncateAndReevaluateGivesSameLogits) {
  model::Batch b;
  for (int i = 0; i < 6; ++i) b.add(i + 3, i, 1, i == 5);
  ASSERT_TRUE(model_->forward(b, *cache_, pool_, logits_).ok());
  const std::vector<float> first = logits_;
  EXPECT_EQ(cache_->length(1), 6);
  ASSERT_TRUE(cache_->truncate(1, 4).ok());
  EXPECT_FALSE(cache_->truncate(1, 5).ok());
  model::Batch tail;
  tail.add(7, 4, 1, false);
  tail.add(8, 5, 1, true);
  ASSERT_TRUE(model_->forward(tail, *cache_, pool_, logits_).ok());
  EXPECT_EQ(logits_, first);
  cache_->clear(1);
  EXPECT_EQ(cache_->length(1), 0);
}

}  // namespace
}  // namespace pagoda::test
