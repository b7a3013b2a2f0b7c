// JSON Schema -> GBNF. One rule per object / array / $ref target, shared primitive rules
// (json-string, json-number, ws...), and a depth-bounded any-value family. Choices (README):
//   - object properties appear in the schema's key order; required ones always, optional ones
//     may be left out; additionalProperties absent = false when `properties` is given (strict
//     mode, like vLLM / xgrammar), any extra keys when it is not; extra keys go after the
//     declared ones and are not checked against their names;
//   - oneOf is treated as anyOf; $ref siblings are ignored (draft-7 behaviour);
//   - integer minimum / maximum are exact; number bounds only decide whether '-' is allowed;
//   - counts (minItems, maxLength, {m,n}) above 1000 are unbounded; unknown formats are
//     annotations (plain strings), and so is a format next to minLength / maxLength;
//   - `pattern` ignores minLength / maxLength beside it (as llama.cpp does).
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "grammar/gbnf_ast.h"
#include "grammar/grammar.h"
#include "grammar/schema_parts.h"

namespace pagoda::grammar {
namespace {

using Json = nlohmann::ordered_json;
using namespace schema;

constexpr int kMaxSchemaDepth = 64;
constexpr int kAnyDepth = 16;  // nesting of objects / arrays inside an unconstrained value
constexpr size_t kMaxPrefixItems = 32;

const std::set<std::string>& unsupported_keywords() {
  static const std::set<std::string> k = {"patternProperties",
                                          "not",
                                          "if",
                                          "then",
                                          "else",
                                          "dependentSchemas",
                                          "dependentRequired",
                                          "dependencies",
                                          "contains",
                                          "minContains",
                                          "maxContains",
                                          "propertyNames",
                                          "multipleOf",
                                          "minProperties",
                                          "maxProperties",
                                          "$dynamicRef",
                                          "$recursiveRef",
                                          "unevaluatedItems",
                                          "unevaluatedProperties"};
  return k;
}

// Shared rules, defined when first used.
struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> deps;
};
const std::vector<Primitive>& primitives() {
  static const std::vector<Primitive> p = {
      // At most one space, or a line break and an indent: generation cannot loop on whitespace.
      {"ws", R"(( " " | "\n" [ \t]{0,20} )?)", {}},
      // Raw characters but controls, '"', '\' and DEL; escapes; \u escapes but lone surrogates.
      {"json-char",
       R"([^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) ))",
       {}},
      {"json-string", R"("\"" json-char* "\"")", {"json-char"}},
      {"json-int", R"("-"? ( "0" | [1-9] [0-9]{0,15} ))", {}},
      {"json-number", R"("-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?)", {}},
      {"json-nonneg-number", R"(( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?)", {}},
      {"json-bool", R"("true" | "false")", {}},
      {"json-null", R"("null")", {}},
  };
  return p;
}

std::string quote_rule() {
  return "\"\\\"\"";
}  // GBNF for a literal '"'

class Converter {
 public:
  explicit Converter(const Json& root) : root_(root) {}

  std::string run() {
    const std::string root_expr = visit(root_, "root", 0);
    std::string out = "root ::= " + root_expr + "\n";
    for (const std::string& name : order_) out += name + " ::= " + bodies_.at(name) + "\n";
    for (const Primitive& p : primitives())
      if (used_.count(p.name)) out += std::string(p.name) + " ::= " + p.body + "\n";
    return out;
  }

 private:
  [[noreturn]] static void fail(const std::string& message) { throw Exception(message); }

  std::string use(const std::string& name) {
    if (used_.insert(name).second)
      for (const Primitive& p : primitives())
        if (name == p.name)
          for (const char* d : p.deps) use(d);
    return name;
  }

