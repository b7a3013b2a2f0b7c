// `pagoda render-template`: runs the built binary on a fixture template
// (output must equal Python Jinja2's byte for byte), on a GGUF written by the
// test (template and BOS/EOS from its metadata), and on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "common/run_binary.h"
#include "gguf/gguf.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

using CliRun = test::CommandResult;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

class RenderTemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_render_template_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `pagoda render-template <args>`, capturing stdout, stderr and the exit status.
  CliRun run(const std::string& args) { return test::run_pagoda("render-template " + args); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(RenderTemplateCli, FixtureTemplateMatchesJinja2) {
  PAGODA_REQUIRE_FIXTURE("templates/expected.json");
  const ordered_json expected = ordered_json::parse(slurp(test::fixture("templates/expected.json")));
  const std::string name = "Qwen-Qwen2.5-7B-Instruct.jinja";
  int checked = 0;
  for (const auto& r : expected["renderings"]) {
    if (r["template"] != name || !r.contains("output")) continue;
    const auto& conversation = expected["context"]["cases"][r["case"].get<std::string>()];
    spit(path("messages.json"), conversation.dump());
    std::string args = "--template '" + test::fixture("templates/" + name) + "' --messages '" +
                       path("messages.json") + "' --bos-token '<s>' --eos-token '</s>' --date 2024-07-26";
    if (r["add_generation_prompt"].get<bool>()) args += " --add-generation-prompt";
    const CliRun run_result = run(args);
    ASSERT_EQ(run_result.status, 0) << run_result.err;
    EXPECT_EQ(run_result.out, r["output"].get<std::string>()) << r["case"];
    ++checked;
  }
  EXPECT_EQ(checked, 8);  // 4 conversations x add_generation_prompt on/off
}

TEST_F(RenderTemplateCli, ModelTemplateAndTokensComeFromGguf) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array({"<unk>", "<BOS>", "<EOS>", "hi"}));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  w.set("tokenizer.chat_template",
        gguf::Value::string("{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}"
                            "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"));
  ASSERT_TRUE(w.write_file(path("model.gguf")).ok());
  spit(path("messages.json"), R"([{"role": "user", "content": "Hello \u00e9"}])");

  CliRun r = run("-m '" + path("model.gguf") + "' --messages '" + path("messages.json") + "' --add-generation-prompt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<BOS>[user] Hello \xc3\xa9<EOS>[assistant] ");

  // Explicit token texts win over the vocabulary's.
  r = run("-m '" + path("model.gguf") + "' --messages '" + path("messages.json") + "' --bos-token B --eos-token E");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "B[user] Hello \xc3\xa9" "E");
}

TEST_F(RenderTemplateCli, MessagesObjectWithToolsAndArgumentStrings) {
  spit(path("t.jinja"),
       "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}{% endfor %}"
       "{% endfor %}|{{ tools | map(attribute='name') | join(',') }}");
  spit(path("conv.json"), R"({"messages": [{"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": "{\"z\": 1, \"a\": [true]}"}},
        {"type": "function", "function": {"name": "g", "arguments": "not json"}}]}],
      "tools": [{"name": "f"}, {"name": "g"}]})");
  const CliRun r = run("--template '" + path("t.jinja") + "' --messages '" + path("conv.json") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, R"({"z": 1, "a": [true]}"not json"|f,g)");
}

TEST_F(RenderTemplateCli, TemplateErrorsGoToStderrWithStatusOne) {
  spit(path("bad.jinja"), "{{ raise_exception('no system role, please') }}");
  spit(path("messages.json"), "[]");
  CliRun r = run("--template '" + path("bad.jinja") + "' --messages '" + path("messages.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no system role, please"), std::string::npos) << r.err;

  spit(path("syntax.jinja"), "ok\n{% if %}");
  r = run("--template '" + path("syntax.jinja") + "' --messages '" + path("messages.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST_F(RenderTemplateCli, BadArgumentsAndFilesAreClearErrors) {
  spit(path("t.jinja"), "x");
  spit(path("broken.json"), "[{");
  CliRun r = run("--template '" + path("t.jinja") + "' --messages '" + path("broken.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;

  r = run("--template '" + path("missing.jinja") + "' --messages '" + path("broken.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;

  r = run("--messages '" + path("broken.json") + "'");
  EXPECT_NE(r.status, 0);

  spit(path("not_gguf.gguf"), "definitely not a gguf file");
  spit(path("messages.json"), "[]");
  r = run("-m '" + path("not_gguf.gguf") + "' --messages '" + path("messages.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(r.err.empty());
}

}  // namespace
}  // namespace pagoda
