// `pagoda run` end to end: drives the built binary and checks its output against llama.cpp's
// (fixtures) and against itself (a demo model written by `pagoda make-model`).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/fixtures.h"

namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string shell_quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory for this test binary, removed at exit.
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("pagoda-run-test-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

// Runs `pagoda <args...>` and captures its exit code, stdout and stderr.
RunResult run_pagoda(const std::vector<std::string>& args) {
  const fs::path err_path = scratch_dir() / "stderr.txt";
  std::string cmd = shell_quote(PAGODA_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_path.string()) + " </dev/null";
  RunResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_file(err_path);
  return result;
}

// A small random-weight model written once by `pagoda make-model` (no fixtures needed).
const std::string& demo_model() {
  static const std::string path = [] {
    const std::string p = (scratch_dir() / "demo.gguf").string();
    const RunResult made = run_pagoda({"make-model", "-o", p, "--seed", "7", "-t", "2"});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return p;
  }();
  return path;
}

TEST(Run, StoriesGreedyMatchesLlamaCppText) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  PAGODA_REQUIRE_FIXTURE("text/stories260K-greedy-200.txt");
  const RunResult r = run_pagoda({"run", "-m", pagoda::test::fixture("models/stories260K.gguf"), "-p",
                                  "Once upon a time", "-n", "200", "--temp", "0", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_file(pagoda::test::fixture("text/stories260K-greedy-200.txt")));
  // The timing line goes to stderr, never into the text.
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
}

// For each ref model and prompt: the prompt ids match, and the greedy ids match llama.cpp's up
// to the first near-tie (top-1 vs top-2 margin <= 0.1), after which either choice is legitimate.
TEST(Run, GreedyTraceReproducesLlamaCppRefs) {
  PAGODA_REQUIRE_FIXTURE("refs");
  int compared_steps = 0, compared_files = 0;
  for (const auto& entry : fs::directory_iterator(pagoda::test::fixture("refs"))) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".kv-f16.jsonl";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string model = pagoda::test::fixture("models/" + name.substr(0, name.size() - suffix.size()) + ".gguf");
    if (!fs::exists(model)) continue;
    ++compared_files;
    std::ifstream lines(entry.path());
    std::string line;
    while (std::getline(lines, line)) {
      const auto ref = nlohmann::json::parse(line);
      const std::string prompt = ref["prompt"];
      SCOPED_TRACE(name + ": " + prompt);
      const RunResult r = run_pagoda({"run", "-m", model, "-p", prompt, "-n", "24", "--temp", "0", "--trace-json",
                                      "--ignore-eos", "-t", "2"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto got = nlohmann::json::parse(r.out);
      ASSERT_EQ(got["prompt_ids"], ref["prompt_ids"]);
      ASSERT_EQ(got["steps"].size(), ref["steps"].size());
      for (size_t s = 0; s < ref["steps"].size(); ++s) {
        const auto& top = ref["steps"][s]["top"];
        if (top[0][1].get<double>() - top[1][1].get<double>() <= 0.1) break;
        ASSERT_EQ(got["steps"][s]["id"], ref["steps"][s]["id"]) << "step " << s;
        ++compared_steps;
      }
    }
  }
  ASSERT_GT(compared_files, 0);
  EXPECT_GT(compared_steps, 40);
}

TEST(Run, PromptLongerThanContextIsAClearError) {
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "the quick brown fox ";
  const RunResult r = run_pagoda({"run", "-m", demo_model(), "-p", prompt, "-n", "4", "--ctx-size", "16", "-t", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--ctx-size"), std::string::npos) << r.err;
}

TEST(Run, SameSeedSameOutput) {
  const std::vector<std::string> base = {"run", "-m", demo_model(), "-p", "hello world", "-n", "24", "--temp", "1.0",
                                         "--top-k", "0", "--top-p", "1", "--min-p", "0", "--ignore-eos",
                                         "--trace-json", "-t", "2"};
  auto with_seed = [&](const std::string& seed) {
    auto args = base;
    args.insert(args.end(), {"--seed", seed});
    const RunResult r = run_pagoda(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto trace = nlohmann::json::parse(r.out);
    std::vector<int> ids;
    for (const auto& step : trace["steps"]) ids.push_back(step["id"]);
    return ids;
  };
  const auto a = with_seed("1234");
  ASSERT_EQ(a.size(), 24u);
  EXPECT_EQ(a, with_seed("1234"));
  EXPECT_NE(a, with_seed("4321"));
}

TEST(Run, StopStringEndsTheOutputAndIsNotPrinted) {
  const std::string prompt = "hello world";
  const std::vector<std::string> base = {"run", "-m", demo_model(), "-p", prompt, "-n", "24", "--temp", "0",
                                         "--ignore-eos", "-t", "2"};
  const RunResult full = run_pagoda(base);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  ASSERT_EQ(full.out.substr(0, prompt.size()), prompt);  // the prompt is echoed
  ASSERT_EQ(full.out.back(), '\n');
  const std::string generated = full.out.substr(prompt.size(), full.out.size() - prompt.size() - 1);
  // Stop at the first run of three ASCII letters past the start of the generated text.
  size_t at = std::string::npos;
  for (size_t i = 2; i + 3 <= generated.size() && at == std::string::npos; ++i)
    if (std::isalpha(static_cast<unsigned char>(generated[i])) && std::isalpha(static_cast<unsigned char>(generated[i + 1])) &&
        std::isalpha(static_cast<unsigned char>(generated[i + 2])))
      at = i;
  ASSERT_NE(at, std::string::npos) << generated;
  const std::string stop = generated.substr(at, 3);
  auto args = base;
  args.insert(args.end(), {"--stop", "zzzzzz", "--stop", stop});
  const RunResult stopped = run_pagoda(args);
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(stopped.out, prompt + generated.substr(0, generated.find(stop)) + "\n");
}

TEST(Run, GenerationStopsWhenTheContextIsFull) {
  const RunResult r = run_pagoda({"run", "-m", demo_model(), "-p", "hello world", "--ctx-size", "12", "--temp", "0",
                                  "--ignore-eos", "--trace-json", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto trace = nlohmann::json::parse(r.out);
  EXPECT_EQ(trace["steps"].size() + trace["prompt_ids"].size(), 12u);
}

TEST(Run, ChatAppliesTheTemplate) {
  const fs::path template_path = scratch_dir() / "chatml.jinja";
  std::ofstream(template_path) << "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                                  "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const RunResult r = run_pagoda({"run", "-m", demo_model(), "--chat", "--chat-template", template_path.string(),
                                  "--system", "Be brief.", "-p", "Hi!", "-n", "4", "--temp", "0", "--trace-json",
                                  "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto trace = nlohmann::json::parse(r.out);
  EXPECT_EQ(trace["prompt"], "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
                             "<|im_start|>assistant\n");
  EXPECT_FALSE(trace["steps"].empty());
  const RunResult missing = run_pagoda({"run", "-m", demo_model(), "--chat", "--chat-template",
                                        (scratch_dir() / "absent.jinja").string(), "-p", "Hi!"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("absent.jinja"), std::string::npos) << missing.err;
}

TEST(Run, BadArgumentsAreRejected) {
  const RunResult bad_temp = run_pagoda({"run", "-m", demo_model(), "-p", "x", "--temp", "-1"});
  EXPECT_EQ(bad_temp.exit_code, 2);
  EXPECT_NE(bad_temp.err.find("temperature"), std::string::npos) << bad_temp.err;
  const RunResult bad_kv = run_pagoda({"run", "-m", demo_model(), "-p", "x", "--kv-cache-dtype", "q7"});
  EXPECT_EQ(bad_kv.exit_code, 1);
  EXPECT_NE(bad_kv.err.find("q7"), std::string::npos) << bad_kv.err;
  const RunResult missing = run_pagoda({"run", "-m", (scratch_dir() / "absent.gguf").string(), "-p", "x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(missing.err.empty());
}

}  // namespace
