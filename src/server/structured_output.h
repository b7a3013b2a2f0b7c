#pragma once
// Turns a request's tools / tool_choice / response_format / grammar into what generation needs:
// the grammar the engine constrains sampling with, and a factory of tool-call parsers (one per
// choice) that split the output into content and calls.
//
//   tool_choice "required"  → grammar: a JSON array of {"name": one of the tools, "parameters":
//                             valid against its schema} (one item unless parallel_tool_calls);
//                             parser required_json
//   tool_choice {function}  → grammar: that function's parameter schema; parser named_json
//   tool_choice "auto"      → the server's --tool-call-parser on free text (needs
//                             --enable-auto-tool-choice, else 400 as vLLM answers)
//   response_format / grammar → the grammar alone
#include <functional>
#include <memory>
#include <string>

#include "grammar/grammar.h"
#include "server/api_error.h"
#include "server/structured_request.h"
#include "tools/tool_parser.h"

namespace pagoda::server {

struct ToolCallingOptions {
  bool enable_auto_tool_choice = false;  // --enable-auto-tool-choice
  std::string parser;                    // --tool-call-parser ("" = none)
};

struct OutputPlan {
  std::shared_ptr<const grammar::Grammar> grammar;                      // null: unconstrained
  std::function<std::unique_ptr<tools::ToolCallParser>()> make_parser;  // null: no tool calls
  bool forced_function = false;  // named tool_choice: finish_reason stays "stop", as OpenAI does
};

// 400 naming the field for an unsupported schema feature, a bad grammar, or auto tool choice
// without the server flags.
// `make_call_id` names the calls the parsers find (Anthropic's "toolu_…"); empty: the parser's own.
ApiResult<OutputPlan> plan_output(const StructuredRequest& request, const ToolCallingOptions& options,
                                  std::function<std::string()> make_call_id = {});

// The JSON Schema tool_choice "required" constrains to (exposed for tests).
nlohmann::ordered_json required_calls_schema(const std::vector<ToolSpec>& tools, bool parallel);

}  // namespace pagoda::server
