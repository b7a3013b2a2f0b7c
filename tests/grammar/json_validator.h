#pragma once
// A small JSON Schema validator for the features the converter supports, written
// independently of it, so generated outputs can be checked against the schema's meaning.
// Strict objects: without additionalProperties, a schema with properties allows no other keys
// (the converter's documented choice). Returns "" when valid, else what failed.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace pagoda::test {

inline size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline std::string validate_json(const nlohmann::json& v, const nlohmann::json& s, const nlohmann::json& root) {
  using nlohmann::json;
  if (s.is_boolean()) return s.get<bool>() ? "" : "schema false";
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"];
    const json& target = ref == "#" ? root : root.at(json::json_pointer(ref.substr(1)));
    return validate_json(v, target, root);
  }
  if (s.value("nullable", false) && v.is_null()) return "";
  if (s.contains("const")) return v == s["const"] ? "" : "const mismatch: " + v.dump();
  if (s.contains("enum")) {
    for (const auto& e : s["enum"])
      if (v == e) return "";
    return "not in enum: " + v.dump();
  }
  for (const char* key : {"anyOf", "oneOf"})
    if (s.contains(key)) {
      for (const auto& alt : s[key])
        if (validate_json(v, alt, root).empty()) return "";
      return std::string("no ") + key + " alternative matches " + v.dump();
    }
  if (s.contains("allOf")) {
    if (s["allOf"].size() == 1) return validate_json(v, s["allOf"][0], root);
    // Merged objects: every part's properties hold; extra keys must be declared by some part.
    json props = json::object();
    for (const auto& part : s["allOf"]) {
      const json& p =
          part.contains("$ref") ? root.at(json::json_pointer(part["$ref"].get<std::string>().substr(1))) : part;
      const json part_props = p.value("properties", json::object());
      for (auto it = part_props.begin(); it != part_props.end(); ++it) props[it.key()] = it.value();
      for (const auto& r : p.value("required", json::array()))
        if (!v.contains(r.get<std::string>())) return "allOf: missing " + r.get<std::string>();
    }
    return validate_json(v, json{{"type", "object"}, {"properties", props}}, root);
  }
  auto has_type = [&](const std::string& t) {
    if (!s.contains("type")) return true;
    if (s["type"].is_string()) return s["type"] == t;
    for (const auto& x : s["type"])
      if (x == t) return true;
    return false;
  };
  const bool typed = s.contains("type");
  if (v.is_string()) {
    if (!has_type("string")) return "unexpected string";
    const std::string str = v.get<std::string>();
    const size_t len = utf8_length(str);
    if (s.contains("minLength") && !s.contains("pattern") && len < s["minLength"].get<size_t>()) return "too short";
    if (s.contains("maxLength") && !s.contains("pattern") && len > s["maxLength"].get<size_t>()) return "too long";
    if (s.contains("pattern") &&
        !std::regex_search(str, std::regex(s["pattern"].get<std::string>(), std::regex::ECMAScript)))
      return "pattern mismatch: " + str;
    if (s.contains("format") && !s.contains("minLength") && !s.contains("maxLength")) {
      static const std::map<std::string, std::string> kFormats = {
          {"date", R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$)"},
          {"time", R"(^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)"},
          {"date-time",
           R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)"},
          {"uuid", R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)"},
          {"email",
           R"(^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)+$)"}};
      auto it = kFormats.find(s["format"].get<std::string>());
      if (it != kFormats.end() && !std::regex_match(str, std::regex(it->second))) return "format mismatch: " + str;
    }
    return "";
  }
  if (v.is_number()) {
    const bool integral = v.is_number_integer() || v.is_number_unsigned();
    if (!(has_type("number") || (integral && has_type("integer")))) return "unexpected number " + v.dump();
    const double x = v.get<double>();
    if (s.contains("type") && s["type"] == "integer" && !integral) return "not an integer";
    const bool is_int_schema = s.contains("type") && s["type"] == "integer";
    if (is_int_schema || (s.contains("minimum") && s["minimum"].get<double>() >= 0)) {
      if (s.contains("minimum") && x < s["minimum"].get<double>()) return "below minimum";
    }
    if (is_int_schema) {
      if (s.contains("maximum") && x > s["maximum"].get<double>()) return "above maximum";
      if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>())
        return "not above exclusiveMinimum";
      if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>())
        return "not below exclusiveMaximum";
    }
    return "";
  }
  if (v.is_boolean()) return has_type("boolean") ? "" : "unexpected boolean";
  if (v.is_null()) return has_type("null") ? "" : "unexpected null";
  if (v.is_array()) {
    if (!has_type("array") || (!typed && (s.contains("properties")))) return "unexpected array";
    const size_t n = v.size();
    if (s.contains("minItems") && n < s["minItems"].get<size_t>()) return "too few items";
    if (s.contains("maxItems") && n > s["maxItems"].get<size_t>()) return "too many items";
    size_t first_rest = 0;
    if (s.contains("prefixItems")) {
      const auto& p = s["prefixItems"];
      for (size_t i = 0; i < n && i < p.size(); ++i)
        if (auto e = validate_json(v[i], p[i], root); !e.empty()) return fmt::format("item {}: {}", i, e);
      first_rest = p.size();
    }
    if (s.contains("items"))
      for (size_t i = first_rest; i < n; ++i)
        if (auto e = validate_json(v[i], s["items"], root); !e.empty()) return fmt::format("item {}: {}", i, e);
    return "";
  }
  if (v.is_object()) {
    if (!has_type("object") || (!typed && s.contains("items"))) return "unexpected object";
    const json props = s.value("properties", json::object());
    for (const auto& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return "missing required " + r.get<std::string>();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (props.contains(it.key())) {
        if (auto e = validate_json(it.value(), props[it.key()], root); !e.empty()) return it.key() + ": " + e;
        continue;
      }
      bool required = false;
      for (const auto& r : s.value("required", json::array())) required = required || r == it.key();
      if (required) continue;
      if (s.contains("additionalProperties")) {
        if (auto e = validate_json(it.value(), s["additionalProperties"], root); !e.empty())
          return "extra key " + it.key() + ": " + e;
      } else if (!props.empty()) {
        return "undeclared key " + it.key();
      }
    }
    return "";
  }
  return "unknown value";
}

}  // namespace pagoda::test
