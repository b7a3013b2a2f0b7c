// Malformed GGUF files built byte by byte: each must give an error naming the
// file, the field and the byte offset — never a crash, a hang or a huge allocation.
#include <gtest/gtest.h>

#include <string>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace pagoda::gguf {
namespace {

using test::Bytes;

constexpr uint32_t kU32 = 4, kString = 8, kArray = 9, kBool = 7, kU64 = 10;
constexpr uint32_t kF32 = 0, kQ4_0 = 2;

// Parses `b` and checks the error says "<field> at byte <at>:" and `problem`.
void expect_error(const Bytes& b, const std::string& field, uint64_t at, const std::string& problem) {
  auto r = File::parse(b.bytes, "bad.gguf");
  ASSERT_FALSE(r.ok()) << "parsed a malformed file; expected: " << problem;
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(field + " at byte " + std::to_string(at) + ":"), std::string::npos)
      << "message: " << msg << "\nwanted field '" << field << "' at byte " << at;
  EXPECT_NE(msg.find(problem), std::string::npos) << "message: " << msg << "\nwanted: " << problem;
}

// Header for `n_tensors` tensors plus one 200-byte string entry, so that the
// tensor count passes the "fits in the file" check and tensor infos start at 245.
Bytes with_filler(uint64_t n_tensors) {
  Bytes b;
  b.header(n_tensors, 1).kv_string("f", std::string(200, 'x'));
  return b;
}
constexpr uint64_t kInfo = 245;  // where the first tensor info starts after with_filler

// --- header ---------------------------------------------------------------

TEST(GgufMalformed, EmptyFile) { expect_error(Bytes{}, "header magic", 0, "needs 4 bytes but only 0 remain"); }

TEST(GgufMalformed, TruncatedInVersion) {
  Bytes b;
  b.u32(0x46554747).u8(3).u8(0);
  expect_error(b, "header version", 4, "needs 4 bytes but only 2 remain");
}

TEST(GgufMalformed, TruncatedInTensorCount) {
  Bytes b;
  b.u32(0x46554747).u32(3).u8(0).u8(0).u8(0);
  expect_error(b, "header tensor count", 8, "needs 8 bytes but only 3 remain");
}

TEST(GgufMalformed, TruncatedInMetadataCount) {
  Bytes b;
  b.u32(0x46554747).u32(3).u64(0).zeros(5);
  expect_error(b, "header metadata count", 16, "needs 8 bytes but only 5 remain");
}

TEST(GgufMalformed, BadMagic) {
  Bytes b;
  b.u32(0x4c4d4747).u32(3).u64(0).u64(0);  // "GGML"
  expect_error(b, "header magic", 0, "not a GGUF file (magic 0x4c4d4747");
}

TEST(GgufMalformed, Version0) { expect_error(Bytes{}.header(0, 0, 0), "header version", 4, "unsupported GGUF version 0"); }
TEST(GgufMalformed, Version1) { expect_error(Bytes{}.header(0, 0, 1), "header version", 4, "GGUF v1 is not supported"); }
TEST(GgufMalformed, Version4) { expect_error(Bytes{}.header(0, 0, 4), "header version", 4, "unsupported GGUF version 4"); }

TEST(GgufMalformed, HugeTensorCount) {
  expect_error(Bytes{}.header(UINT64_MAX, 0), "header tensor count", 8,
               "18446744073709551615 tensors cannot fit in the 0 bytes left");
}

TEST(GgufMalformed, HugeMetadataCount) {
  expect_error(Bytes{}.header(0, uint64_t{1} << 40).zeros(64), "header metadata count", 16,
               "1099511627776 entries cannot fit in the 64 bytes left");
}

// --- metadata keys and values ---------------------------------------------

// Header for two entries, the first a 200-byte string (221 bytes in all), so that
// the count passes the "fits in the file" check and the second entry starts at 245.
Bytes with_first_entry() {
  Bytes b;
  b.header(0, 2).kv_string("f", std::string(200, 'x'));
  return b;
}

TEST(GgufMalformed, TruncatedInKeyLength) {
  expect_error(with_first_entry().u32(5), "metadata entry 1 key", 245, "needs 8 bytes but only 4 remain");
}

TEST(GgufMalformed, KeyLengthPastEndOfFile) {
  Bytes b;
  b.header(0, 1).u64(100).u8('a').u8('b').u8('c').zeros(12);
  expect_error(b, "metadata entry 0 key", 24, "string length 100 runs past end of file");
}

TEST(GgufMalformed, KeyLengthOverLimit) {
  Bytes b;
  b.header(0, 1).u64(UINT64_MAX).zeros(16);
  expect_error(b, "metadata entry 0 key", 24, "exceeds the limit of 65535");
}

