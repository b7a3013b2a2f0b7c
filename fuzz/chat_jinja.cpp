// libFuzzer target: parse and render arbitrary template text. Every input must
// end in output or an Error value: no crash, hang, leak or sanitizer report.
// Tight limits keep each run fast; the context has the usual chat variables.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagoda::chat::jinja;
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "be brief"},
                 {"role": "user", "content": "Hi \u00e9"},
                 {"role": "assistant", "content": "",
                  "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  const std::string source(reinterpret_cast<const char*>(data), size);
  auto parsed = Template::parse(source);
  if (!parsed) return 0;
  RenderOptions options;
  options.pinned_date = "2024-07-26";
  options.limits.max_steps = 200000;
  options.limits.max_output_bytes = 1 << 20;
  options.limits.max_collection_items = 1 << 16;
  auto out = parsed->render(context, options);
  (void)out;
  return 0;
}
