// Constrained decoding costs: GrammarMatcher::fill_allowed on a 150k-token vocabulary with a
// JSON Schema (tool call) grammar, inside a string value and at structural positions, next to
// an unconstrained sample of a row of the same size; plus compile, vocabulary build and
// accept_token. A fixture vocabulary (gpt-2, deepseek-coder) is used too when present.
//
//   build/bench/bench_grammar [--benchmark_filter=FillAllowed]
#include "grammar/grammar.h"

#include <benchmark/benchmark.h>

#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "gguf/gguf.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace pagoda;
using nlohmann::json;

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ~150k BPE-like pieces: the 256 bytes, words made of frequent syllables in four casings with and
// without a leading space, numbers, punctuation and code runs, whitespace runs, CJK characters
// and pairs; the last id is the EOG token.
std::vector<std::string> synthetic_pieces(size_t n) {
  static const char* kSyllables[] = {"th", "e",  "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es",
                                     "or", "te", "of", "ed", "is", "it", "al", "ar", "st", "to", "nt", "ng",
                                     "se", "ha", "as", "ou", "io", "le", "ve", "co", "me", "de", "hi", "ri",
                                     "ro", "ic", "ne", "ea", "ra", "ce", "li", "ch", "ll", "be", "ma", "si",
                                     "om", "ur", "a",  "o",  "u",  "y",  "k",  "p",  "w",  "x",  "z",  "q"};
  constexpr size_t kS = sizeof(kSyllables) / sizeof(kSyllables[0]);
  std::set<std::string> seen;
  std::vector<std::string> out;
  auto spaced = [](const std::string& w) {
    std::string s(1, ' ');
    s += w;
    return s;
  };
  auto add = [&](std::string s) {
    if (!s.empty() && out.size() + 1 < n && seen.insert(s).second) out.push_back(std::move(s));
  };
  for (int b = 0; b < 256; ++b) add(std::string(1, static_cast<char>(b)));
  for (const char* p : {"{\"",        "\":",  "\": \"", "\",",    "\", \"", "\"}", "\"},", "\"]",      "},",  "]}",
                        "}}",         "{}",   "[]",     "\n",     "\n\n",   "  ",  "    ", "        ", "\t",  "\n    ",
                        "\n        ", "();",  "()",     "->",     "::",     "==",  "!=",   "<=",       ">=",  "&&",
                        "||",         "//",   "/*",     "*/",     "\"\"",   "''",  "\\n",  "\\\"",     "...", "true",
                        "false",      "null", " true",  " false", " null",  ":\"", "=\"",  "\">",      "</"})
    add(p);
  for (int i = 0; i < 1000; ++i) {
    add(std::to_string(i));
    add(spaced(std::to_string(i)));
  }
  std::mt19937 rng(42);
  for (uint32_t cp = 0x4E00; cp < 0x4E00 + 12000; ++cp) {  // CJK characters
    std::string s;
    append_utf8(s, cp);
    add(s);
  }
  for (int i = 0; i < 8000; ++i) {  // CJK words
    std::string s;
    append_utf8(s, 0x4E00 + rng() % 3000);
    append_utf8(s, 0x4E00 + rng() % 3000);
    add(s);
  }
  while (out.size() + 1 < n) {
    std::string w;
    const int len = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < len; ++i) w += kSyllables[rng() % kS];
    add(w);
    add(spaced(w));
    std::string cap = w;
    cap[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(cap[0])));
    add(cap);
    add(spaced(cap));
    if (rng() % 8 == 0) {
      std::string up = w;
      for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      add(up);
    }
    if (rng() % 16 == 0) add(w + "\":");
    if (rng() % 16 == 0) add("_" + w);
  }
  out.push_back("<|eot|>");
  return out;
}

