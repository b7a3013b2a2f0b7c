// Reading real GGUF files (llama.cpp fixtures) and our own writer's output:
// every file parses, and write(read(file)) reproduces it byte for byte.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "common/fixtures.h"
#include "gguf/gguf.h"

namespace pagoda::gguf {
namespace {

std::vector<std::string> fixture_files(const std::string& folder) {
  std::vector<std::string> out;
  const auto dir = test::fixture(folder);
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Rebuilds `file` with our Writer, borrowing its tensor bytes.
std::vector<uint8_t> rewrite(const File& file) {
  Writer w;
  w.copy_metadata(file);
  for (const auto& t : file.tensors()) w.add_tensor(t.name, t.type, t.shape, t.data);
  auto bytes = w.write_memory();
  EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.error().message);
  return bytes.ok() ? std::move(*bytes) : std::vector<uint8_t>{};
}

void expect_same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  if (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0) return;  // fast path
  const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin());
  EXPECT_TRUE(mismatch.first == a.end())
      << what << ": first difference at byte " << (mismatch.first - a.begin());
}

TEST(GgufFixtures, ModelsParseAndRewriteByteForByte) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  const auto files = fixture_files("models");
  ASSERT_GE(files.size(), 8u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto file = File::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    const File& f = **file;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_TRUE(f.get_string("general.architecture").has_value());
    ASSERT_FALSE(f.tensors().empty());
    const auto* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->shape.size(), 2u);
    EXPECT_GT(embd->n_bytes, 0u);
    // Each tensor's data lies inside the file.
    for (const auto& t : f.tensors()) {
      EXPECT_GE(t.data, f.bytes().data() + f.data_offset());
      EXPECT_LE(t.data + t.n_bytes, f.bytes().data() + f.bytes().size());
    }
    expect_same_bytes(rewrite(f), f.bytes(), path);
  }
}

TEST(GgufFixtures, LlamaSpmF16HasExpectedShapes) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  auto file = File::open(test::fixture("models/llama-spm-f16.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  const File& f = **file;
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.embedding_length"), 256);
  EXPECT_EQ(f.get_int("llama.block_count"), 4);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 2);
  const Array* tokens = f.get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->elem_type, ValueType::STRING);
  EXPECT_EQ(tokens->size(), 32000u);
  const auto* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, TensorType::F16);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{256, 32000}));
  EXPECT_EQ(embd->n_bytes, 256u * 32000u * 2u);
  EXPECT_EQ(embd->n_rows(), 32000);
  EXPECT_EQ(f.find_tensor("no.such.tensor"), nullptr);
}

TEST(GgufFixtures, VocabFilesParseAndRewriteByteForByte) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-llama-spm.gguf");
  const auto files = fixture_files("vocab");
  ASSERT_GE(files.size(), 8u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto file = File::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    const Array* tokens = (*file)->get_array("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_GT(tokens->size(), 500u);
    expect_same_bytes(rewrite(**file), (*file)->bytes(), path);
  }
}

}  // namespace
}  // namespace pagoda::gguf