TEST(GgufMalformed, KeyWithControlBytesIsEscapedInMessages) {
  expect_error(Bytes{}.header(0, 1).str(std::string("a\0b", 3)).u32(13), "metadata 'a\\x00b' value type", 35,
               "unknown value type 13");
}

TEST(GgufMalformed, EmptyKey) {
  expect_error(Bytes{}.header(0, 1).str("").u32(kU32).u32(1), "metadata entry 0 key", 24, "empty key");
}

TEST(GgufMalformed, DuplicateKey) {
  // First entry: 8 + 1 + 4 + 4 = 17 bytes, so the second key is at 41.
  expect_error(Bytes{}.header(0, 2).kv_u32("a", 1).kv_u32("a", 2), "metadata entry 1 key", 41,
               "duplicate key 'a'");
}

TEST(GgufMalformed, TruncatedInValueType) {
  expect_error(with_first_entry().str("k").u8(4).u8(0), "metadata 'k' value type", 254,
               "needs 4 bytes but only 2 remain");
}

TEST(GgufMalformed, UnknownValueType) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(13).u32(0), "metadata 'k' value type", 33,
               "unknown value type 13");
}

TEST(GgufMalformed, TruncatedInValue) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kU32).zeros(2).u8(1).cut(1), "metadata 'k' value", 37,
               "needs 4 bytes but only 2 remain");
}

TEST(GgufMalformed, StringValuePastEndOfFile) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kString).u64(50).u8('x').u8('y'), "metadata 'k' value", 37,
               "string length 50 runs past end of file (2 bytes remain)");
}

TEST(GgufMalformed, BoolValueNotZeroOrOne) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kBool).u8(2), "metadata 'k' value", 37,
               "bool value 2 is neither 0 nor 1");
}

// --- arrays ---------------------------------------------------------------

TEST(GgufMalformed, ArrayUnknownElementType) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kArray).u32(20).u64(0), "metadata 'k' array element type", 37,
               "unknown value type 20");
}

TEST(GgufMalformed, ArrayCountPastEndOfFile) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kArray).u32(kU32).u64(UINT64_MAX).u32(7),
               "metadata 'k' array count", 41, "18446744073709551615 elements of type u32 cannot fit in the 4 bytes left");
}

TEST(GgufMalformed, ArrayCountWhoseByteSizeOverflows) {
  // 2^61 u64 elements: count * 8 wraps to 0 in 64 bits.
  expect_error(Bytes{}.header(0, 1).str("k").u32(kArray).u32(kU64).u64(uint64_t{1} << 61).u64(1),
               "metadata 'k' array count", 41, "elements of type u64 cannot fit");
}

TEST(GgufMalformed, ArrayOfStringsCountPastEndOfFile) {
  // A string needs at least 8 bytes: 3 strings cannot fit in 16.
  expect_error(Bytes{}.header(0, 1).str("k").u32(kArray).u32(kString).u64(3).str("ab").zeros(6),
               "metadata 'k' array count", 41, "3 elements of type string cannot fit in the 16 bytes left");
}

TEST(GgufMalformed, TruncatedArrayStringElement) {
  // The second string's length is at 49 + 10 = 59.
  Bytes b;
  b.header(0, 1).str("k").u32(kArray).u32(kString).u64(2).str("ab").u64(10).u8('x').u8('y').u8('z');
  expect_error(b, "metadata 'k' array string", 59, "string length 10 runs past end of file");
}

TEST(GgufMalformed, ArrayBoolElementNotZeroOrOne) {
  expect_error(Bytes{}.header(0, 1).str("k").u32(kArray).u32(kBool).u64(2).u8(1).u8(3), "metadata 'k' array element",
               50, "bool value 3 is neither 0 nor 1");
}

// `depth` nested arrays, the innermost holding one u8.
Bytes nested_arrays(int depth) {
  Bytes b;
  b.header(0, 1).str("k").u32(kArray);
  for (int d = 1; d < depth; ++d) b.u32(kArray).u64(1);
  b.u32(0).u64(1).u8(42);
  return b;
}

TEST(GgufMalformed, ArraysNestedTooDeep) {
  // Each level's header is 12 bytes; the 9th level starts at 37 + 8 * 12.
  expect_error(nested_arrays(9), "metadata 'k' array", 37 + 8 * 12, "arrays nested deeper than 8 levels");
}

