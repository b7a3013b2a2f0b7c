// Every llama.cpp tokenizer golden in fixtures/vocab: encode each .inp string
// (no BOS, special tokens not parsed) and compare with the .out ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_inputs(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(sep, start)) != std::string::npos; start = pos + sep.size())
    out.push_back(text.substr(start, pos - start));
  return out;
}

std::vector<std::vector<int32_t>> parse_outputs(const std::string& text) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    std::vector<int32_t> v;
    for (int32_t id; ids >> id;) v.push_back(id);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::string> vocab_names() {
  std::vector<std::string> names;
  const auto dir = std::filesystem::path(test::fixture("vocab"));
  if (!std::filesystem::is_directory(dir)) return names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".gguf" && std::filesystem::exists(e.path().string() + ".inp"))
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(VocabConformance, FixturesArePresent) {
  PAGODA_REQUIRE_FIXTURE("vocab");
  EXPECT_GE(vocab_names().size(), 8u) << "expected the 8 llama.cpp vocab goldens";
}

class VocabGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabGolden, MatchesLlamaCpp) {
  const std::string rel = "vocab/" + GetParam();
  PAGODA_REQUIRE_FIXTURE(rel);
  auto file = gguf::File::open(test::fixture(rel));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;

  const auto inputs = split_inputs(read_all(test::fixture(rel + ".inp")));
  const auto expected = parse_outputs(read_all(test::fixture(rel + ".out")));
  ASSERT_EQ(inputs.size(), expected.size());
  ASSERT_GT(inputs.size(), 10u);
  size_t failures = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto got = (*tok)->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
    if (got != expected[i]) ++failures;
    EXPECT_EQ(got, expected[i]) << "input #" << i << ": '" << inputs[i] << "'";
  }
  EXPECT_EQ(failures, 0u) << failures << " of " << inputs.size() << " strings differ";
}

// Names come from the folder, so a new golden is picked up without code changes;
// with no fixtures the list is empty and FixturesArePresent reports the skip.
INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabGolden, ::testing::ValuesIn(vocab_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VocabGolden);

}  // namespace
}  // namespace pagoda::tokenizer
