// KvShape validation, row sizes for every element type and head size, and the
// contiguous store's regions.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "kv/kv_store.h"

namespace pagoda::kv {
namespace {

TEST(KvShape, AcceptsEveryTypeWithEveryHeadSize) {
  for (KvType k : kAllKvTypes)
    for (KvType v : kAllKvTypes)
      for (int head_dim : {1, 8, 12, 32, 64, 80, 96, 100, 128, 256}) {
        KvShape s{2, 3, head_dim, 2, 5, k, v};
        EXPECT_TRUE(validate_shape(s).ok())
            << kv_type_name(k) << "/" << kv_type_name(v) << " head_dim " << head_dim;
      }
}

TEST(KvShape, RejectsBadSizesAndTypes) {
  KvShape s{2, 2, 64, 3, 10};
  EXPECT_EQ(s.k_type, KvType::f16);
  EXPECT_EQ(s.v_type, KvType::f16);
  EXPECT_TRUE(validate_shape(s).ok());
  for (int* field : {&s.n_layer, &s.n_kv_head, &s.head_dim, &s.n_seq, &s.n_ctx}) {
    const int saved = *field;
    *field = 0;
    EXPECT_FALSE(validate_shape(s).ok());
    *field = -1;
    EXPECT_FALSE(validate_shape(s).ok());
    *field = saved;
  }
  s.v_type = static_cast<KvType>(42);
  auto e = validate_shape(s);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("q8_0"), std::string::npos) << e.error().message;
  EXPECT_FALSE(make_contiguous_cache(s).ok());
}

TEST(KvShape, RowBytesPadToWholeBlocks) {
  // A row is n_kv_head * head_dim values as one row of blocks.
  EXPECT_EQ(kv_row_bytes(KvType::f32, 12), 48u);
  EXPECT_EQ(kv_row_bytes(KvType::f16, 12), 24u);
  EXPECT_EQ(kv_row_bytes(KvType::bf16, 12), 24u);
  EXPECT_EQ(kv_row_bytes(KvType::fp8_e4m3, 12), 12u);
  EXPECT_EQ(kv_row_bytes(KvType::fp8_e5m2, 12), 12u);
  EXPECT_EQ(kv_row_bytes(KvType::q8_0, 32), 34u);
  EXPECT_EQ(kv_row_bytes(KvType::q8_0, 33), 68u);
  EXPECT_EQ(kv_row_bytes(KvType::q4_0, 1), 18u);
  EXPECT_EQ(kv_row_bytes(KvType::q4_0, 64), 36u);

  KvShape s{2, 2, 64, 3, 10, KvType::q8_0, KvType::q4_0};
  EXPECT_EQ(s.row_elements(), 128);
  EXPECT_EQ(k_row_bytes(s), 4u * 34);  // two heads of two blocks: today's layout
  EXPECT_EQ(v_row_bytes(s), 4u * 18);
  // stories260K: head_dim 8, 4 kv heads -> 32 values, one block for all heads.
  KvShape stories{5, 4, 8, 1, 64, KvType::q8_0, KvType::q4_0};
  EXPECT_EQ(k_row_bytes(stories), 34u);
  EXPECT_EQ(v_row_bytes(stories), 18u);
  // 3 heads of 12: 36 values -> two blocks, the second padded.
  KvShape odd{1, 3, 12, 1, 4, KvType::q4_0, KvType::fp8_e5m2};
  EXPECT_EQ(k_row_bytes(odd), 36u);
  EXPECT_EQ(v_row_bytes(odd), 36u);
}

TEST(ContiguousCache, SeparateKAndVRowSizes) {
  KvShape s{2, 2, 12, 3, 10, KvType::q8_0, KvType::f32};
  auto cache = make_contiguous_cache(s);
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  const size_t kb = k_row_bytes(s), vb = v_row_bytes(s);
  EXPECT_EQ(kb, 34u);
  EXPECT_EQ(vb, 96u);
  // Regions are padded to 64 bytes (340 -> 384 for K) plus 64 bytes of alignment slack.
  EXPECT_EQ((*cache)->memory_bytes(), 2u * 3 * (384 + 960) + 64);
  EXPECT_FALSE((*cache)->reserve(3, 1).ok());
  EXPECT_FALSE((*cache)->reserve(0, 11).ok());
  EXPECT_TRUE((*cache)->set_length(2, 10).ok());
  EXPECT_EQ((*cache)->length(2), 10);
  EXPECT_FALSE((*cache)->truncate(2, 11).ok());
  EXPECT_TRUE((*cache)->truncate(2, 4).ok());
  EXPECT_EQ((*cache)->length(2), 4);
  // Views carry their own row size; regions never overlap.
  std::set<const uint8_t*> starts;
  for (int layer = 0; layer < 2; ++layer)
    for (int seq = 0; seq < 3; ++seq) {
      KvRows k = (*cache)->keys(layer, seq), v = (*cache)->values(layer, seq);
      EXPECT_EQ(k.row_bytes, kb);
      EXPECT_EQ(v.row_bytes, vb);
      EXPECT_GE(k.n_blocks * k.block_rows, 10);
      EXPECT_LE(k.row(9) + kb, v.row(0));  // [K rows][V rows] per (layer, seq)
      EXPECT_EQ(reinterpret_cast<uintptr_t>(k.row(0)) % 64, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(v.row(0)) % 64, 0u);
      starts.insert(k.row(0));
      starts.insert(v.row(0));
      for (int p = 0; p < 10; ++p)
        for (size_t b = 0; b < vb; ++b) ASSERT_EQ(v.row(p)[b], 0) << "storage starts zeroed";
    }
  EXPECT_EQ(starts.size(), 12u);
}

// An odd-sized fp8 K region must not misalign the f32 V region after it.
TEST(ContiguousCache, RegionsStayAlignedForOddRowSizes) {
  KvShape s{3, 1, 3, 2, 5, KvType::fp8_e4m3, KvType::f32};  // K rows of 3 bytes
  auto cache = make_contiguous_cache(s);
  ASSERT_TRUE(cache.ok());
  for (int layer = 0; layer < 3; ++layer)
    for (int seq = 0; seq < 2; ++seq) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>((*cache)->keys(layer, seq).row(0)) % 64, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>((*cache)->values(layer, seq).row(0)) % 64, 0u);
    }
}

}  // namespace
}  // namespace pagoda::kv
