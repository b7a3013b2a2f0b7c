#include "chat/jinja_operators.h"

#include <fmt/format.h>

#include <cmath>

#include "chat/jinja_format.h"
#include "chat/jinja_interpreter.h"

namespace pagoda::chat::jinja {
namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  type_error(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
}

bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t integral(const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); }

[[noreturn]] void overflow() { throw_error("OverflowError", "integer result too large"); }

Value repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > in.limits().max_output_bytes / s.size() + 1)
      in.check_string_size(in.limits().max_output_bytes + 1);
    in.check_string_size(s.size() * static_cast<size_t>(times));
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return seq.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  const auto& items = seq.as_list()->items;
  if (!items.empty() && static_cast<uint64_t>(times) > in.limits().max_collection_items / items.size() + 1)
    in.check_collection_size(in.limits().max_collection_items + 1);
  in.check_collection_size(items.size() * static_cast<size_t>(times));
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (is_integral(a) && is_integral(b)) {
    int64_t x = integral(a), y = integral(b), r = 0;
    if (op == "+") {
      if (__builtin_add_overflow(x, y, &r)) overflow();
      return Value(r);
    }
    if (op == "-") {
      if (__builtin_sub_overflow(x, y, &r)) overflow();
      return Value(r);
    }
    if (op == "*") {
      if (__builtin_mul_overflow(x, y, &r)) overflow();
      return Value(r);
    }
    if (op == "/") {
      if (y == 0) throw_error("ZeroDivisionError", "division by zero");
      return Value(static_cast<double>(x) / static_cast<double>(y));
    }
    if (op == "//" || op == "%") {
      if (y == 0) throw_error("ZeroDivisionError", "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return Value(int64_t{0});
        overflow();
      }
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors toward -infinity
        q -= 1;
        m += y;
      }
      return Value(op == "//" ? q : m);
    }
    if (op == "**") {
      if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      int64_t result = 1, base = x;
      while (y > 0) {
        if (y & 1)
          if (__builtin_mul_overflow(result, base, &result)) overflow();
        y >>= 1;
        if (y > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
      }
      return Value(result);
    }
  }
  double x = a.to_double(), y = b.to_double();
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "/") {
    if (y == 0) throw_error("ZeroDivisionError", "float division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) throw_error("ZeroDivisionError", "float modulo");
    // CPython's float_divmod.
    double m = std::fmod(x, y);
    double div = (x - m) / y;
    if (m != 0 && ((y < 0) != (m < 0))) {
      m += y;
      div -= 1.0;
    }
    if (op == "%") return Value(m);
    double floored = std::floor(div);
    if (div - floored > 0.5) floored += 1.0;
    return Value(floored);
  }
  if (op == "**") {
    if (x == 0 && y < 0) throw_error("ZeroDivisionError", "0.0 cannot be raised to a negative power");
    return Value(std::pow(x, y));
  }
  unsupported(op, a, b);
}

}  // namespace

int64_t to_int64(const Value& v) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool();
  if (v.is_float()) {
    double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) throw_error("OverflowError", "cannot convert float to integer");
    return static_cast<int64_t>(d);
  }
  type_error("expected an integer, got " + v.type_name());
}

Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.str();
    std::string t = b.str();
    in.check_string_size(s.size() + t.size());
    return Value(s + t);
  }
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      in.check_string_size(a.as_string().size() + b.as_string().size());
      if (a.is_markup() || b.is_markup())  // markupsafe escapes the plain operand
        return Value::markup(escape_value(a).as_string() + escape_value(b).as_string());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      in.check_collection_size(a.as_list()->items.size() + b.as_list()->items.size());
      std::vector<Value> items = a.as_list()->items;
      items.insert(items.end(), b.as_list()->items.begin(), b.as_list()->items.end());
      return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (a.is_string() || a.is_list())
      type_error(fmt::format("can only concatenate {} (not \"{}\") to {}", a.type_name(), b.type_name(),
                             a.type_name()));
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && is_integral(b)) return repeat(in, a, integral(b));
    if (is_integral(a) && (b.is_string() || b.is_list())) return repeat(in, b, integral(a));
    if (a.is_string() || a.is_list())
      type_error("can't multiply sequence by non-int of type '" + b.type_name() + "'");
  }
  if (op == "%" && a.is_string()) return percent_format(in, a, b);
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  unsupported(op, a, b);
}

