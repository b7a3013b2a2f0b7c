// Tokenizer throughput on 1 MB of generated English-like text, with the real
// llama.cpp vocabularies from ../shared/fixtures/vocab when present.
//   cmake -B build -DPAGODA_BENCH=ON && ninja -C build bench_tokenizer && ./build/bench/bench_tokenizer
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

using pagoda::tokenizer::Tokenizer;

// Deterministic pseudo-English: Zipf-like word choice over a fixed word list,
// sentences with capitals, commas, numbers, quotes and paragraph breaks.
std::string english_text(size_t bytes) {
  static const char* const kWords[] = {
      "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
      "are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or",
      "had", "by", "hot", "word", "but", "what", "some", "we", "can", "out", "other", "were",
      "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
      "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write",
      "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has",
      "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most",
      "people", "my", "over", "know", "water", "than", "call", "first", "who", "may", "down",
      "side", "been", "now", "find", "inference", "engine", "quantization", "tokenizer",
      "throughput", "latency", "benchmark", "children", "story", "little", "garden", "happy",
      "wonderful", "government", "international", "understanding", "unbelievable", "don't",
      "it's", "we're", "they've", "I'll", "she'd"};
  constexpr size_t kN = sizeof(kWords) / sizeof(kWords[0]);
  std::mt19937 rng(1234);
  std::string text;
  text.reserve(bytes + 64);
  size_t in_sentence = 0;
  while (text.size() < bytes) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const size_t idx = static_cast<size_t>(u * u * u * kN);  // favours common words
    std::string w = kWords[idx < kN ? idx : kN - 1];
    if (in_sentence == 0 && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 32);
    if (rng() % 40 == 0) w = std::to_string(rng() % 100000);
    if (rng() % 60 == 0) w = "\"" + w + "\"";
    text += w;
    ++in_sentence;
    const unsigned r = rng() % 100;
    if (in_sentence > 6 && r < 12) {
      text += r < 2 ? "?" : r < 4 ? "!" : ".";
      in_sentence = 0;
      text += (rng() % 8 == 0) ? "\n\n" : " ";
    } else {
      text += r < 18 ? ", " : " ";
    }
  }
  text.resize(bytes);
  return text;
}

const std::string& megabyte() {
  static const std::string text = english_text(1 << 20);
  return text;
}

// $PAGODA_FIXTURES_DIR, else ../shared/fixtures next to the source tree (found from __FILE__).
std::string fixtures_dir() {
  if (const char* env = std::getenv("PAGODA_FIXTURES_DIR")) return env;
  return (std::filesystem::path(__FILE__).parent_path() / "../../shared/fixtures").string();
}

std::unique_ptr<Tokenizer> load_vocab(const std::string& name, std::string& error) {
  const std::string path = fixtures_dir() + "/vocab/ggml-vocab-" + name + ".gguf";
  if (!std::filesystem::exists(path)) {
    error = path + " not found (fixtures absent)";
    return nullptr;
  }
  auto file = pagoda::gguf::File::open(path);
  if (!file) {
    error = file.error().message;
    return nullptr;
  }
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok) {
    error = tok.error().message;
    return nullptr;
  }
  return std::move(*tok);
}

void BM_Encode1MB(benchmark::State& state, const std::string& vocab) {
  std::string error;
  auto tok = load_vocab(vocab, error);
  if (!tok) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string& text = megabyte();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n_tokens) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}

void BM_Decode(benchmark::State& state) {
  std::string error;
  auto tok = load_vocab("gpt-2", error);
  if (!tok) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto ids = tok->encode(megabyte(), false, false);
  for (auto _ : state) {
    pagoda::tokenizer::IncrementalDetokenizer d(*tok);
    size_t n = 0;
    for (int32_t id : ids) n += d.push(id).size();
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}

BENCHMARK_CAPTURE(BM_Encode1MB, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, bert_wordpiece, std::string("bert-bge"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, deepseek_llm, std::string("deepseek-llm"))->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
