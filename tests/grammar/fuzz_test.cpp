// Seeded fuzzing, quick enough for every run: random JSON Schemas and random GBNF grammars
// (and corrupted GBNF text) never crash, and every completed constrained output is accepted
// by a fresh matcher and, for schemas, parses and validates.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar_test_util.h"
#include "json_validator.h"
#include "random_grammar.h"

namespace pagoda::test {
namespace {

using grammar::Grammar;
using grammar::GrammarMatcher;
using nlohmann::json;

class RandomSchema {
 public:
  explicit RandomSchema(std::mt19937& rng) : rng_(rng) {}

  json make() {
    json s = node(0);
    if (!defs_.empty()) s["$defs"] = defs_;
    return s;
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  json node(int depth) {
    const int kinds = depth < 3 ? 14 : 8;
    switch (pick(kinds)) {
      case 0: {
        json s = {{"type", "string"}};
        if (pick(3) == 0) s["maxLength"] = pick(6);
        if (pick(4) == 0) s["minLength"] = pick(3);
        if (s.contains("minLength") && s.contains("maxLength") && s["minLength"] > s["maxLength"]) s.erase("minLength");
        if (pick(5) == 0) {
          static const char* kPatterns[] = {"^[a-c]+$", "^x(y|z)?\\d{1,2}$", "^[^\"]{2}$", "^(ab|é)*$"};
          s["pattern"] = kPatterns[pick(4)];
        } else if (pick(6) == 0) {
          static const char* kFormats[] = {"date", "time", "date-time", "uuid", "email", "hostname"};
          s["format"] = kFormats[pick(6)];
        }
        return s;
      }
      case 1: {
        json s = {{"type", "integer"}};
        if (pick(2)) s["minimum"] = pick(200) - 100;
        if (pick(2)) s["maximum"] = s.value("minimum", -100) + pick(300);
        return s;
      }
      case 2:
        return {{"type", pick(2) ? "number" : "boolean"}};
      case 3:
        return {{"type", "null"}};
      case 4:
        return {{"enum", {"a", 1, nullptr, json::array({true})}}};
      case 5:
        return {{"const", pick(2) ? json("k") : json{{"x", 1}}}};
      case 6:
        return {{"type", {"string", "null"}}};
      case 7:
        return pick(2) ? json::object() : json(true);
      case 8:
      case 9: {
        json s = {{"type", "object"}, {"properties", json::object()}};
        const int n = pick(4);
        json required = json::array();
        for (int i = 0; i < n; ++i) {
          std::string name(1, static_cast<char>('a' + i));
          if (pick(3) == 0) name += " \"q\"";
          s["properties"][name] = node(depth + 1);
          if (pick(2)) required.push_back(name);
        }
        if (!required.empty()) s["required"] = required;
        const int extra = pick(4);
        if (extra == 1) s["additionalProperties"] = false;
        if (extra == 2) s["additionalProperties"] = node(depth + 1);
        return s;
      }
      case 10:
      case 11: {
        json s = {{"type", "array"}, {"items", node(depth + 1)}};
        if (pick(2)) s["minItems"] = pick(3);
        if (pick(2)) s["maxItems"] = s.value("minItems", 0) + pick(3);
        return s;
      }
      case 12:
        return {{pick(2) ? "anyOf" : "oneOf", {node(depth + 1), node(depth + 1)}}};
      default: {
        const std::string name = "d" + std::to_string(defs_.size());
        defs_[name] = true;  // reserve the name before the body's own definitions
        defs_[name] = node(depth + 1);
        return {{"$ref", "#/$defs/" + name}};
      }
    }
  }

  std::mt19937& rng_;
  json defs_ = json::object();
};

TEST(GrammarFuzz, RandomSchemasGiveValidOutputs) {
  std::mt19937 rng(2024);
  const auto vocab = small_vocab();
  const auto pieces = small_pieces();
  int compiled = 0, outputs = 0;
  for (int i = 0; i < 250; ++i) {
    const json schema = RandomSchema(rng).make();
    auto g = Grammar::from_json_schema(schema);
    if (!g) {
      ADD_FAILURE() << g.error().message << "\n" << schema.dump();
      continue;
    }
    ++compiled;
    for (int k = 0; k < 2; ++k) {
      GrammarMatcher m(*g, vocab);
      const Walk w = random_walk(m, pieces, rng, 1500);
      EXPECT_FALSE(w.dead_end) << schema.dump() << "\n" << w.text;
      if (!w.completed) continue;
      ++outputs;
      EXPECT_TRUE(matches(*g, w.text)) << w.text;
      json v;
      try {
        v = json::parse(w.text);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what() << "\n" << schema.dump() << "\n" << w.text;
        continue;
      }
      EXPECT_EQ(validate_json(v, schema, schema), "") << schema.dump() << "\n" << w.text;
    }
  }
  EXPECT_EQ(compiled, 250);
  EXPECT_GT(outputs, 400);
}

TEST(GrammarFuzz, RandomGbnfOutputsAreSentences) {
  std::mt19937 rng(77);
  const auto vocab = small_vocab();
  const auto pieces = small_pieces();
  int compiled = 0;
  for (int i = 0; i < 150; ++i) {
    auto g = Grammar::from_gbnf(RandomGbnf(rng).make());
    if (!g) continue;
    ++compiled;
    GrammarMatcher m(*g, vocab);
    const Walk w = random_walk(m, pieces, rng, 200);
    if (w.completed) {
      EXPECT_TRUE(matches(*g, w.text)) << (*g)->gbnf() << "\n" << w.text;
    }
  }
  EXPECT_GT(compiled, 50);
}

TEST(GrammarFuzz, CorruptedGrammarTextNeverCrashes) {
  std::mt19937 rng(5);
  const auto vocab = small_vocab();
  static const char kNoise[] = "()[]{}|*+?\"\\.-^#:=\n 0123abc,é";
  int errors = 0;
  for (int i = 0; i < 400; ++i) {
    std::string text = RandomGbnf(rng).make();
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0 && !text.empty(); --k) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = kNoise[rng() % (sizeof(kNoise) - 1)];
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text.insert(at, 1, static_cast<char>(rng() % 256));
      }
    }
    auto g = Grammar::from_gbnf(text);
    if (!g) {
      ++errors;
      EXPECT_FALSE(g.error().message.empty());
      continue;
    }
    GrammarMatcher m(*g, vocab);
    std::vector<uint8_t> allowed;
    m.fill_allowed(allowed);
    (void)m.accept_text("ab{\"é");
  }
  EXPECT_GT(errors, 50);
}

}  // namespace
}  // namespace pagoda::test