TEST(GgufMalformed, ArraysNestedEightDeepAreFine) {
  auto r = File::parse(nested_arrays(8).bytes, "ok.gguf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Array* a = (*r)->get_array("k");
  for (int d = 1; d < 8; ++d) {
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->size(), 1u);
    a = a->arrays[0].as_array();
  }
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->uints, std::vector<uint64_t>{42});
}

// --- alignment ------------------------------------------------------------

// The value of a general.alignment entry right after the header starts at 24 + 8 + 17 + 4.
constexpr uint64_t kAlignmentValue = 53;

TEST(GgufMalformed, AlignmentZero) {
  expect_error(Bytes{}.header(0, 1).kv_u32("general.alignment", 0), "metadata 'general.alignment' value",
               kAlignmentValue, "alignment 0 is not a non-zero power of two");
}

TEST(GgufMalformed, AlignmentNotPowerOfTwo) {
  expect_error(Bytes{}.header(0, 1).kv_u32("general.alignment", 48), "metadata 'general.alignment' value",
               kAlignmentValue, "alignment 48 is not a non-zero power of two");
}

TEST(GgufMalformed, AlignmentOfTypeU64) {
  expect_error(Bytes{}.header(0, 1).str("general.alignment").u32(kU64).u64(32),
               "metadata 'general.alignment' value", kAlignmentValue, "alignment must be of type u32, not u64");
}

TEST(GgufMalformed, AlignmentOfTypeString) {
  expect_error(Bytes{}.header(0, 1).kv_string("general.alignment", "32"), "metadata 'general.alignment' value",
               kAlignmentValue, "alignment must be of type u32, not string");
}

// --- tensor infos ---------------------------------------------------------

TEST(GgufMalformed, TensorNamePastEndOfFile) {
  expect_error(with_filler(1).u64(10).u8('a').u8('b'), "tensor 0 name", kInfo,
               "string length 10 runs past end of file");
}

TEST(GgufMalformed, EmptyTensorName) {
  expect_error(with_filler(1).tensor("", {4}, kF32, 0), "tensor 0 name", kInfo, "empty tensor name");
}

TEST(GgufMalformed, TensorNameTooLong) {
  expect_error(with_filler(1).tensor(std::string(300, 'n'), {4}, kF32, 0), "tensor 0 name", kInfo,
               "string length 300 exceeds the limit of 255");
}

TEST(GgufMalformed, DuplicateTensorName) {
  // A one-letter, one-dimension info is 33 bytes.
  expect_error(with_filler(2).tensor("w", {4}, kF32, 0).tensor("w", {4}, kF32, 32), "tensor 1 name",
               kInfo + 33, "duplicate tensor name 'w'");
}

TEST(GgufMalformed, ZeroDimensions) {
  expect_error(with_filler(1).tensor("w", {}, kF32, 0).zeros(64), "tensor 'w' dimension count", kInfo + 9,
               "0 dimensions (must be 1 to 4)");
}

TEST(GgufMalformed, FiveDimensions) {
  expect_error(with_filler(1).tensor("w", {1, 1, 1, 1, 1}, kF32, 0), "tensor 'w' dimension count", kInfo + 9,
               "5 dimensions (must be 1 to 4)");
}

TEST(GgufMalformed, ZeroSizedDimension) {
  expect_error(with_filler(1).tensor("w", {4, 0}, kF32, 0), "tensor 'w' dimension", kInfo + 9 + 4 + 8,
               "dimension 1 is zero");
}

TEST(GgufMalformed, HugeDimension) {
  expect_error(with_filler(1).tensor("w", {uint64_t{1} << 63}, kF32, 0), "tensor 'w' dimension", kInfo + 13,
               "dimension 0 is 9223372036854775808 (limit");
}

TEST(GgufMalformed, DimensionProductOverflows) {
  expect_error(with_filler(1).tensor("w", {uint64_t{1} << 32, uint64_t{1} << 32}, kF32, 0),
               "tensor 'w' dimension", kInfo + 21, "element count overflows at dimension 1");
}

TEST(GgufMalformed, UnknownTensorType) {
  expect_error(with_filler(1).tensor("w", {4}, 5, 0), "tensor 'w' type", kInfo + 21, "unknown tensor type 5");
}

TEST(GgufMalformed, NegativeTensorType) {
  expect_error(with_filler(1).tensor("w", {4}, 0xFFFFFFFFu, 0), "tensor 'w' type", kInfo + 21,
               "unknown tensor type 4294967295");
}

TEST(GgufMalformed, RowNotMultipleOfBlockSize) {
  expect_error(with_filler(1).tensor("w", {17, 2}, kQ4_0, 0), "tensor 'w' type", kInfo + 29,
               "row length 17 is not a multiple of the q4_0 block size 32");
}