  // A fresh rule name from a hint ([a-zA-Z0-9-] only).
  std::string reserve(const std::string& hint) {
    std::string base;
    for (char c : hint) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (ok)
        base += c;
      else if (!base.empty() && base.back() != '-')
        base += '-';
    }
    while (!base.empty() && base.back() == '-') base.pop_back();
    if (base.empty() || base == "root" || base.starts_with("json-") || base == "ws") base = "r-" + base;
    if (base.size() > 64) base.resize(64);
    std::string name = base;
    for (int i = 2; taken_.count(name); ++i) name = fmt::format("{}-{}", base, i);
    taken_.insert(name);
    order_.push_back(name);
    bodies_[name] = "";
    return name;
  }
  std::string define(const std::string& hint, const std::string& body) {
    const std::string name = reserve(hint);
    bodies_[name] = body;
    return name;
  }

  std::string any_value() {
    if (!bodies_.count("json-value")) {
      for (int k = 0; k <= kAnyDepth; ++k) {
        const std::string scalars =
            use("json-string") + " | " + use("json-number") + " | " + use("json-bool") + " | " + use("json-null");
        use("ws");
        if (k == 0) {
          add_fixed("json-value-0", scalars);
          continue;
        }
        const std::string inner = fmt::format("json-value-{}", k - 1);
        add_fixed(fmt::format("json-member-{}", k), fmt::format("json-string ws \":\" ws {} ws", inner));
        add_fixed(fmt::format("json-object-{}", k),
                  fmt::format("\"{{\" ws ( json-member-{0} ( \",\" ws json-member-{0} )* )? \"}}\"", k));
        add_fixed(fmt::format("json-array-{}", k),
                  fmt::format("\"[\" ws ( {0} ws ( \",\" ws {0} ws )* )? \"]\"", inner));
        add_fixed(fmt::format("json-value-{}", k), fmt::format("json-object-{0} | json-array-{0} | {1}", k, scalars));
      }
      add_fixed("json-value", fmt::format("json-value-{}", kAnyDepth));
    }
    return "json-value";
  }
  std::string any_object() {
    any_value();
    return fmt::format("json-object-{}", kAnyDepth);
  }
  void add_fixed(const std::string& name, const std::string& body) {
    taken_.insert(name);
    order_.push_back(name);
    bodies_[name] = body;
  }

  static std::string literal(const Json& value) { return gbnf_literal(value.dump()); }

