// The codecs against real GGUF files written and quantized by llama.cpp
// (../shared/fixtures/models): every tensor decodes, quantization error is in
// the expected band per type, and our quantizers reproduce llama.cpp's bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "quant/codec.h"

namespace pagoda::quant {
namespace {

std::unique_ptr<gguf::File> open_fixture(const std::string& rel) {
  auto file = gguf::File::open(test::fixture(rel));
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message);
  return file.ok() ? std::move(file.value()) : nullptr;
}

// Rows [0, n_rows) of a tensor decoded to f32. // [n_rows, ne0]
std::vector<float> decode_rows(const gguf::TensorInfo& t, int64_t n_rows) {
  const int64_t n_cols = t.ne(0);
  const size_t stride = *row_bytes(t.type, n_cols);
  std::vector<float> out(static_cast<size_t>(n_rows * n_cols));
  for (int64_t r = 0; r < n_rows; ++r)
    dequantize_row(t.type, t.data + r * stride, out.data() + r * n_cols, n_cols);
  return out;
}

// sqrt(mean((a - b)^2)) / sqrt(mean(b^2)): error relative to the signal.
double relative_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref += double(b[i]) * b[i];
  }
  return ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
}

TEST(QuantFixtures, EveryTensorOfEveryModelDequantizes) {
  PAGODA_REQUIRE_FIXTURE("models");
  int n_files = 0, n_tensors = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::fixture("models"))) {
    if (entry.path().extension() != ".gguf") continue;
    auto file = gguf::File::open(entry.path().string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    ++n_files;
    for (const auto& t : file.value()->tensors()) {
      SCOPED_TRACE(entry.path().filename().string() + ": " + t.name);
      ASSERT_TRUE(can_dequantize(t.type)) << tensor_type_name(t.type);
      // Decode the whole tensor (these models are small), check it is finite.
      const std::vector<float> values = decode_rows(t, t.n_rows());
      ASSERT_EQ(values.size(), t.n_elements);
      size_t n_bad = 0;
      for (float v : values) n_bad += !std::isfinite(v);
      EXPECT_EQ(n_bad, 0u);
      ++n_tensors;
    }
  }
  EXPECT_GE(n_files, 8);
  EXPECT_GT(n_tensors, 100);
}

struct QuantizedModel {
  const char* file;
  TensorType type;
  double min_rmse, max_rmse;  // expected band of relative RMSE vs the F16 weights
};

// Random N(0, s) weights: the bands bracket the theoretical error of each format.
const QuantizedModel kModels[] = {
    {"models/llama-spm-q8_0.gguf", TensorType::Q8_0, 0.002, 0.008},
    {"models/llama-spm-q4_0.gguf", TensorType::Q4_0, 0.07, 0.14},
    {"models/llama-spm-q4_k_m.gguf", TensorType::Q4_K, 0.05, 0.12},
    {"models/llama-spm-q4_k_m.gguf", TensorType::Q6_K, 0.01, 0.04},
};

// Rows of each tensor compared: enough blocks for a stable statistic, few
// enough that the test stays fast under sanitizers.
constexpr int64_t kRowsPerTensor = 48;

TEST(QuantFixtures, RmseAgainstF16PerTypeAndRequantizationMatchesLlamaCpp) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  auto f16 = open_fixture("models/llama-spm-f16.gguf");
  ASSERT_TRUE(f16);
  for (const auto& m : kModels) {
    SCOPED_TRACE(m.file);
    if (!std::filesystem::exists(test::fixture(m.file))) GTEST_SKIP() << m.file << " absent";
    auto q = open_fixture(m.file);
    ASSERT_TRUE(q);
    std::vector<float> all_ref, all_q;
    size_t n_blocks = 0, n_same = 0;
    for (const auto& t : q->tensors()) {
      if (t.type != m.type) continue;
      const gguf::TensorInfo* src = f16->find_tensor(t.name);
      ASSERT_NE(src, nullptr) << t.name;
      ASSERT_EQ(src->shape, t.shape);
      const int64_t n_rows = std::min<int64_t>(kRowsPerTensor, t.n_rows());
      const std::vector<float> ref = decode_rows(*src, n_rows);
      const std::vector<float> got = decode_rows(t, n_rows);
      all_ref.insert(all_ref.end(), ref.begin(), ref.end());
      all_q.insert(all_q.end(), got.begin(), got.end());

      // Our quantizer on the same F16 input must give llama.cpp's blocks.
      const auto& tr = traits(t.type);
      const size_t n_bytes = *row_bytes(t.type, t.ne(0)) * n_rows;
      std::vector<uint8_t> mine(n_bytes);
      quantize_row(t.type, ref.data(), mine.data(), static_cast<int64_t>(ref.size()));
      for (size_t b = 0; b < n_bytes / tr.block_bytes; ++b) {
        ++n_blocks;
        n_same += std::memcmp(mine.data() + b * tr.block_bytes, t.data + b * tr.block_bytes,
                              tr.block_bytes) == 0;
      }
    }
    ASSERT_GT(n_blocks, 0u) << "no " << tensor_type_name(m.type) << " tensors";
    const double rmse = relative_rmse(all_q, all_ref);
    std::printf("[ quant    ] %-32s %-5s relative RMSE vs f16 %.5f, requantized blocks identical "
                "%zu/%zu\n",
                m.file, std::string(tensor_type_name(m.type)).c_str(), rmse, n_same, n_blocks);
    EXPECT_GE(rmse, m.min_rmse);
    EXPECT_LE(rmse, m.max_rmse);
    EXPECT_EQ(n_same, n_blocks);
  }
}

}  // namespace
}  // namespace pagoda::quant
