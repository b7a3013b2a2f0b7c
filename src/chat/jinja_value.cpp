#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace pagoda::chat::jinja {

void JinjaError::rebuild() {
  full_ = kind_ + ": " + message_;
  if (line_ > 0) full_ += fmt::format(" (template line {}, column {})", line_, column_);
}

void throw_error(std::string kind, std::string message) {
  throw JinjaError(std::move(kind), std::move(message));
}

// ---- DictData ----

const Value* DictData::find(const Value& key) const {
  auto it = index_.find(key.hash_key());
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}
Value* DictData::find(const Value& key) {
  auto it = index_.find(key.hash_key());
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}
const Value* DictData::find(std::string_view key) const {
  auto it = index_.find("s:" + std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}
void DictData::set(const Value& key, Value value) {
  std::string hk = key.hash_key();
  auto it = index_.find(hk);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(std::move(hk), entries_.size());
  entries_.emplace_back(key, std::move(value));
}
bool DictData::erase(const Value& key) {
  auto it = index_.find(key.hash_key());
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  // Positions after the erased entry shift down by one: rebuild the index.
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first.hash_key(), i);
  return true;
}
void DictData::clear() {
  entries_.clear();
  index_.clear();
}

// ---- Value ----

Value Value::list(std::vector<Value> items) {
  auto l = std::make_shared<ListData>();
  l->items = std::move(items);
  return Value(std::move(l));
}
Value Value::tuple(std::vector<Value> items) {
  auto l = std::make_shared<ListData>();
  l->items = std::move(items);
  l->is_tuple = true;
  return Value(std::move(l));
}
Value Value::dict() { return Value(std::make_shared<DictData>()); }
Value Value::function(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  auto f = std::make_shared<Function>();
  f->name = std::move(name);
  f->call = std::move(fn);
  return Value(std::move(f));
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null: return none();
    case T::boolean: return Value(j.get<bool>());
    case T::number_integer: return Value(j.get<int64_t>());
    case T::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case T::number_float: return Value(j.get<double>());
    case T::string: return Value(j.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return list(std::move(items));
    }
    case T::object: {
      Value d = dict();
      for (const auto& [k, v] : j.items()) d.as_dict()->set(Value(k), from_json(v));
      return d;
    }
    default: return none();  // binary / discarded: not produced by JSON text
  }
}

double Value::to_double() const {
  switch (kind()) {
    case Kind::boolean: return as_bool() ? 1.0 : 0.0;
    case Kind::integer: return static_cast<double>(as_int());
    case Kind::floating: return as_float();
    default: type_error("expected a number, got " + type_name());
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return as_bool();
    case Kind::integer: return as_int() != 0;
    case Kind::floating: return as_float() != 0.0;
    case Kind::string: return !as_string().empty();
    case Kind::list: return !as_list()->items.empty();
    case Kind::dict: return as_dict()->size() != 0 || as_dict()->flavor != DictData::Flavor::dict;
    case Kind::function: return true;
  }
  return false;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+16": shortest round-trip digits
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out;
  if (exponent >= -5 + 1 && exponent < 16) {
    // Fixed notation, as Python's repr uses for 1e-4 <= |d| < 1e16.
    if (exponent >= 0) {
      if (digits.size() <= static_cast<size_t>(exponent) + 1) {
        out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
      }
    } else {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return negative ? "-" + out : out;
}

static std::string repr_string(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == quote) out += std::string("\\") + static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  out += quote;
  return out;
}

// Depth guard for repr of self-containing lists and dicts.
static thread_local int g_repr_depth = 0;
struct ReprDepthGuard {
  ReprDepthGuard() {
    if (++g_repr_depth > 200) {
      --g_repr_depth;
      throw_error("RecursionError", "maximum recursion depth exceeded while printing a value");
    }
  }
  ~ReprDepthGuard() { --g_repr_depth; }
};

std::string Value::repr() const {
  switch (kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::string: return repr_string(as_string());
    case Kind::list: {
      ReprDepthGuard guard;
      const auto& l = *as_list();
      std::string out = l.is_tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += l.items[i].repr();
      }
      if (l.is_tuple && l.items.size() == 1) out += ",";
      out += l.is_tuple ? ")" : "]";
      return out;
    }
    case Kind::dict: {
      ReprDepthGuard guard;
      const auto& d = *as_dict();
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : d.entries()) {
        if (!first) out += ", ";
        first = false;
        out += k.repr() + ": " + v.repr();
      }
      out += "}";
      if (d.flavor == DictData::Flavor::namespace_object) return "<Namespace " + out + ">";
      if (d.flavor == DictData::Flavor::loop) return "<LoopContext>";
      return out;
    }
    default: return str();
  }
}

