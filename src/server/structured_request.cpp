#include "server/structured_request.h"

#include <fmt/format.h>

#include <set>

#include "server/api_error.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

[[noreturn]] void fail(std::string message, std::string param) {
  throw bad_request(std::move(message), std::move(param));
}

const Json* field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

// Schemas keep their key order: the grammar writes properties in the order they are declared.
const Json& plain(const Json& j) {
  return j;
}

std::vector<ToolSpec> parse_tools(const Json& tools) {
  if (!tools.is_array()) fail("'tools' must be a list", "tools");
  if (tools.size() > 128) fail("'tools' may hold at most 128 functions", "tools");
  std::vector<ToolSpec> out;
  std::set<std::string> seen;
  for (const Json& t : tools) {
    if (!t.is_object()) fail("each tool must be an object", "tools");
    auto type = t.find("type");
    if (type != t.end() && (!type->is_string() || *type != "function"))
      fail("only tools of type 'function' are supported", "tools");
    auto fn = t.find("function");
    if (fn == t.end() || !fn->is_object()) fail("each tool needs a 'function' object", "tools");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
      fail("each function needs a non-empty string 'name'", "tools");
    ToolSpec spec;
    spec.name = name->get<std::string>();
    if (!seen.insert(spec.name).second) fail(fmt::format("the function '{}' is listed twice", spec.name), "tools");
    auto params = fn->find("parameters");
    if (params == fn->end() || params->is_null()) {
      // No parameters: the function takes no arguments, so a call's arguments are exactly {}.
      spec.parameters = {{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
    } else if (params->is_object()) {
      spec.parameters = plain(*params);
    } else {
      fail(fmt::format("the parameters of '{}' must be a JSON Schema object", spec.name), "tools");
    }
    out.push_back(std::move(spec));
  }
  return out;
}

void parse_tool_choice(const Json& body, StructuredRequest& s) {
  const Json* c = field(body, "tool_choice");
  // OpenAI: "none" without tools, "auto" with them.
  s.tool_choice = s.tools.empty() ? ToolChoice::none : ToolChoice::auto_;
  if (!c) return;
  if (c->is_string()) {
    const std::string v = c->get<std::string>();
    if (v == "none")
      s.tool_choice = ToolChoice::none;
    else if (v == "auto")
      s.tool_choice = ToolChoice::auto_;
    else if (v == "required")
      s.tool_choice = ToolChoice::required;
    else
      fail(fmt::format("'tool_choice' must be 'none', 'auto', 'required' or a function, got '{}'", v), "tool_choice");
  } else if (c->is_object()) {
    auto fn = c->find("function");
    const Json* name = nullptr;
    if (fn != c->end() && fn->is_object()) {
      auto it = fn->find("name");
      if (it != fn->end()) name = &*it;
    }
    if (!name || !name->is_string())
      fail("a 'tool_choice' object must be {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
    s.tool_choice = ToolChoice::named;
    s.tool_choice_name = name->get<std::string>();
  } else {
    fail("'tool_choice' must be a string or an object", "tool_choice");
  }
  if (s.tool_choice != ToolChoice::none && s.tools.empty())
    fail("'tool_choice' needs 'tools'", "tool_choice");
  if (s.tool_choice == ToolChoice::named) {
    bool found = false;
    for (const auto& t : s.tools) found = found || t.name == s.tool_choice_name;
    if (!found) fail(fmt::format("'tool_choice' names '{}', which is not in 'tools'", s.tool_choice_name), "tool_choice");
  }
}

void parse_response_format(const Json& body, StructuredRequest& s) {
  const Json* f = field(body, "response_format");
  if (!f) return;
  if (!f->is_object()) fail("'response_format' must be an object", "response_format");
  auto type = f->find("type");
  if (type == f->end() || !type->is_string()) fail("'response_format' needs a string 'type'", "response_format");
  const std::string t = type->get<std::string>();
  if (t == "text") return;
  if (t == "json_object") {
    s.format = OutputFormat::json_object;
    return;
  }
  if (t != "json_schema")
    fail(fmt::format("'response_format.type' must be 'text', 'json_object' or 'json_schema', got '{}'", t),
         "response_format");
  auto js = f->find("json_schema");
  if (js == f->end() || !js->is_object())
    fail("'response_format' of type 'json_schema' needs a 'json_schema' object", "response_format");
  auto schema = js->find("schema");
  if (schema == js->end() || !(schema->is_object() || schema->is_boolean()))
    fail("'response_format.json_schema' needs a 'schema' object", "response_format");
  if (auto name = js->find("name"); name != js->end() && !name->is_string())
    fail("'response_format.json_schema.name' must be a string", "response_format");
  s.format = OutputFormat::json_schema;
  s.schema = plain(*schema);
}

}  // namespace

StructuredRequest parse_structured_request(const nlohmann::ordered_json& body, bool chat) {
  StructuredRequest s;
  if (chat) {
    if (const Json* t = field(body, "tools")) s.tools = parse_tools(*t);
    parse_tool_choice(body, s);
    if (const Json* p = field(body, "parallel_tool_calls")) {
      if (!p->is_boolean()) fail("'parallel_tool_calls' must be a boolean", "parallel_tool_calls");
      s.parallel_tool_calls = p->get<bool>();
    }
  }
  parse_response_format(body, s);
  for (const char* name : {"grammar", "guided_grammar"}) {
    if (const Json* g = field(body, name)) {
      if (!g->is_string() || g->get<std::string>().empty()) fail(fmt::format("'{}' must be a GBNF string", name), name);
      if (s.format != OutputFormat::text)
        fail(fmt::format("'{}' cannot be combined with 'response_format'", name), name);
      s.format = OutputFormat::grammar;
      s.grammar = g->get<std::string>();
    }
  }
  if (const Json* g = field(body, "guided_json")) {
    if (s.format != OutputFormat::text)
      fail("'guided_json' cannot be combined with 'response_format' or a grammar", "guided_json");
    if (g->is_string()) {
      auto parsed = Json::parse(g->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) fail("'guided_json' is not valid JSON", "guided_json");
      s.schema = parsed;
    } else if (g->is_object() || g->is_boolean()) {
      s.schema = plain(*g);
    } else {
      fail("'guided_json' must be a JSON Schema", "guided_json");
    }
    s.format = OutputFormat::json_schema;
  }
  return s;
}

}  // namespace pagoda::server
