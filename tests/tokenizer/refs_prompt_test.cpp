// The prompts of llama.cpp's traces (fixtures/refs): special tokens parsed and
// BOS added as the model says must give exactly llama.cpp's prompt_ids.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

TEST(RefPrompts, MatchLlamaCppPromptIds) {
  PAGODA_REQUIRE_FIXTURE("refs");
  std::map<std::string, std::unique_ptr<Tokenizer>> by_model;
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::fixture("refs"))) {
    if (entry.path().extension() != ".jsonl") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto rec = nlohmann::json::parse(line);
      const std::string model = rec.at("model").get<std::string>();
      auto& tok = by_model[model];
      if (!tok) {
        auto file = gguf::File::open(test::fixture("models/" + model));
        ASSERT_TRUE(file.ok()) << file.error().message;
        auto t = Tokenizer::from_gguf(**file);
        ASSERT_TRUE(t.ok()) << t.error().message;
        tok = std::move(*t);
      }
      const auto expected = rec.at("prompt_ids").get<std::vector<int32_t>>();
      const std::string prompt = rec.at("prompt").get<std::string>();
      EXPECT_EQ(tok->encode(prompt, true, true), expected)
          << entry.path().filename() << ": '" << prompt << "'";
      ++checked;
    }
  }
  EXPECT_GE(checked, 12u);
}

}  // namespace
}  // namespace pagoda::tokenizer
