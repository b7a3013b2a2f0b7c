// Grammar: parse + compile, and the shared any-JSON-object grammar.
#include "grammar/grammar.h"

#include "grammar/gbnf_ast.h"
#include "grammar/grammar_rules.h"

namespace pagoda::grammar {

Grammar::Grammar(std::shared_ptr<const CompiledGrammar> compiled) : compiled_(std::move(compiled)) {}

const std::string& Grammar::gbnf() const {
  return compiled_->gbnf;
}

Expected<std::shared_ptr<const Grammar>> Grammar::from_gbnf(std::string_view text, std::string_view root) {
  auto parsed = parse_gbnf(text);
  if (!parsed) return parsed.error();
  auto compiled = compile_grammar(*parsed, root, std::string(text));
  if (!compiled) return compiled.error();
  return std::shared_ptr<const Grammar>(std::make_shared<Grammar>(std::move(*compiled)));
}

Expected<std::shared_ptr<const Grammar>> Grammar::from_json_schema(const nlohmann::json& schema) {
  auto text = json_schema_to_gbnf(schema);
  if (!text) return text.error();
  auto g = from_gbnf(*text);
  if (!g) return Error{"JSON Schema: " + g.error().message};
  return g;
}

Expected<std::shared_ptr<const Grammar>> Grammar::from_json_schema_ordered(const nlohmann::ordered_json& schema) {
  auto text = json_schema_to_gbnf_ordered(schema);
  if (!text) return text.error();
  auto g = from_gbnf(*text);
  if (!g) return Error{"JSON Schema: " + g.error().message};
  return g;
}

std::shared_ptr<const Grammar> Grammar::any_json_object() {
  // Compiled once per process (thread-safe static initialisation); immutable afterwards.
  static const std::shared_ptr<const Grammar> g = [] {
    auto r = from_json_schema(nlohmann::json{{"type", "object"}});
    if (!r) throw Exception("any_json_object: " + r.error().message);
    return *r;
  }();
  return g;
}

}  // namespace pagoda::grammar
