// Jinja2's built-in tests (`value is name(args)`).
#include <fmt/format.h>

#include <cctype>
#include <unordered_map>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_operators.h"

namespace pagoda::chat::jinja {
namespace {

using Test = bool (*)(Interpreter&, const Value&, CallArgs&);

Value one_arg(CallArgs& a, const char* name) {
  Value v = a.require(0, "other", name);
  a.expect_consumed(name);
  return v;
}

bool t_defined(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("defined");
  return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("undefined");
  return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("none");
  return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("boolean");
  return v.is_bool();
}
bool t_true(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("true");
  return v.is_bool() && v.as_bool();
}
bool t_false(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("false");
  return v.is_bool() && !v.as_bool();
}
bool t_string(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("string");
  return v.is_string();
}
bool t_number(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("number");
  return v.is_number();
}
bool t_integer(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("integer");
  return v.is_int();
}
bool t_float(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("float");
  return v.is_float();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("mapping");
  return v.is_dict() && v.as_dict()->flavor == DictData::Flavor::dict;
}
bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("iterable");
  return v.is_string() || v.is_list() || v.is_undefined() ||
         (v.is_dict() && v.as_dict()->flavor == DictData::Flavor::dict);
}
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("sequence");
  return v.is_string() || v.is_list() || v.is_undefined() ||
         (v.is_dict() && v.as_dict()->flavor == DictData::Flavor::dict);
}
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("callable");
  return v.is_function();
}
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(one_arg(a, "in"), v); }
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return values_equal(v, one_arg(a, "eq")); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !values_equal(v, one_arg(a, "ne")); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg(a, "lt")) < 0; }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg(a, "gt")) > 0; }
bool t_le(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg(a, "le")) <= 0; }
bool t_ge(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg(a, "ge")) >= 0; }

int64_t integer_operand(const Value& v, const char* test) {
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_float()) return to_int64(v);
  if (!v.is_int() && !v.is_bool()) type_error(fmt::format("the '{}' test needs a number, got {}", test, v.type_name()));
  return to_int64(v);
}
bool t_odd(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("odd");
  return integer_operand(v, "odd") % 2 != 0;
}
bool t_even(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("even");
  return integer_operand(v, "even") % 2 == 0;
}
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  int64_t d = integer_operand(a.require(0, "num", "divisibleby"), "divisibleby");
  a.expect_consumed("divisibleby");
  if (d == 0) throw_error("ZeroDivisionError", "integer division or modulo by zero");
  if (d == -1) return true;
  return integer_operand(v, "divisibleby") % d == 0;
}
bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("lower");
  if (!v.is_string()) return false;
  for (unsigned char c : v.as_string())
    if (std::isupper(c)) return false;
  return true;
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("upper");
  if (!v.is_string()) return false;
  for (unsigned char c : v.as_string())
    if (std::islower(c)) return false;
  return true;
}
// Python `is`: identity for containers and callables, value identity for singletons.
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  Value other = one_arg(a, "sameas");
  if (v.kind() != other.kind()) return false;
  if (v.is_list()) return v.as_list() == other.as_list();
  if (v.is_dict()) return v.as_dict() == other.as_dict();
  if (v.is_function()) return v.as_function() == other.as_function();
  return values_equal(v, other);
}
bool t_escaped(Interpreter&, const Value&, CallArgs& a) {
  a.expect_consumed("escaped");
  return false;  // autoescaping is off: no value is markup
}
bool t_filter(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("filter");
  return v.is_string() && is_filter_name(v.as_string());
}
bool t_test(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("test");
  return v.is_string() && is_test_name(v.as_string());
}

const std::unordered_map<std::string, Test>& tests() {
  static const std::unordered_map<std::string, Test> m = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"true", t_true}, {"false", t_false}, {"string", t_string}, {"number", t_number},
      {"integer", t_integer}, {"float", t_float}, {"mapping", t_mapping}, {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"in", t_in}, {"eq", t_eq},
      {"equalto", t_eq}, {"==", t_eq}, {"ne", t_ne}, {"!=", t_ne}, {"lt", t_lt}, {"lessthan", t_lt},
      {"<", t_lt}, {"gt", t_gt}, {"greaterthan", t_gt}, {">", t_gt}, {"le", t_le}, {"<=", t_le},
      {"ge", t_ge}, {">=", t_ge}, {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby},
      {"lower", t_lower}, {"upper", t_upper}, {"sameas", t_sameas}, {"escaped", t_escaped},
      {"filter", t_filter}, {"test", t_test},
  };
  return m;
}

}  // namespace

bool is_test_name(const std::string& name) { return tests().count(name) != 0; }

bool Interpreter::test(const std::string& name, const Value& operand, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw_error("TemplateAssertionError", "No test named '" + name + "'.");
  step();
  return it->second(*this, operand, args);
}

}  // namespace pagoda::chat::jinja
