#pragma once
// Runtime values of the Jinja engine, with Python semantics: None, bool, int,
// float, str, list/tuple, dict (insertion ordered), callables, and Jinja's
// Undefined (which remembers why it is undefined, for the error message).
// Lists and dicts are shared by reference, like Python objects.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace pagoda::chat::jinja {

class Value;
class Interpreter;
struct CallArgs;

// Raised for every template failure. `kind` is the Python exception name
// ("UndefinedError", "TypeError", "TemplateError", ...).
class JinjaError : public std::exception {
 public:
  JinjaError(std::string kind, std::string message)
      : kind_(std::move(kind)), message_(std::move(message)) { rebuild(); }
  const char* what() const noexcept override { return full_.c_str(); }
  const std::string& kind() const { return kind_; }
  const std::string& message() const { return message_; }
  bool has_location() const { return line_ > 0; }
  // Records where the error happened (the innermost node wins).
  void set_location(int line, int column) {
    line_ = line;
    column_ = column;
    rebuild();
  }

 private:
  void rebuild();
  std::string kind_, message_, full_;
  int line_ = 0, column_ = 0;
};

[[noreturn]] void throw_error(std::string kind, std::string message);
[[noreturn]] inline void type_error(std::string message) { throw_error("TypeError", std::move(message)); }

struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
};

// An insertion-ordered dict. Keys are hashed through a canonical string so that
// 1, 1.0 and True are the same key, as in Python.
class DictData {
 public:
  enum class Flavor { dict, namespace_object, loop };
  Flavor flavor = Flavor::dict;

  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
  bool erase(const Value& key);
  size_t size() const;  // defined below Value: pair<Value, Value> needs a complete Value
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  void clear();

 private:
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

using ListPtr = std::shared_ptr<ListData>;
using DictPtr = std::shared_ptr<DictData>;

// A callable: a built-in, a bound method, a macro or a caller() block.
struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};
using FunctionPtr = std::shared_ptr<Function>;

// Why a value is undefined: the message an operation on it raises.
struct UndefinedInfo {
  std::string message;
};

struct NoneType {};

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, function };

  Value() : v_(UndefinedInfo{}) {}
  static Value undefined(std::string message) { return Value(UndefinedInfo{std::move(message)}); }
  static Value none() { return Value(NoneType{}); }
  Value(bool b) : v_(b) {}
  Value(int64_t i) : v_(i) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(ListPtr l) : v_(std::move(l)) {}
  Value(DictPtr d) : v_(std::move(d)) {}
  Value(FunctionPtr f) : v_(std::move(f)) {}

  // A string marked safe (Python markupsafe.Markup): `+` with it escapes the plain side.
  static Value markup(std::string s) {
    Value v(std::move(s));
    v.markup_ = true;
    return v;
  }
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items);
  static Value dict();
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);
  // Converts JSON (objects keep their key order).
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_float() const { return kind() == Kind::floating; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::string; }
  bool is_markup() const { return markup_ && is_string(); }
  bool is_list() const { return kind() == Kind::list; }
  bool is_tuple() const { return is_list() && std::get<ListPtr>(v_)->is_tuple; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_function() const { return kind() == Kind::function; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const ListPtr& as_list() const { return std::get<ListPtr>(v_); }
  const DictPtr& as_dict() const { return std::get<DictPtr>(v_); }
  const FunctionPtr& as_function() const { return std::get<FunctionPtr>(v_); }
  const std::string& undefined_message() const { return std::get<UndefinedInfo>(v_).message; }

  // Numeric value of a bool/int/float (caller checks is_number()).
  double to_double() const;
  // Python truthiness; Undefined is false.
  bool truthy() const;
  // Python str(): None -> "None", True -> "True", lists and dicts as repr.
  std::string str() const;
  // Python repr(): strings quoted.
  std::string repr() const;
  // Python type name for messages ("str", "dict", "NoneType", ...).
  std::string type_name() const;
  // The canonical hash key used by dicts and unique().
  std::string hash_key() const;
  // Throws the UndefinedError this undefined value carries.
  [[noreturn]] void fail_undefined() const;

 private:
  explicit Value(UndefinedInfo u) : v_(std::move(u)) {}
  explicit Value(NoneType n) : v_(n) {}
  std::variant<UndefinedInfo, NoneType, bool, int64_t, double, std::string, ListPtr, DictPtr,
               FunctionPtr>
      v_;
  bool markup_ = false;
};

inline size_t DictData::size() const { return entries_.size(); }

// Arguments of a call: positional then keyword, in source order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Removes and returns the argument at `position` or named `name`, or `fallback`.
  Value take(size_t position, std::string_view name, Value fallback = Value());
  // Removes and returns keyword argument `name`, or `fallback`.
  Value take_keyword(std::string_view name, Value fallback = Value());
  // Like take(), but a missing argument is a TypeError naming `function`.
  Value require(size_t position, std::string_view name, std::string_view function);
  // After all take() calls: fails on arguments nobody consumed.
  void expect_consumed(std::string_view function) const;

 private:
  size_t positional_seen_ = 0;  // 1 + the highest position asked for
};

// Python ==.
bool values_equal(const Value& a, const Value& b);
// Python <, with TypeError for unorderable pairs; returns -1, 0 or 1.
int compare_values(const Value& a, const Value& b);
// Python float repr ("1.0", "1e+16", "0.1").
std::string float_repr(double d);
// Items of an iterable value (list, tuple, dict keys, string characters);
// Undefined iterates as empty; anything else is a TypeError.
std::vector<Value> iterate(const Value& v);
// HTML-escapes & < > " ' as markupsafe does.
std::string html_escape(std::string_view s);
// markupsafe.escape(): Markup values pass through, anything else is escaped into Markup.
Value escape_value(const Value& v);

// Number of Unicode code points in UTF-8 text.
size_t utf8_length(std::string_view s);
// Splits UTF-8 text into code points (each as its own UTF-8 string).
std::vector<std::string> utf8_chars(std::string_view s);

}  // namespace pagoda::chat::jinja