// The tool_choice "required" shape the server builds: an array of {name, parameters} calls.
const json& tool_schema() {
  static const json s = json::parse(R"({
    "type": "array", "minItems": 1,
    "items": {"anyOf": [
      {"type": "object", "additionalProperties": false, "required": ["name", "parameters"],
       "properties": {"name": {"const": "get_weather"},
                      "parameters": {"type": "object", "required": ["city"],
                                     "properties": {"city": {"type": "string"},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 14},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}}}}},
      {"type": "object", "additionalProperties": false, "required": ["name", "parameters"],
       "properties": {"name": {"const": "search"},
                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "filters": {}}}}}
    ]}})");
  return s;
}

struct Setup {
  std::shared_ptr<const grammar::TokenVocabulary> vocab;
  std::shared_ptr<const grammar::Grammar> grammar;
};

const Setup& synthetic() {
  static const Setup s = [] {
    const auto pieces = synthetic_pieces(150000);
    Setup out;
    out.vocab = grammar::TokenVocabulary::from_pieces(pieces, {static_cast<int32_t>(pieces.size() - 1)});
    out.grammar = *grammar::Grammar::from_json_schema(tool_schema());
    return out;
  }();
  return s;
}

// Text already generated when fill_allowed runs.
const char* kPositions[] = {
    R"([{"name": "get_weather", "parameters": {"city": "Par)",     // inside a string value
    R"([{"name": "get_weather", "parameters": {)",                 // expecting a key or '}'
    R"([{"name": "get_weather", "parameters": {"city": "Paris")",  // expecting ',' or '}'
    R"([{"name": "search", "parameters": {"filters": )",           // any JSON value
    R"([)",                                                        // the first call
};
const char* kPositionNames[] = {"in_string", "object_key", "after_value", "any_value", "array_start"};

void BM_FillAllowed(benchmark::State& state) {
  const Setup& s = synthetic();
  grammar::GrammarMatcher m(s.grammar, s.vocab);
  if (!m.accept_text(kPositions[state.range(0)])) {
    state.SkipWithError("position text rejected");
    return;
  }
  std::vector<uint8_t> allowed;
  for (auto _ : state) {
    m.fill_allowed(allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
  size_t n = 0;
  for (uint8_t a : allowed) n += a;
  state.SetLabel(std::string(kPositionNames[state.range(0)]) + ", " + std::to_string(n) + " of " +
                 std::to_string(allowed.size()) + " allowed");
}
BENCHMARK(BM_FillAllowed)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond);

// What the engine does besides fill_allowed: the masked copy of the row (150k floats).
void BM_MaskRow(benchmark::State& state) {
  const size_t n = 150000;
  std::vector<float> row(n, 0.5f), masked;
  std::vector<uint8_t> allowed(n);
  for (size_t i = 0; i < n; ++i) allowed[i] = i % 3 != 0;
  for (auto _ : state) {
    masked.assign(row.begin(), row.end());
    for (size_t i = 0; i < n; ++i)
      if (!allowed[i]) masked[i] = -1e30f;
    benchmark::DoNotOptimize(masked.data());
  }
}
BENCHMARK(BM_MaskRow)->Unit(benchmark::kMicrosecond);

// The reference: an unconstrained sample of a 150k row with the default chain
// (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8), and greedy.
void BM_UnconstrainedSample(benchmark::State& state) {
  const int32_t n = 150000;
  std::vector<float> row(static_cast<size_t>(n));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (float& x : row) x = dist(rng);
  sampling::SamplingParams p;
  if (state.range(0) == 1) p = sampling::greedy_params();
  p.seed = 1;
  auto sampler = *sampling::Sampler::create(p, {}, n);
  const std::vector<int32_t> history(100, 7);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(row, history, 10));
  state.SetLabel(state.range(0) == 1 ? "greedy" : "default chain");
}
BENCHMARK(BM_UnconstrainedSample)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The whole constrained step as the engine does it: mask, masked copy of the row, sample
// (default chain), accept the token (on a copy, so every iteration starts at the same place).
void BM_ConstrainedSample(benchmark::State& state) {
  const Setup& s = synthetic();
  grammar::GrammarMatcher start(s.grammar, s.vocab);
  if (!start.accept_text(kPositions[state.range(0)])) {
    state.SkipWithError("position text rejected");
    return;
  }
  const auto n = static_cast<size_t>(s.vocab->n_vocab());
  std::vector<float> row(n), masked;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (float& x : row) x = dist(rng);
  sampling::SamplingParams p;
  p.seed = 1;
  auto sampler = *sampling::Sampler::create(p, {}, static_cast<int32_t>(n));
  const std::vector<int32_t> history(100, 7);
  std::vector<uint8_t> allowed;
  for (auto _ : state) {
    grammar::GrammarMatcher m = start;
    m.fill_allowed(allowed);
    masked.assign(row.begin(), row.end());
    for (size_t i = 0; i < n; ++i)
      if (!allowed[i]) masked[i] = -std::numeric_limits<float>::infinity();
    auto id = sampler.sample(masked, history, 10);
    benchmark::DoNotOptimize(m.accept_token(*id));
  }
  state.SetLabel(kPositionNames[state.range(0)]);
}
BENCHMARK(BM_ConstrainedSample)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_AcceptToken(benchmark::State& state) {
  const Setup& s = synthetic();
  grammar::GrammarMatcher start(s.grammar, s.vocab);
  (void)start.accept_text(kPositions[0]);
  // A token that keeps the string going: " the".
  std::vector<uint8_t> allowed;
  start.fill_allowed(allowed);
  int32_t id = 0;
  while (!allowed[static_cast<size_t>(id)] || s.vocab->is_eog(id)) ++id;
  for (auto _ : state) {
    grammar::GrammarMatcher m = start;
    benchmark::DoNotOptimize(m.accept_token(id));
  }
}
BENCHMARK(BM_AcceptToken)->Unit(benchmark::kMicrosecond);