std::string Value::str() const {
  switch (kind()) {
    case Kind::undefined: return "";
    case Kind::none: return "None";
    case Kind::boolean: return as_bool() ? "True" : "False";
    case Kind::integer: return std::to_string(as_int());
    case Kind::floating: return float_repr(as_float());
    case Kind::string: return as_string();
    case Kind::function: return "<function " + as_function()->name + ">";
    default: return repr();
  }
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return is_tuple() ? "tuple" : "list";
    case Kind::dict:
      if (as_dict()->flavor == DictData::Flavor::namespace_object) return "Namespace";
      if (as_dict()->flavor == DictData::Flavor::loop) return "LoopContext";
      return "dict";
    case Kind::function: return "function";
  }
  return "object";
}

std::string Value::hash_key() const {
  switch (kind()) {
    case Kind::none: return "none";
    case Kind::boolean: return as_bool() ? "n:1" : "n:0";
    case Kind::integer: return "n:" + std::to_string(as_int());
    case Kind::floating: {
      double d = as_float();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
        return "n:" + std::to_string(static_cast<int64_t>(d));
      return "f:" + float_repr(d);
    }
    case Kind::string: return "s:" + as_string();
    case Kind::list:
      if (is_tuple()) {
        ReprDepthGuard guard;
        std::string out = "t:(";
        for (const auto& e : as_list()->items) out += e.hash_key() + "\x1f";
        return out + ")";
      }
      type_error("unhashable type: 'list'");
    case Kind::dict: type_error("unhashable type: '" + type_name() + "'");
    case Kind::undefined: return "undefined";
    case Kind::function: return fmt::format("fn:{}", static_cast<const void*>(as_function().get()));
  }
  return "";
}

void Value::fail_undefined() const {
  const std::string& m = undefined_message();
  throw_error("UndefinedError", m.empty() ? "value is undefined" : m);
}

// ---- CallArgs ----

Value CallArgs::take(size_t position, std::string_view name, Value fallback) {
  positional_seen_ = std::max(positional_seen_, position + 1);
  if (position < positional.size()) return positional[position];
  for (auto it = keyword.begin(); it != keyword.end(); ++it) {
    if (it->first == name) {
      Value v = std::move(it->second);
      keyword.erase(it);
      return v;
    }
  }
  return fallback;
}

Value CallArgs::take_keyword(std::string_view name, Value fallback) {
  for (auto it = keyword.begin(); it != keyword.end(); ++it) {
    if (it->first == name) {
      Value v = std::move(it->second);
      keyword.erase(it);
      return v;
    }
  }
  return fallback;
}

Value CallArgs::require(size_t position, std::string_view name, std::string_view function) {
  positional_seen_ = std::max(positional_seen_, position + 1);
  if (position < positional.size()) return positional[position];
  for (auto it = keyword.begin(); it != keyword.end(); ++it) {
    if (it->first == name) {
      Value v = std::move(it->second);
      keyword.erase(it);
      return v;
    }
  }
  type_error(fmt::format("{}() missing required argument '{}'", function, name));
}

void CallArgs::expect_consumed(std::string_view function) const {
  if (positional.size() > positional_seen_)
    type_error(fmt::format("{}() takes at most {} positional argument(s) ({} given)", function,
                           positional_seen_, positional.size()));
  if (!keyword.empty())
    type_error(fmt::format("{}() got an unexpected keyword argument '{}'", function,
                           keyword.front().first));
}

// ---- comparisons ----

bool values_equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::undefined:
    case K::none: return true;
    case K::string: return a.as_string() == b.as_string();
    case K::list: {
      const auto& x = *a.as_list();
      const auto& y = *b.as_list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      if (&x == &y) return true;
      ReprDepthGuard guard;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!values_equal(x.items[i], y.items[i])) return false;
      return true;
    }
    case K::dict: {
      const auto& x = *a.as_dict();
      const auto& y = *b.as_dict();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      ReprDepthGuard guard;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (!other || !values_equal(v, *other)) return false;
      }
      return true;
    }
    case K::function: return a.as_function() == b.as_function();
    default: return false;
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.to_double(), y = b.to_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.as_list()->items;
    const auto& y = b.as_list()->items;
    ReprDepthGuard guard;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (values_equal(x[i], y[i])) continue;
      return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  type_error(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(),
                         b.type_name()));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value escape_value(const Value& v) {
  if (v.is_markup()) return v;
  return Value::markup(html_escape(v.str()));
}

// ---- UTF-8 ----

static size_t utf8_char_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;  // stray continuation or invalid byte: one "character"
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) i += std::min(utf8_char_len(s[i]), s.size() - i);
  return n;
}

std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = std::min(utf8_char_len(s[i]), s.size() - i);
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return v.as_list()->items;
    case Value::Kind::dict: {
      std::vector<Value> keys;
      for (const auto& [k, _] : v.as_dict()->entries()) keys.push_back(k);
      return keys;
    }
    case Value::Kind::string: {
      std::vector<Value> chars;
      for (auto& c : utf8_chars(v.as_string())) chars.emplace_back(std::move(c));
      return chars;
    }
    default: type_error("'" + v.type_name() + "' object is not iterable");
  }
}

}  // namespace pagoda::chat::jinja
