#include "server/structured_output.h"

#include <fmt/format.h>

namespace pagoda::server {
namespace {

using json = nlohmann::ordered_json;

// Moves a tool schema's own $defs / definitions into the combined schema's $defs under a
// per-tool prefix and rewrites its "#/..." references to match, so that several tools'
// schemas can sit side by side in one anyOf.
void rewrite_refs(json& node, const std::string& prefix) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "$ref" && it->is_string()) {
        const std::string ref = it->get<std::string>();
        if (ref == "#")
          *it = "#/$defs/" + prefix + "_root";
        else if (ref.starts_with("#/$defs/"))
          *it = "#/$defs/" + prefix + "_" + ref.substr(8);
        else if (ref.starts_with("#/definitions/"))
          *it = "#/$defs/" + prefix + "_" + ref.substr(14);
      } else {
        rewrite_refs(*it, prefix);
      }
    }
  } else if (node.is_array()) {
    for (auto& x : node) rewrite_refs(x, prefix);
  }
}

json hoist_tool_schema(const json& schema, const std::string& prefix, json& defs) {
  json s = schema;
  rewrite_refs(s, prefix);
  for (const char* key : {"$defs", "definitions"}) {
    auto it = s.find(key);
    if (it == s.end()) continue;
    if (it->is_object())
      for (auto d = it->begin(); d != it->end(); ++d) defs[prefix + "_" + d.key()] = *d;
    s.erase(it);
  }
  defs[prefix + "_root"] = s;
  return s;
}

ApiResult<std::shared_ptr<const grammar::Grammar>> compile_schema(const json& schema, const char* param) {
  auto g = grammar::Grammar::from_json_schema_ordered(schema);
  if (!g) return bad_request(g.error().message, param);
  return *g;
}

}  // namespace

json required_calls_schema(const std::vector<ToolSpec>& tools, bool parallel) {
  json defs = json::object();
  json choices = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    json params = hoist_tool_schema(tools[i].parameters, fmt::format("tool{}", i), defs);
    choices.push_back({{"type", "object"},
                       {"properties", {{"name", {{"const", tools[i].name}}}, {"parameters", params}}},
                       {"required", {"name", "parameters"}},
                       {"additionalProperties", false}});
  }
  json items = choices.size() == 1 ? choices[0] : json{{"anyOf", choices}};
  json schema = {{"type", "array"}, {"minItems", 1}, {"items", items}};
  if (!parallel) schema["maxItems"] = 1;
  if (!defs.empty()) schema["$defs"] = defs;
  return schema;
}

ApiResult<OutputPlan> plan_output(const StructuredRequest& r, const ToolCallingOptions& options,
                                  std::function<std::string()> make_call_id) {
  OutputPlan plan;
  std::vector<std::string> names;
  for (const auto& t : r.tools) names.push_back(t.name);

  switch (r.tool_choice) {
    case ToolChoice::none:
      break;
    case ToolChoice::auto_: {
      if (!options.enable_auto_tool_choice || options.parser.empty())
        return bad_request("\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
                           "tool_choice");
      const std::string parser = options.parser;
      plan.make_parser = [parser, names, make_call_id] {
        tools::ParserOptions o;
        o.tool_names = names;
        o.make_id = make_call_id;
        auto p = tools::make_parser(parser, std::move(o));
        return p ? std::move(*p) : nullptr;
      };
      break;
    }
    case ToolChoice::required: {
      auto g = compile_schema(required_calls_schema(r.tools, r.parallel_tool_calls), "tools");
      if (!g) return g.error();
      plan.grammar = *g;
      plan.make_parser = [names, make_call_id] {
        tools::ParserOptions o;
        o.tool_names = names;
        o.make_id = make_call_id;
        auto p = tools::make_parser("required_json", std::move(o));
        return p ? std::move(*p) : nullptr;
      };
      return plan;  // the call grammar replaces any response_format
    }
    case ToolChoice::named: {
      const ToolSpec* tool = nullptr;
      for (const auto& t : r.tools)
        if (t.name == r.tool_choice_name) tool = &t;
      if (!tool) return bad_request("'tool_choice' names a function that is not in 'tools'", "tool_choice");
      auto g = compile_schema(tool->parameters, "tools");
      if (!g) return g.error();
      plan.grammar = *g;
      plan.forced_function = true;
      const std::string name = tool->name;
      plan.make_parser = [name, names, make_call_id] {
        tools::ParserOptions o;
        o.tool_names = names;
        o.make_id = make_call_id;
        o.forced_name = name;
        auto p = tools::make_parser("named_json", std::move(o));
        return p ? std::move(*p) : nullptr;
      };
      return plan;
    }
  }

  switch (r.format) {
    case OutputFormat::text:
      break;
    case OutputFormat::json_object:
      plan.grammar = grammar::Grammar::any_json_object();
      break;
    case OutputFormat::json_schema: {
      auto g = compile_schema(r.schema, "response_format");
      if (!g) return g.error();
      plan.grammar = *g;
      break;
    }
    case OutputFormat::grammar: {
      auto g = grammar::Grammar::from_gbnf(r.grammar);
      if (!g) return bad_request("invalid grammar: " + g.error().message, "grammar");
      plan.grammar = *g;
      break;
    }
  }
  return plan;
}

}  // namespace pagoda::server
