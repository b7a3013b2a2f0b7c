// general.file_type names and lookups, checked against llama.cpp's numbering.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "gguf/file_type.h"
#include "gguf/gguf.h"

namespace pagoda::gguf {
namespace {

TEST(GgufFileType, NamesMatchLlamaCpp) {
  EXPECT_EQ(file_type_name(0), "all F32");
  EXPECT_EQ(file_type_name(1), "F16");
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(15), "Q4_K - Medium");
  EXPECT_EQ(file_type_name(27), "IQ3_S mix - 3.66 bpw");
  EXPECT_EQ(file_type_name(15 | kFileTypeGuessed), "Q4_K - Medium (guessed)");
  EXPECT_EQ(file_type_name(4), "unknown, may not work");
  EXPECT_EQ(file_type_name(0xFFFFFFFFu), "unknown, may not work (guessed)");
}

TEST(GgufFileType, ParsesShortNames) {
  auto q4km = parse_file_type("q4_k_m");
  ASSERT_TRUE(q4km.has_value());
  EXPECT_EQ(q4km->id, 15u);
  EXPECT_EQ(q4km->main_type, TensorType::Q4_K);
  EXPECT_EQ(parse_file_type("Q8_0")->id, 7u);
  EXPECT_FALSE(parse_file_type("q4_k_x").has_value());
  for (const auto& f : file_types()) EXPECT_EQ(parse_file_type(f.short_name)->id, f.id);
}

TEST(GgufFileType, FixturesDeclareTheirType) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_k_m.gguf");
  const std::pair<const char*, uint32_t> expected[] = {
      {"models/llama-spm-f16.gguf", 1}, {"models/llama-spm-q8_0.gguf", 7},
      {"models/llama-spm-q4_0.gguf", 2}, {"models/llama-spm-q4_k_m.gguf", 15}};
  for (const auto& [path, id] : expected) {
    auto f = File::open(test::fixture(path));
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ((*f)->get_int("general.file_type"), id) << path;
  }
}

}  // namespace
}  // namespace pagoda::gguf
