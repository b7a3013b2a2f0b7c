// Constrained decoding through the engine, on the demo model (random weights, so any valid
// output comes from the grammar alone): JSON Schema outputs parse, n > 1 samples are each
// valid, outputs are batch-invariant, the grammar ends generation, logprobs stay raw, and
// `pagoda run --grammar-file / --json-schema`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "base/log.h"
#include "common/run_binary.h"
#include "engine_test_util.h"
#include "grammar/grammar.h"

namespace pagoda::test {
namespace {

using nlohmann::json;

struct GrammarDemoModel {
  std::string path =
      (std::filesystem::temp_directory_path() / ("pagoda_engine_grammar_demo_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  GrammarDemoModel() {
    const CommandResult made = run_pagoda("make-model -o '" + path + "' --seed 11 -t 2");
    EXPECT_EQ(made.status, 0) << made.err;
  }
  ~GrammarDemoModel() { std::filesystem::remove(path); }
};

const std::string& demo_path() {
  static const GrammarDemoModel demo;
  return demo.path;
}

// Small strings and bounded numbers: a random-weights model finishes these quickly.
const json kSchema = {{"type", "object"},
                      {"properties",
                       {{"name", {{"type", "string"}, {"maxLength", 8}}},
                        {"age", {{"type", "integer"}, {"minimum", 0}, {"maximum", 120}}},
                        {"pet", {{"enum", {"cat", "dog", "none"}}}},
                        {"tags", {{"type", "array"}, {"items", {{"type", "boolean"}}}, {"maxItems", 3}}}}},
                      {"required", {"name", "age", "pet"}}};

class GrammarEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::warn);
    m_ = load_model(demo_path());
    ASSERT_TRUE(m_.model && m_.tok);
  }
  engine::EngineConfig config(int max_num_seqs = 8) const {
    engine::EngineConfig c;
    c.kv_cache_memory = 64ull << 20;
    c.max_num_seqs = max_num_seqs;
    c.max_model_len = 1024;
    c.prefix_caching = false;
    return c;
  }
  std::vector<int32_t> prompt(const std::string& text) const { return m_.tok->encode(text, true, true); }
  engine::GenerationRequest sampled(const std::string& text, uint64_t seed, int max_tokens) const {
    engine::GenerationRequest r;
    r.prompt = prompt(text);
    r.params.temperature = 1.0f;
    r.params.top_k = 0;
    r.params.top_p = 1.0f;
    r.params.min_p = 0.0f;
    r.params.seed = seed;
    r.params.max_tokens = max_tokens;
    return r;
  }
  std::shared_ptr<const grammar::Grammar> schema_grammar() const {
    auto g = grammar::Grammar::from_json_schema(kSchema);
    EXPECT_TRUE(g.ok()) << g.error().message;
    return *g;
  }
  static void expect_valid(const std::string& text) {
    json v;
    try {
      v = json::parse(text);
    } catch (const std::exception& e) {
      FAIL() << e.what() << ": " << text;
    }
    ASSERT_TRUE(v.is_object()) << text;
    ASSERT_TRUE(v.contains("name") && v["name"].is_string()) << text;
    EXPECT_LE(v["name"].get<std::string>().size(), 8u * 4) << text;
    ASSERT_TRUE(v.contains("age") && v["age"].is_number_integer()) << text;
    EXPECT_GE(v["age"].get<int>(), 0);
    EXPECT_LE(v["age"].get<int>(), 120);
    ASSERT_TRUE(v.contains("pet")) << text;
    EXPECT_TRUE(v["pet"] == "cat" || v["pet"] == "dog" || v["pet"] == "none") << text;
    if (v.contains("tags")) {
      EXPECT_LE(v["tags"].size(), 3u) << text;
    }
    for (auto it = v.begin(); it != v.end(); ++it)
      EXPECT_TRUE(it.key() == "name" || it.key() == "age" || it.key() == "pet" || it.key() == "tags") << text;
  }

  LoadedModel m_;
  ThreadPool pool_{2};
};

TEST_F(GrammarEngine, JsonSchemaOutputsParseForEverySeedAndSample) {
  auto core = make_core(m_, config(), pool_);
  ASSERT_TRUE(core);
  const auto g = schema_grammar();
  for (uint64_t seed : {1, 2, 3, 4}) {
    auto r = sampled("Describe a person as JSON:", seed, 400);
    r.grammar = g;
    r.n = 2;
    const auto res = run_requests(*core, {r});
    ASSERT_EQ(res[0].error, "");
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(res[0].finish[static_cast<size_t>(i)], engine::Finish::stop)
          << "seed " << seed << ": " << res[0].text[static_cast<size_t>(i)];
      expect_valid(res[0].text[static_cast<size_t>(i)]);
      // The grammar ends generation: no EOG token is appended, the text is the tokens' pieces.
      std::string pieces;
      for (int32_t id : res[0].tokens[static_cast<size_t>(i)]) pieces += m_.tok->token_to_piece(id, false);
      EXPECT_EQ(pieces, res[0].text[static_cast<size_t>(i)]);
    }
    EXPECT_NE(res[0].tokens[0], res[0].tokens[1]) << "the two samples use different seeds";
  }
}

