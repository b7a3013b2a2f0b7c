// Every rendering in ../shared/fixtures/templates/expected.json (made with
// Python Jinja2 as transformers runs it) must match byte for byte, and every
// expected error must be an error.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "common/fixtures.h"

namespace {

using nlohmann::ordered_json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Shows where two renderings diverge.
std::string first_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  return "at byte " + std::to_string(i) + "\n  want: " + ordered_json(want.substr(from, 120)).dump() +
         "\n  got:  " + ordered_json(got.substr(from, 120)).dump();
}

TEST(ChatTemplateFixtures, AllRenderingsMatchJinja2) {
  PAGODA_REQUIRE_FIXTURE("templates/expected.json");
  ordered_json expected = ordered_json::parse(read_text(pagoda::test::fixture("templates/expected.json")));
  const auto& context = expected["context"];
  int total = 0, matched = 0, errors_expected = 0;
  for (const auto& r : expected["renderings"]) {
    ++total;
    std::string name = r["template"].get<std::string>() + " / " + r["case"].get<std::string>() +
                       (r["add_generation_prompt"].get<bool>() ? " / gen" : " / no-gen");
    std::string source = read_text(pagoda::test::fixture("templates/" + r["template"].get<std::string>()));
    const auto& conversation = context["cases"][r["case"].get<std::string>()];
    ordered_json tools = conversation.contains("tools") ? conversation["tools"] : ordered_json();
    auto out = pagoda::chat::render_chat_ordered(source, conversation["messages"], tools,
                                                 r["add_generation_prompt"].get<bool>(),
                                                 context["bos_token"].get<std::string>(),
                                                 context["eos_token"].get<std::string>(),
                                                 context["strftime_now"].get<std::string>());
    if (r.contains("error")) {
      ++errors_expected;
      if (out.ok()) {
        ADD_FAILURE() << name << ": expected error '" << r["error"].get<std::string>() << "', got output";
      } else if (out.error().message.empty()) {
        ADD_FAILURE() << name << ": error without a message";
      } else {
        ++matched;
      }
      continue;
    }
    if (!out.ok()) {
      ADD_FAILURE() << name << ": unexpected error: " << out.error().message;
      continue;
    }
    const std::string want = r["output"].get<std::string>();
    if (*out == want) ++matched;
    else ADD_FAILURE() << name << ": output differs " << first_difference(want, *out);
  }
  std::printf("[ chat ] %d/%d template renderings match Jinja2 (%d of them expected errors)\n", matched, total,
              errors_expected);
  EXPECT_GT(total, 0);
  EXPECT_EQ(matched, total);
}

}  // namespace
