#pragma once
// The request fields that shape what a chat or completion may produce: tools and tool_choice
// (chat), response_format, and a raw GBNF grammar. Parsed and validated here; turned into an
// engine grammar and a tool-call parser by structured_output.h.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pagoda::server {

struct ToolSpec {
  std::string name;
  nlohmann::ordered_json parameters;  // JSON Schema of the arguments; an empty object's when absent
};

enum class ToolChoice { none, auto_, required, named };

enum class OutputFormat { text, json_object, json_schema, grammar };

struct StructuredRequest {
  std::vector<ToolSpec> tools;              // chat: the functions offered (may be empty)
  ToolChoice tool_choice = ToolChoice::none;  // default: auto when tools are given
  std::string tool_choice_name;             // named: the function forced
  bool parallel_tool_calls = true;
  OutputFormat format = OutputFormat::text;
  nlohmann::ordered_json schema;  // json_schema: the schema (properties keep their declared order)
  std::string grammar;    // grammar: GBNF text (`grammar` or vLLM's `guided_grammar`)
  bool constrained() const {
    return format != OutputFormat::text || tool_choice == ToolChoice::required || tool_choice == ToolChoice::named;
  }
};

// Reads tools / tool_choice / parallel_tool_calls (chat only), response_format, grammar,
// guided_grammar and guided_json from a request body. Throws ApiError (400 naming the field).
StructuredRequest parse_structured_request(const nlohmann::ordered_json& body, bool chat);

}  // namespace pagoda::server
