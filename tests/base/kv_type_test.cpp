// KvType names, parsing and geometry.
#include <gtest/gtest.h>

#include "base/kv_type.h"

namespace pagoda {
namespace {

TEST(KvType, NamesRoundTrip) {
  const char* names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "fp8_e4m3", "fp8_e5m2"};
  int i = 0;
  for (KvType t : kAllKvTypes) {
    EXPECT_EQ(kv_type_name(t), names[i++]);
    EXPECT_EQ(parse_kv_type(kv_type_name(t)), t);
  }
  EXPECT_EQ(parse_kv_type("F16"), KvType::f16);
  EXPECT_EQ(parse_kv_type("Q4_0"), KvType::q4_0);
  EXPECT_EQ(parse_kv_type("FP8_E5M2"), KvType::fp8_e5m2);
  EXPECT_EQ(parse_kv_type("fp8"), KvType::fp8_e4m3);
  EXPECT_EQ(parse_kv_type("FP8"), KvType::fp8_e4m3);
  for (const char* bad : {"auto", "", "q4_k", "f8", "fp8_e4m3 ", "q8", "float16"})
    EXPECT_FALSE(parse_kv_type(bad).has_value()) << bad;
}

TEST(KvType, Geometry) {
  struct Row {
    KvType t;
    uint32_t block_size, block_bytes;
    std::optional<TensorType> tensor;
  };
  const Row rows[] = {{KvType::f32, 1, 4, TensorType::F32},
                      {KvType::f16, 1, 2, TensorType::F16},
                      {KvType::bf16, 1, 2, TensorType::BF16},
                      {KvType::q8_0, 32, 34, TensorType::Q8_0},
                      {KvType::q4_0, 32, 18, TensorType::Q4_0},
                      {KvType::fp8_e4m3, 1, 1, std::nullopt},
                      {KvType::fp8_e5m2, 1, 1, std::nullopt}};
  for (const Row& r : rows) {
    EXPECT_EQ(kv_type_geometry(r.t).block_size, r.block_size) << kv_type_name(r.t);
    EXPECT_EQ(kv_type_geometry(r.t).block_bytes, r.block_bytes) << kv_type_name(r.t);
    EXPECT_EQ(kv_tensor_type(r.t), r.tensor) << kv_type_name(r.t);
    EXPECT_TRUE(is_valid(r.t));
    if (r.tensor) {  // same storage as the GGUF type
      EXPECT_EQ(traits(*r.tensor).block_size, r.block_size);
      EXPECT_EQ(traits(*r.tensor).block_bytes, r.block_bytes);
    }
  }
  EXPECT_FALSE(is_valid(static_cast<KvType>(7)));
  EXPECT_EQ(kv_type_name(static_cast<KvType>(7)), "?");
}

}  // namespace
}  // namespace pagoda
