#pragma once
// Tool calls out of model text: one parser per model family (vLLM's --tool-call-parser names),
// for a whole output and for a stream of text increments.
//
//   hermes       <tool_call>{"name": …, "arguments": {…}}</tool_call> …   (Hermes 2/3, Qwen 2.5/3)
//   llama3_json  [<|python_tag|>]{"name": …, "parameters"|"arguments": {…}}; …   (Llama 3.1–3.3)
//   mistral      [TOOL_CALLS][{…}, …]  or  [TOOL_CALLS]name{args}…   (9-character call ids)
//   granite      <|tool_call|>[{…}, …]  or  <tool_call>[{…}, …]
//   pythonic     [fn(a=1), g(b="x")]   (Llama 3.2 small, Llama 4)
// and two used by the server when generation is constrained to a call (tool_choice):
//   required_json  [{"name": …, "parameters": {…}}, …]   (tool_choice "required")
//   named_json     {…} = the arguments of the one named function
//
// Text before the first call is content. Output that does not parse as calls (truncated JSON,
// an unknown function name, markup with nothing valid after it) is returned as plain content.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace pagoda::tools {

struct ToolCall {
  std::string id;  // "chatcmpl-tool-<32 hex>", or 9 alphanumerics for mistral
  std::string name;
  std::string arguments;  // a JSON object as text ("{}" when the model gave none)
};

struct ParsedOutput {
  std::optional<std::string> content;  // text outside calls; nullopt when there is none
  std::vector<ToolCall> calls;
};

// One tool call's news in a stream: the first delta of a call carries index, id and the whole
// name; later ones carry only argument fragments. Fragments of a call concatenated parse to the
// same JSON value as ParsedOutput's arguments for that call.
struct ToolCallDelta {
  int index = 0;
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::string arguments;  // fragment; may be empty on the first delta
};

struct StreamDelta {
  std::string content;               // content text released by this increment
  std::vector<ToolCallDelta> calls;  // in order
  bool empty() const { return content.empty() && calls.empty(); }
};

struct ParserOptions {
  std::vector<std::string> tool_names;   // functions the request offered; others are content
  std::string forced_name;               // named_json: the function the output is the arguments of
  std::function<std::string()> make_id;  // call ids; default random in the parser's format
};

class ToolCallParser {
 public:
  virtual ~ToolCallParser() = default;
  // Parses a whole output.
  virtual ParsedOutput parse(std::string_view text) const = 0;
  // Streaming: text as the detokenizer releases it (any split, even inside a tag or a UTF-8
  // character boundary is never split). Text that might still become call markup is held back;
  // markup is never released as content.
  virtual StreamDelta push(std::string_view text) = 0;
  // End of output: releases what was held. When a call was still open and cannot be completed,
  // its text goes out as content if no delta of it was sent yet.
  virtual StreamDelta finish() = 0;
  // True once a call has been recognised (finish_reason becomes "tool_calls").
  virtual bool saw_calls() const = 0;
  // Text that opens a call in this format ("<tool_call>", "[TOOL_CALLS]", "{\"name\"" …).
  virtual std::vector<std::string> triggers() const = 0;
};

// Names accepted by --tool-call-parser (the five families above).
const std::vector<std::string>& parser_names();
// A fresh parser (one per sequence); Error for an unknown name listing the known ones.
Expected<std::unique_ptr<ToolCallParser>> make_parser(std::string_view name, ParserOptions options);

// "chatcmpl-tool-" + 32 random hex digits / 9 random alphanumerics.
std::string random_tool_call_id();
std::string random_mistral_call_id();

}  // namespace pagoda::tools