TEST_F(GrammarEngine, ConstrainedOutputIsTheSameAloneAndInABatch) {
  const auto g = schema_grammar();
  auto constrained = sampled("A person:", 7, 300);
  constrained.grammar = g;
  constrained.n = 2;
  auto alone_core = make_core(m_, config(), pool_);
  ASSERT_TRUE(alone_core);
  const auto alone = run_requests(*alone_core, {constrained});

  std::mt19937 rng(5);
  std::vector<engine::GenerationRequest> batch;
  batch.push_back(greedy_request(random_tokens(rng, 40, m_.model->n_vocab()), 30));
  batch.push_back(constrained);
  auto other = sampled("Another one:", 9, 300);
  other.grammar = g;
  batch.push_back(other);
  batch.push_back(sampled("Free text", 11, 25));
  auto batch_core = make_core(m_, config(), pool_);
  ASSERT_TRUE(batch_core);
  const auto together = run_requests(*batch_core, batch, {0, 1, 1, 3});
  EXPECT_EQ(together[1].tokens, alone[0].tokens);
  EXPECT_EQ(together[1].text, alone[0].text);
  expect_valid(together[2].text[0]);
}

TEST_F(GrammarEngine, GbnfConstrainsAndStopsWithoutEog) {
  auto g = grammar::Grammar::from_gbnf(R"(root ::= ("yes" | "no") " " [0-9]{2})");
  ASSERT_TRUE(g.ok()) << g.error().message;
  auto core = make_core(m_, config(), pool_);
  ASSERT_TRUE(core);
  for (uint64_t seed : {1, 2, 3}) {
    auto r = sampled("Answer:", seed, 50);
    r.grammar = *g;
    const auto res = run_requests(*core, {r});
    const std::string& text = res[0].text[0];
    EXPECT_EQ(res[0].finish[0], engine::Finish::stop);
    EXPECT_TRUE(text.size() == 6 || text.size() == 5) << text;
    EXPECT_TRUE(text.starts_with("yes ") || text.starts_with("no ")) << text;
    for (int32_t id : res[0].tokens[0]) EXPECT_FALSE(m_.tok->is_eog(id));
  }
}

TEST_F(GrammarEngine, MinTokensCannotForceADeadEnd) {
  auto g = grammar::Grammar::from_gbnf(R"(root ::= "ok")");
  ASSERT_TRUE(g.ok());
  auto core = make_core(m_, config(), pool_);
  ASSERT_TRUE(core);
  auto r = sampled("Say ok:", 3, 40);
  r.params.min_tokens = 10;
  r.grammar = *g;
  const auto res = run_requests(*core, {r});
  EXPECT_EQ(res[0].error, "");
  EXPECT_EQ(res[0].text[0], "ok");
  EXPECT_EQ(res[0].finish[0], engine::Finish::stop);
}

TEST_F(GrammarEngine, LogprobsComeFromTheRawLogits) {
  auto g = grammar::Grammar::from_gbnf(R"(root ::= "zz" [0-9]*)");
  ASSERT_TRUE(g.ok());
  auto core = make_core(m_, config(), pool_);
  ASSERT_TRUE(core);
  auto free = greedy_request(prompt("Hello"), 1);
  free.top_logprobs = 3;
  auto constrained = free;
  constrained.grammar = *g;
  constrained.params.max_tokens = 1;
  std::vector<engine::TokenInfo> infos;
  for (const auto& r : {free, constrained}) {
    auto stream = std::make_shared<engine::RequestStream>(0);
    static uint64_t id = 77;
    ASSERT_TRUE(core->add(id++, r, stream).ok());
    while (core->has_work()) core->step();
    while (auto out = stream->try_next())
      for (const auto& d : out->deltas)
        for (const auto& info : d.info) infos.push_back(info);
  }
  ASSERT_EQ(infos.size(), 2u);
  // Same prompt, same raw row: the alternatives are identical though the chosen tokens differ.
  ASSERT_EQ(infos[0].top.size(), infos[1].top.size());
  for (size_t i = 0; i < infos[0].top.size(); ++i) {
    EXPECT_EQ(infos[0].top[i].id, infos[1].top[i].id);
    EXPECT_FLOAT_EQ(infos[0].top[i].value, infos[1].top[i].value);
  }
  EXPECT_EQ(m_.tok->token_to_piece(infos[1].chosen.id)[0], 'z');
  EXPECT_LE(infos[1].chosen.value, infos[0].top[0].value);
}

TEST_F(GrammarEngine, PagodaRunTakesAGrammarFileOrAJsonSchema) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pagoda_grammar_run_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "g.gbnf") << "root ::= \"hello\" (\" \" [a-z]{1,5})?\n";
    std::ofstream(dir / "s.json") << kSchema.dump();
    std::ofstream(dir / "bad.gbnf") << "root ::= [abc\n";
  }
  const std::string base = "run -m '" + demo_path() +
                           "' -p 'Hi' -n 200 --seed 4 --temp 1 --top-k 0 --top-p 1 "
                           "--min-p 0 --no-display-prompt ";
  const CommandResult g = run_pagoda(base + "--grammar-file '" + (dir / "g.gbnf").string() + "'");
  EXPECT_EQ(g.status, 0) << g.err;
  EXPECT_TRUE(g.out.starts_with("hello")) << g.out;
  const CommandResult s = run_pagoda(base + "--json-schema '" + (dir / "s.json").string() + "'");
  EXPECT_EQ(s.status, 0) << s.err;
  expect_valid(s.out);
  const CommandResult bad = run_pagoda(base + "--grammar-file '" + (dir / "bad.gbnf").string() + "'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("1:10: unterminated character class"), std::string::npos) << bad.err;
  const CommandResult both = run_pagoda(base + "--grammar-file '" + (dir / "g.gbnf").string() + "' --json-schema '" +
                                        (dir / "s.json").string() + "'");
  EXPECT_NE(both.status, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pagoda::test