void BM_CompileToolSchema(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(grammar::Grammar::from_json_schema(tool_schema()));
}
BENCHMARK(BM_CompileToolSchema)->Unit(benchmark::kMillisecond);

void BM_BuildVocabulary150k(benchmark::State& state) {
  const auto pieces = synthetic_pieces(150000);
  for (auto _ : state) benchmark::DoNotOptimize(grammar::TokenVocabulary::from_pieces(pieces, {}));
}
BENCHMARK(BM_BuildVocabulary150k)->Unit(benchmark::kMillisecond);

// A real vocabulary from ../shared/fixtures when present.
void BM_FillAllowedFixture(benchmark::State& state, const char* name) {
  const std::string path = std::string(PAGODA_SOURCE_DIR) + "/../shared/fixtures/vocab/" + name;
  if (!std::filesystem::exists(path)) {
    state.SkipWithError("fixture vocabulary not found");
    return;
  }
  static std::map<std::string, Setup> cache;
  if (!cache.count(name)) {
    auto file = gguf::File::open(path);
    if (!file) {
      state.SkipWithError(file.error().message.c_str());
      return;
    }
    auto tok = tokenizer::Tokenizer::from_gguf(**file);
    if (!tok) {
      state.SkipWithError(tok.error().message.c_str());
      return;
    }
    cache[name] = {grammar::TokenVocabulary::build(**tok), synthetic().grammar};
  }
  const Setup& s = cache[name];
  grammar::GrammarMatcher m(s.grammar, s.vocab);
  (void)m.accept_text(kPositions[state.range(0)]);
  std::vector<uint8_t> allowed;
  for (auto _ : state) {
    m.fill_allowed(allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
  state.SetLabel(std::string(kPositionNames[state.range(0)]) + ", " + std::to_string(allowed.size()) + " tokens");
}
BENCHMARK_CAPTURE(BM_FillAllowedFixture, gpt2, "ggml-vocab-gpt-2.gguf")
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FillAllowedFixture, deepseek_llm, "ggml-vocab-deepseek-llm.gguf")
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