Value unary_operator(const std::string& op, const Value& a) {
  if (a.is_undefined()) a.fail_undefined();
  if (!a.is_number()) type_error(fmt::format("bad operand type for unary {}: '{}'", op, a.type_name()));
  if (op == "+") return a.is_bool() ? Value(int64_t{a.as_bool()}) : a;
  if (a.is_float()) return Value(-a.as_float());
  int64_t v = integral(a);
  if (v == INT64_MIN) overflow();
  return Value(-v);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string())
        type_error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list:
      for (const auto& v : container.as_list()->items)
        if (values_equal(v, item)) return true;
      return false;
    case Value::Kind::dict: return container.as_dict()->find(item) != nullptr;
    default: type_error("argument of type '" + container.type_name() + "' is not iterable");
  }
}

namespace {

std::string object_type_repr(const Value& obj) {
  if (obj.is_none()) return "None";
  return obj.type_name() + " object";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_type_repr(obj), name));
}

Value bound_method(const Value& self, const std::string& name) {
  return Value::function(name, [self, name](Interpreter& in, CallArgs& args) {
    return call_method(in, self, name, args);
  });
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  if (has_method(obj, name)) return bound_method(obj, name);
  if (obj.is_dict())
    if (const Value* v = obj.as_dict()->find(std::string_view(name))) return *v;
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict()->find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && is_integral(key)) {
    int64_t i = integral(key);
    if (obj.is_list()) {
      const auto& items = obj.as_list()->items;
      int64_t n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
    } else {
      auto chars = utf8_chars(obj.as_string());
      int64_t n = static_cast<int64_t>(chars.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n)
        return obj.is_markup() ? Value::markup(chars[static_cast<size_t>(i)]) : Value(chars[static_cast<size_t>(i)]);
    }
  }
  if (key.is_string()) {
    if (has_method(obj, key.as_string())) return bound_method(obj, key.as_string());
    return missing_attribute(obj, key.as_string());
  }
  return Value::undefined(fmt::format("'{}' has no element {}", object_type_repr(obj), key.repr()));
}

Value slice_value(const Value& obj, const Value* start_v, const Value* stop_v, const Value* step_v) {
  auto opt = [](const Value* v) -> std::optional<int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (!is_integral(*v)) type_error("slice indices must be integers or None");
    return integral(*v);
  };
  int64_t step = opt(step_v).value_or(1);
  if (step == 0) throw_error("ValueError", "slice step cannot be zero");
  std::vector<std::string> chars;
  int64_t n;
  if (obj.is_string()) {
    chars = utf8_chars(obj.as_string());
    n = static_cast<int64_t>(chars.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.as_list()->items.size());
  } else {
    type_error("'" + obj.type_name() + "' object is not subscriptable");
  }
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t if_missing) {
    if (!v) return if_missing;
    int64_t i = *v;
    if (i < 0) {
      i += n;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= n) {
      i = step < 0 ? n - 1 : n;
    }
    return i;
  };
  int64_t start = adjust(opt(start_v), step < 0 ? n - 1 : 0);
  int64_t stop = adjust(opt(stop_v), step < 0 ? -1 : n);
  std::vector<size_t> picks;
  // Stop before `i += step` could overflow (steps may be huge).
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    picks.push_back(static_cast<size_t>(i));
    if (step > 0 ? stop - i <= step : i - stop <= -step) break;
    i += step;
  }
  if (obj.is_string()) {
    std::string out;
    for (size_t i : picks) out += chars[i];
    return obj.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  std::vector<Value> out;
  for (size_t i : picks) out.push_back(obj.as_list()->items[i]);
  return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace pagoda::chat::jinja