  void check_keywords(const Json& s) const {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if (unsupported_keywords().count(k)) {
        // Keywords whose value asks for nothing are harmless.
        if ((k == "unevaluatedProperties" || k == "unevaluatedItems") && it->is_boolean() && it->get<bool>()) continue;
        if (k == "minProperties" && it->is_number() && it->get<double>() <= 0) continue;
        fail(fmt::format("unsupported JSON Schema keyword '{}'", k));
      }
      if (k == "uniqueItems" && it->is_boolean() && it->get<bool>())
        fail("unsupported JSON Schema keyword 'uniqueItems' (true)");
    }
  }

  std::string visit(const Json& s, const std::string& hint, int depth) {
    if (depth > kMaxSchemaDepth) fail(fmt::format("the schema is nested deeper than {}", kMaxSchemaDepth));
    if (s.is_boolean()) {
      if (s.get<bool>()) return any_value();
      fail("the schema 'false' accepts no value");
    }
    if (!s.is_object()) fail(fmt::format("a schema must be an object or a boolean, got {}", s.type_name()));
    check_keywords(s);
    std::string expr = visit_object(s, hint, depth);
    if (auto it = s.find("nullable"); it != s.end() && it->is_boolean() && it->get<bool>())
      expr = "( " + expr + " | " + use("json-null") + " )";
    return expr;
  }

  std::string visit_object(const Json& s, const std::string& hint, int depth) {
    if (auto it = s.find("$ref"); it != s.end()) {
      if (!it->is_string()) fail("'$ref' must be a string");
      return ref(it->get<std::string>(), depth);
    }
    if (auto it = s.find("const"); it != s.end()) return literal(*it);
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) fail("'enum' must be a non-empty array");
      std::string out = "( ";
      for (size_t i = 0; i < it->size(); ++i) out += (i ? " | " : "") + literal((*it)[i]);
      return out + " )";
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      auto it = s.find(key);
      if (it == s.end()) continue;
      if (!it->is_array() || it->empty()) fail(fmt::format("'{}' must be a non-empty array", key));
      std::string out = "( ";
      for (size_t i = 0; i < it->size(); ++i)
        out += (i ? " | " : "") + visit((*it)[i], fmt::format("{}-{}", hint, i), depth + 1);
      return out + " )";
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->empty()) fail("'allOf' must be a non-empty array");
      if (it->size() == 1) return visit((*it)[0], hint, depth + 1);
      return visit(merge_all_of(*it), hint, depth + 1);
    }
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) return visit_typed(s, it->get<std::string>(), hint, depth);
      if (!it->is_array() || it->empty()) fail("'type' must be a string or a non-empty array of strings");
      std::string out = "( ";
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) fail("'type' must be a string or a non-empty array of strings");
        out += (i ? " | " : "") + visit_typed(s, (*it)[i].get<std::string>(), hint, depth);
      }
      return out + " )";
    }
    // No type: infer it from the keywords, else any value.
    for (const char* k : {"properties", "additionalProperties", "required"})
      if (s.contains(k)) return visit_typed(s, "object", hint, depth);
    for (const char* k : {"items", "prefixItems", "minItems", "maxItems"})
      if (s.contains(k)) return visit_typed(s, "array", hint, depth);
    for (const char* k : {"pattern", "minLength", "maxLength", "format"})
      if (s.contains(k)) return visit_typed(s, "string", hint, depth);
    return any_value();
  }

  std::string visit_typed(const Json& s, const std::string& type, const std::string& hint, int depth) {
    if (type == "string") return string_expr(s);
    if (type == "integer") return integer_expr(s);
    if (type == "number") return number_expr(s);
    if (type == "boolean") return use("json-bool");
    if (type == "null") return use("json-null");
    if (type == "object") return object_expr(s, hint, depth);
    if (type == "array") return array_expr(s, hint, depth);
    fail(fmt::format("unsupported JSON Schema type '{}'", type));
  }

  const Json& resolve(const std::string& ref) const {
    if (ref.empty() || ref[0] != '#')
      fail(fmt::format("unsupported $ref '{}' (only references within the schema, '#/...', are supported)", ref));
    if (ref.size() == 1) return root_;
    if (ref[1] != '/') fail(fmt::format("unsupported $ref '{}' (only JSON pointers '#/...' are supported)", ref));
    try {
      const Json::json_pointer pointer(ref.substr(1));
      if (!root_.contains(pointer)) fail(fmt::format("$ref '{}' does not resolve", ref));
      return root_.at(pointer);
    } catch (const nlohmann::json::exception&) {
      fail(fmt::format("$ref '{}' is not a valid JSON pointer", ref));
    }
  }

  std::string ref(const std::string& r, int depth) {
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    const Json& target = resolve(r);
    const size_t slash = r.find_last_of('/');
    const std::string name = reserve(slash == std::string::npos ? "ref-root" : "ref-" + r.substr(slash + 1));
    refs_[r] = name;  // before the body: recursive references find it
    bodies_[name] = visit(target, name, depth + 1);
    return name;
  }

  // allOf of several object schemas: their properties and required lists together.
  Json merge_all_of(const Json& list) const {
    Json merged = {{"type", "object"}, {"properties", Json::object()}, {"required", Json::array()}};
    for (const Json& item : list) {
      const Json* s = &item;
      for (int hops = 0; s->is_object() && s->contains("$ref") && hops < 16; ++hops)
        s = &resolve((*s)["$ref"].get<std::string>());
      const bool object_like = s->is_object() && (s->value("type", "object") == "object") && !s->contains("anyOf") &&
                               !s->contains("oneOf") && !s->contains("allOf") && !s->contains("$ref");
      if (!object_like) fail("'allOf' with several schemas is supported only for object schemas");
      check_keywords(*s);
      if (auto p = s->find("properties"); p != s->end() && p->is_object())
        for (auto it = p->begin(); it != p->end(); ++it) merged["properties"][it.key()] = it.value();
      if (auto r = s->find("required"); r != s->end() && r->is_array())
        for (const Json& name : *r) merged["required"].push_back(name);
      if (auto a = s->find("additionalProperties"); a != s->end()) merged["additionalProperties"] = *a;
    }
    return merged;
  }

  static std::optional<double> number_field(const Json& s, const char* key) {
    auto it = s.find(key);
    if (it == s.end()) return std::nullopt;
    if (!it->is_number()) {
      if (it->is_boolean()) return std::nullopt;  // draft-4 exclusive flags, read by the caller
      fail(fmt::format("'{}' must be a number", key));
    }
    return it->get<double>();
  }
  static uint32_t count_field(const Json& s, const char* key, uint32_t fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    if (!it->is_number() || it->get<double>() < 0 || std::floor(it->get<double>()) != it->get<double>())
      fail(fmt::format("'{}' must be a non-negative integer", key));
    const double v = it->get<double>();
    return v >= 0xFFFFFFF0 ? 0xFFFFFFF0u : static_cast<uint32_t>(v);
  }
  static bool flag(const Json& s, const char* key) {
    auto it = s.find(key);
    return it != s.end() && it->is_boolean() && it->get<bool>();
  }

  // {min,max} in GBNF; kMaxCount bounds (above it: unbounded, or an error for a minimum).
  static std::string repeat_suffix(uint32_t min, std::optional<uint32_t> max, const char* what) {
    if (min > kMaxCount) fail(fmt::format("'{}' above {} is not supported", what, kMaxCount));
    if (max && *max > kMaxCount) max.reset();
    if (!max) return min == 0 ? "*" : min == 1 ? "+" : fmt::format("{{{},}}", min);
    if (min == 0 && *max == 1) return "?";
    if (min == *max) return fmt::format("{{{}}}", min);
    return fmt::format("{{{},{}}}", min, *max);
  }

  std::string string_expr(const Json& s) {
    if (auto it = s.find("pattern"); it != s.end()) {
      if (!it->is_string()) fail("'pattern' must be a string");
      const std::string body = regex_to_gbnf(it->get<std::string>());
      use(kJsonChar);
      return "( " + quote_rule() + " " + body + " " + quote_rule() + " )";
    }
    // `format` is an annotation in JSON Schema; with explicit lengths (assertions) the lengths win.
    const bool lengths = s.contains("minLength") || s.contains("maxLength");
    if (auto it = s.find("format"); it != s.end() && it->is_string() && !lengths)
      if (auto f = format_to_gbnf(it->get<std::string>()))
        return "( " + quote_rule() + " " + *f + " " + quote_rule() + " )";
    const uint32_t min = count_field(s, "minLength", 0);
    std::optional<uint32_t> max;
    if (s.contains("maxLength")) max = count_field(s, "maxLength", 0);
    if (max && *max < min) fail("'maxLength' is below 'minLength'");
    if (min == 0 && !max) return use("json-string");
    use(kJsonChar);
    return "( " + quote_rule() + " " + kJsonChar + repeat_suffix(min, max, "minLength") + " " + quote_rule() + " )";
  }

  std::string integer_expr(const Json& s) {
    std::optional<double> lo = number_field(s, "minimum"), hi = number_field(s, "maximum");
    if (lo) lo = std::ceil(*lo);
    if (hi) hi = std::floor(*hi);
    if (flag(s, "exclusiveMinimum") && lo) *lo += 1;  // draft 4: the flag applies to minimum
    if (flag(s, "exclusiveMaximum") && hi) *hi -= 1;
    if (auto x = number_field(s, "exclusiveMinimum")) lo = std::max(lo.value_or(-1e300), std::floor(*x) + 1);
    if (auto x = number_field(s, "exclusiveMaximum")) hi = std::min(hi.value_or(1e300), std::ceil(*x) - 1);
    if (!lo && !hi) return use("json-int");
    auto to_int = [](std::optional<double> v) -> std::optional<int64_t> {
      if (!v) return std::nullopt;
      return static_cast<int64_t>(std::clamp(*v, -1e17, 1e17));
    };
    return "( " + integer_range_gbnf(to_int(lo), to_int(hi)) + " )";
  }

  std::string number_expr(const Json& s) {
    const auto lo = number_field(s, "minimum"), xlo = number_field(s, "exclusiveMinimum");
    if ((lo && *lo >= 0) || (xlo && *xlo >= 0)) return use("json-nonneg-number");
    return use("json-number");
  }

  std::string object_expr(const Json& s, const std::string& hint, int depth) {
    use("ws");
    std::vector<std::pair<std::string, const Json*>> props;
    static const Json kAny = true;
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) fail("'properties' must be an object");
      for (auto p = it->begin(); p != it->end(); ++p) props.push_back({p.key(), &p.value()});
    }
    std::set<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) fail("'required' must be an array of strings");
      for (const Json& r : *it) {
        if (!r.is_string()) fail("'required' must be an array of strings");
        const std::string name = r.get<std::string>();
        required.insert(name);
        bool declared = false;
        for (const auto& [k, v] : props) declared = declared || k == name;
        if (!declared) props.push_back({name, &kAny});  // required but undeclared: any value
      }
    }
    // Extra keys: the additionalProperties schema, or none (see the header comment).
    std::optional<std::string> extra;
    auto add = s.find("additionalProperties");
    if (add == s.end()) {
      if (props.empty()) return any_object();
    } else if (!(add->is_boolean() && !add->get<bool>())) {
      if (props.empty() && add->is_boolean()) return any_object();
      const std::string value = visit(*add, hint + "-extra-value", depth + 1);
      extra = define(hint + "-extra", use("json-string") + " ws \":\" ws " + value + " ws");
    }
    const size_t n = props.size();
    std::vector<std::string> kv(n);
    std::vector<char> req(n);
    for (size_t i = 0; i < n; ++i) {
      req[i] = required.count(props[i].first) ? 1 : 0;
      const std::string value = visit(*props[i].second, hint + "-" + props[i].first, depth + 1);
      kv[i] =
          define(hint + "-" + props[i].first + "-kv", literal(Json(props[i].first)) + " ws \":\" ws " + value + " ws");
    }
    // after(i): properties i.. once something was written (each behind a comma);
    // start(i): properties i.. with nothing written yet. Only the reachable ones become rules.
    std::vector<char> need_after(n + 1, 0), need_start(n + 1, 0);
    need_start[0] = 1;
    for (size_t i = 0; i < n; ++i) {
      if (need_start[i]) {
        need_after[i + 1] = 1;
        if (!req[i]) need_start[i + 1] = 1;
      }
      if (need_after[i]) need_after[i + 1] = 1;
    }
    const std::string extra_tail = extra ? "( \",\" ws " + *extra + " )*" : "";
    const std::string extra_only = extra ? "( " + *extra + " ( \",\" ws " + *extra + " )* )?" : "";
    std::vector<std::string> after(n + 1), start(n + 1);
    after[n] = extra_tail;
    start[n] = extra_only;
    const std::string base = reserve(hint);
    for (size_t i = n; i-- > 0;) {
      if (need_after[i]) {
        const std::string body = (req[i] ? "\",\" ws " + kv[i] : "( \",\" ws " + kv[i] + " )?") +
                                 (after[i + 1].empty() ? "" : " " + after[i + 1]);
        after[i] = i == 0 ? body : define(base + "-a" + std::to_string(i), body);
      }
      if (need_start[i]) {
        const std::string taken = kv[i] + (after[i + 1].empty() ? "" : " " + after[i + 1]);
        const std::string body =
            req[i] ? taken : "( " + taken + (start[i + 1].empty() ? " )?" : " | " + start[i + 1] + " )");
        start[i] = i == 0 ? body : define(base + "-s" + std::to_string(i), body);
      }
    }
    bodies_[base] = "\"{\" ws " + (start[0].empty() ? "" : start[0] + " ") + "\"}\"";
    return base;
  }

  std::string array_expr(const Json& s, const std::string& hint, int depth) {
    use("ws");
    const uint32_t min = count_field(s, "minItems", 0);
    std::optional<uint32_t> max;
    if (s.contains("maxItems")) max = count_field(s, "maxItems", 0);
    if (max && *max < min) fail("'maxItems' is below 'minItems'");
    // Tuple forms: prefixItems (2020-12) or items as an array (draft 4), then the rest.
    std::vector<const Json*> prefix;
    const Json* rest = nullptr;  // null: no more items allowed
    static const Json kAny = true;
    auto items = s.find("items");
    if (auto p = s.find("prefixItems"); p != s.end()) {
      if (!p->is_array()) fail("'prefixItems' must be an array");
      for (const Json& x : *p) prefix.push_back(&x);
      rest = items == s.end() ? &kAny : (items->is_boolean() && !items->get<bool>()) ? nullptr : &*items;
    } else if (items != s.end() && items->is_array()) {
      for (const Json& x : *items) prefix.push_back(&x);
      auto more = s.find("additionalItems");
      rest = more == s.end() ? &kAny : (more->is_boolean() && !more->get<bool>()) ? nullptr : &*more;
    } else {
      rest = items == s.end() ? &kAny : (items->is_boolean() && !items->get<bool>()) ? nullptr : &*items;
    }
    if (prefix.size() > kMaxPrefixItems)
      fail(fmt::format("more than {} prefixItems are not supported", kMaxPrefixItems));
    const size_t k = prefix.size();
    if (!rest && max.value_or(k) > k) max = static_cast<uint32_t>(k);
    if (max && *max < min) fail("the array schema accepts no array ('minItems' exceeds the items allowed)");
    const std::string base = reserve(hint);
    std::vector<std::string> elem(k);
    for (size_t i = 0; i < k; ++i) elem[i] = visit(*prefix[i], fmt::format("{}-{}", hint, i), depth + 1);
    std::string item;
    if (rest && max.value_or(kUnbounded) > k) item = visit(*rest, hint + "-item", depth + 1);
    // Element i (0-based) written as `[sep] E ws`; positions below min are required.
    auto piece = [&](size_t i, const std::string& e) { return (i ? "\",\" ws " : "") + e + " ws"; };
    std::string tail;  // everything after the prefix
    if (!item.empty()) {
      const uint32_t rest_min = min > k ? static_cast<uint32_t>(min - k) : 0;
      std::optional<uint32_t> rest_max;
      if (max) rest_max = static_cast<uint32_t>(*max - k);
      if (k > 0) {
        tail = "( \",\" ws " + item + " ws )" + repeat_suffix(rest_min, rest_max, "minItems");
      } else if (!rest_max || *rest_max > 0) {
        // No prefix: the first item has no comma.
        std::optional<uint32_t> more_max;
        if (rest_max) more_max = *rest_max - 1;
        const std::string first = item + " ws ( \",\" ws " + item + " ws )" +
                                  repeat_suffix(rest_min > 0 ? rest_min - 1 : 0, more_max, "minItems");
        tail = rest_min > 0 ? first : "( " + first + " )?";
      }
    }
    // Prefix elements nest: each optional one guards the ones after it.
    std::string body = tail;
    for (size_t i = k; i-- > 0;) {
      const std::string inner = piece(i, elem[i]) + (body.empty() ? "" : " " + body);
      body = i < min ? inner : "( " + inner + " )?";
    }
    bodies_[base] = "\"[\" ws " + (body.empty() ? "" : body + " ") + "\"]\"";
    return base;
  }

  const Json& root_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> bodies_;
  std::set<std::string> taken_;
  std::set<std::string> used_;
  std::map<std::string, std::string> refs_;
};

Expected<std::string> convert(const Json& schema) {
  return capture([&] { return Converter(schema).run(); });
}

}  // namespace

Expected<std::string> json_schema_to_gbnf(const nlohmann::json& schema) {
  // Objects in nlohmann::json are sorted by key; property order is then alphabetical. Callers
  // that keep the declared order pass an ordered_json (the overload below).
  return convert(Json(schema));
}

Expected<std::string> json_schema_to_gbnf_ordered(const nlohmann::ordered_json& schema) {
  return convert(schema);
}

}  // namespace pagoda::grammar