TEST(GgufMalformed, TruncatedInTensorOffset) {
  expect_error(with_filler(1).tensor("w", {4}, kF32, 0).cut(4), "tensor 'w' offset", kInfo + 25,
               "needs 8 bytes but only 4 remain");
}

TEST(GgufMalformed, MisalignedTensorOffset) {
  expect_error(with_filler(1).tensor("w", {4}, kF32, 4).pad_to(32).zeros(64), "tensor 'w' offset", kInfo + 25,
               "data offset 4 is not a multiple of the alignment 32");
}

TEST(GgufMalformed, TensorDataPastEndOfFile) {
  // 64 f32 = 256 bytes, but only 100 follow the aligned data start.
  expect_error(with_filler(1).tensor("w", {64}, kF32, 0).pad_to(32).zeros(100), "tensor 'w' offset", kInfo + 25,
               "data [0, +256) runs past end of file (data section holds 100 bytes)");
}

TEST(GgufMalformed, TensorOffsetHuge) {
  expect_error(with_filler(1).tensor("w", {4}, kF32, UINT64_MAX - 31).pad_to(32).zeros(32), "tensor 'w' offset",
               kInfo + 25, "runs past end of file");
}

TEST(GgufMalformed, DataSectionMissing) {
  // The infos end at 278; the aligned data section would start at 288.
  expect_error(with_filler(1).tensor("w", {4}, kF32, 0), "data section", kInfo + 33,
               "starts at 288 past end of file (size 278)");
}

TEST(GgufMalformed, OverlappingTensors) {
  // 'a' covers [0, 64); 'b' starts at 32. b's offset field is at 278 + 25.
  expect_error(with_filler(2).tensor("a", {16}, kF32, 0).tensor("b", {16}, kF32, 32).pad_to(32).zeros(128),
               "tensor 'b' offset", kInfo + 33 + 25, "data at 32 overlaps tensor 'a' [0, 64)");
}

// --- valid edge cases and blanket checks ----------------------------------

TEST(GgufMalformed, MinimalFilesAreValid) {
  auto empty = File::parse(Bytes{}.header(0, 0).bytes, "empty.gguf");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE((*empty)->metadata().empty());
  auto v2 = File::parse(with_filler(1).tensor("w", {4}, kF32, 0).pad_to(32).zeros(32).bytes, "v2.gguf");
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ((*v2)->data_offset(), 288u);
  EXPECT_EQ((*v2)->find_tensor("w")->n_bytes, 16u);
  Bytes old = with_filler(0);
  old.bytes[4] = 2;  // version 2 has the same layout as 3
  auto r = File::parse(old.bytes, "v2.gguf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->version(), 2u);
}

// A small but complete file from our writer: every value kind and two tensors,
// the last one a multiple of the alignment so no prefix can still be valid.
std::vector<uint8_t> small_valid_file() {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("n", Value::u32(7));
  w.set("tokens", Value::string_array({"a", "bc", "def"}));
  w.set("scores", Value::f32_array({0.5f, -1.0f}));
  Array inner, outer;
  inner.elem_type = ValueType::BOOL;
  inner.uints = {1, 0};
  outer.elem_type = ValueType::ARRAY;
  outer.arrays = {Value::array(inner)};
  w.set("nested", Value::array(outer));
  static const std::vector<uint8_t> data(64, 1);
  w.add_tensor("q", TensorType::Q4_0, {32}, data.data());
  w.add_tensor("f", TensorType::F32, {8}, data.data());
  return std::move(*w.write_memory());
}

TEST(GgufMalformed, EveryTruncationIsAnError) {
  const auto full = small_valid_file();
  ASSERT_TRUE(File::parse(full, "full.gguf").ok());
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = File::parse(std::span<const uint8_t>(full.data(), n), "prefix.gguf");
    ASSERT_FALSE(r.ok()) << "a " << n << "-byte prefix parsed";
    EXPECT_EQ(r.error().message.rfind("prefix.gguf: ", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(" at byte "), std::string::npos) << r.error().message;
  }
}

TEST(GgufMalformed, CorruptingAnyByteNeverCrashes) {
  const auto full = small_valid_file();
  size_t n_errors = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0x7f}, uint8_t{0xff}}) {
      auto bytes = full;
      bytes[i] = v;
      auto r = File::parse(bytes, "corrupt.gguf");
      if (!r.ok()) {
        ++n_errors;
        EXPECT_NE(r.error().message.find(" at byte "), std::string::npos) << r.error().message;
      }
    }
  }
  EXPECT_GT(n_errors, full.size());  // most header and length bytes matter
}

}  // namespace
}  // namespace pagoda::gguf
