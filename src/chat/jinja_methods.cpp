// Methods of str, list and dict values (`text.strip()`, `d.items()`, ...),
// with Python semantics.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "chat/jinja_format.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_operators.h"
#include "chat/jinja_strings.h"

namespace pagoda::chat::jinja {
namespace {

using Method = Value (*)(Interpreter&, const Value& self, CallArgs& args);

std::string string_arg(const Value& v, std::string_view what) {
  if (!v.is_string()) type_error(fmt::format("{} must be str, not {}", what, v.type_name()));
  return v.as_string();
}

// ---- str ----

Value str_strip_impl(const Value& self, CallArgs& args, bool left, bool right, const char* name) {
  Value chars = args.take(0, "chars", Value::none());
  args.expect_consumed(name);
  if (chars.is_none()) return Value(py_strip(self.as_string(), nullptr, left, right));
  std::string set = string_arg(chars, "strip arg");
  return Value(py_strip(self.as_string(), &set, left, right));
}
Value str_strip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, true, true, "strip"); }
Value str_lstrip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, true, false, "lstrip"); }
Value str_rstrip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, false, true, "rstrip"); }

Value split_impl(Interpreter& in, const Value& self, CallArgs& args, bool from_right) {
  Value sep = args.take(0, "sep", Value::none());
  int64_t maxsplit = to_int64(args.take(1, "maxsplit", Value(-1)));
  args.expect_consumed("split");
  std::vector<std::string> parts;
  if (sep.is_none()) {
    parts = py_split_whitespace(self.as_string(), maxsplit, from_right);
  } else {
    std::string s = string_arg(sep, "separator");
    if (s.empty()) throw_error("ValueError", "empty separator");
    parts = py_split(self.as_string(), s, maxsplit, from_right);
  }
  in.check_collection_size(parts.size());
  std::vector<Value> out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::list(std::move(out));
}
Value str_split(Interpreter& in, const Value& s, CallArgs& a) { return split_impl(in, s, a, false); }
Value str_rsplit(Interpreter& in, const Value& s, CallArgs& a) { return split_impl(in, s, a, true); }

Value affix_impl(const Value& self, CallArgs& args, bool prefix) {
  Value what = args.require(0, prefix ? "prefix" : "suffix", prefix ? "startswith" : "endswith");
  args.expect_consumed(prefix ? "startswith" : "endswith");
  std::vector<Value> options = what.is_tuple() ? what.as_list()->items : std::vector<Value>{what};
  const std::string& s = self.as_string();
  for (const auto& o : options) {
    std::string a = string_arg(o, prefix ? "startswith first arg" : "endswith first arg");
    if (a.size() <= s.size() && (prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0))
      return Value(true);
  }
  return Value(false);
}
Value str_startswith(Interpreter&, const Value& s, CallArgs& a) { return affix_impl(s, a, true); }
Value str_endswith(Interpreter&, const Value& s, CallArgs& a) { return affix_impl(s, a, false); }

Value str_upper(Interpreter&, const Value& s, CallArgs& a) {
  a.expect_consumed("upper");
  return Value(ascii_upper(s.as_string()));
}
Value str_lower(Interpreter&, const Value& s, CallArgs& a) {
  a.expect_consumed("lower");
  return Value(ascii_lower(s.as_string()));
}
Value str_title(Interpreter&, const Value& s, CallArgs& a) {
  a.expect_consumed("title");
  return Value(py_title(s.as_string()));
}
Value str_capitalize(Interpreter&, const Value& s, CallArgs& a) {
  a.expect_consumed("capitalize");
  return Value(py_capitalize(s.as_string()));
}
Value str_swapcase(Interpreter&, const Value& s, CallArgs& a) {
  a.expect_consumed("swapcase");
  std::string out = s.as_string();
  for (char& c : out) {
    if (std::islower(static_cast<unsigned char>(c))) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    else if (std::isupper(static_cast<unsigned char>(c))) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return Value(out);
}

Value str_replace(Interpreter& in, const Value& s, CallArgs& a) {
  std::string old_s = string_arg(a.require(0, "old", "replace"), "replace arg 1");
  std::string new_s = string_arg(a.require(1, "new", "replace"), "replace arg 2");
  int64_t count = to_int64(a.take(2, "count", Value(-1)));
  a.expect_consumed("replace");
  return Value(py_replace(in, s.as_string(), old_s, new_s, count));
}

Value find_impl(const Value& s, CallArgs& a, const char* name, bool from_right, bool must_exist) {
  std::string sub = string_arg(a.require(0, "sub", name), "substring");
  a.expect_consumed(name);
  const std::string& text = s.as_string();
  size_t pos = from_right ? text.rfind(sub) : text.find(sub);
  if (pos == std::string::npos) {
    if (must_exist) throw_error("ValueError", "substring not found");
    return Value(-1);
  }
  return Value(static_cast<int64_t>(utf8_length(std::string_view(text).substr(0, pos))));
}
Value str_find(Interpreter&, const Value& s, CallArgs& a) { return find_impl(s, a, "find", false, false); }
Value str_rfind(Interpreter&, const Value& s, CallArgs& a) { return find_impl(s, a, "rfind", true, false); }
Value str_index(Interpreter&, const Value& s, CallArgs& a) { return find_impl(s, a, "index", false, true); }

Value str_count(Interpreter&, const Value& s, CallArgs& a) {
  std::string sub = string_arg(a.require(0, "sub", "count"), "substring");
  a.expect_consumed("count");
  const std::string& text = s.as_string();
  if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(text) + 1));
  int64_t n = 0;
  for (size_t p = text.find(sub); p != std::string::npos; p = text.find(sub, p + sub.size())) ++n;
  return Value(n);
}

Value str_join(Interpreter& in, const Value& s, CallArgs& a) {
  Value items = a.require(0, "iterable", "join");
  a.expect_consumed("join");
  std::string out;
  bool first = true;
  for (const auto& item : iterate(items)) {
    if (!item.is_string()) type_error("sequence item: expected str instance, " + item.type_name() + " found");
    if (!first) out += s.as_string();
    first = false;
    out += item.as_string();
    in.check_string_size(out.size());
  }
  return Value(std::move(out));
}

Value str_format_method(Interpreter& in, const Value& s, CallArgs& a) { return Value(str_format(in, s.as_string(), a)); }

template <int (*Pred)(int)>
Value char_class(const Value& s, CallArgs& a, const char* name) {
  a.expect_consumed(name);
  const std::string& t = s.as_string();
  if (t.empty()) return Value(false);
  for (unsigned char c : t)
    if (c >= 0x80 || !Pred(c)) return Value(false);
  return Value(true);
}
Value str_isdigit(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isdigit>(s, a, "isdigit"); }
Value str_isnumeric(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isdigit>(s, a, "isnumeric"); }
Value str_isdecimal(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isdigit>(s, a, "isdecimal"); }
Value str_isalpha(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isalpha>(s, a, "isalpha"); }
Value str_isalnum(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isalnum>(s, a, "isalnum"); }
Value str_isspace(Interpreter&, const Value& s, CallArgs& a) { return char_class<std::isspace>(s, a, "isspace"); }

Value case_check(const Value& s, CallArgs& a, const char* name, bool want_upper) {
  a.expect_consumed(name);
  bool any_cased = false;
  for (unsigned char c : s.as_string()) {
    if (std::isupper(c)) {
      if (!want_upper) return Value(false);
      any_cased = true;
    } else if (std::islower(c)) {
      if (want_upper) return Value(false);
      any_cased = true;
    }
  }
  return Value(any_cased);
}
Value str_islower(Interpreter&, const Value& s, CallArgs& a) { return case_check(s, a, "islower", false); }
Value str_isupper(Interpreter&, const Value& s, CallArgs& a) { return case_check(s, a, "isupper", true); }

Value str_splitlines(Interpreter&, const Value& s, CallArgs& a) {
  bool keepends = a.take(0, "keepends", Value(false)).truthy();
  a.expect_consumed("splitlines");
  std::vector<Value> out;
  for (auto& line : py_splitlines(s.as_string(), keepends)) out.emplace_back(std::move(line));
  return Value::list(std::move(out));
}

Value justify(Interpreter& in, const Value& s, CallArgs& a, const char* name, char where) {
  int64_t width = to_int64(a.require(0, "width", name));
  std::string fill = a.take(1, "fillchar", Value(" ")).str();
  a.expect_consumed(name);
  if (utf8_length(fill) != 1) type_error("The fill character must be exactly one character long");
  in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)));
  return Value(py_justify(s.as_string(), width, fill, where));
}
Value str_center(Interpreter& in, const Value& s, CallArgs& a) { return justify(in, s, a, "center", '^'); }
Value str_ljust(Interpreter& in, const Value& s, CallArgs& a) { return justify(in, s, a, "ljust", '<'); }
Value str_rjust(Interpreter& in, const Value& s, CallArgs& a) { return justify(in, s, a, "rjust", '>'); }

Value str_zfill(Interpreter& in, const Value& s, CallArgs& a) {
  int64_t width = to_int64(a.require(0, "width", "zfill"));
  a.expect_consumed("zfill");
  in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)));
  std::string t = s.as_string();
  int64_t len = static_cast<int64_t>(utf8_length(t));
  if (len >= width) return Value(t);
  size_t sign = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  return Value(t.substr(0, sign) + std::string(static_cast<size_t>(width - len), '0') + t.substr(sign));
}

// ---- dict ----

Value dict_items(Interpreter&, const Value& d, CallArgs& a) {
  a.expect_consumed("items");
  std::vector<Value> out;
  for (const auto& [k, v] : d.as_dict()->entries()) out.push_back(Value::tuple({k, v}));
  return Value::list(std::move(out));
}
Value dict_keys(Interpreter&, const Value& d, CallArgs& a) {
  a.expect_consumed("keys");
  std::vector<Value> out;
  for (const auto& [k, v] : d.as_dict()->entries()) out.push_back(k);
  return Value::list(std::move(out));
}
Value dict_values(Interpreter&, const Value& d, CallArgs& a) {
  a.expect_consumed("values");
  std::vector<Value> out;
  for (const auto& [k, v] : d.as_dict()->entries()) out.push_back(v);
  return Value::list(std::move(out));
}
Value dict_get(Interpreter&, const Value& d, CallArgs& a) {
  Value key = a.require(0, "key", "get");
  Value fallback = a.take(1, "default", Value::none());
  a.expect_consumed("get");
  const Value* v = d.as_dict()->find(key);
  return v ? *v : fallback;
}
Value dict_pop(Interpreter& in, const Value& d, CallArgs& a) {
  Value key = a.require(0, "key", "pop");
  bool has_default = a.positional.size() > 1 || !a.keyword.empty();
  Value fallback = a.take(1, "default", Value::none());
  a.expect_consumed("pop");
  const Value* v = d.as_dict()->find(key);
  if (!v) {
    if (has_default) return fallback;
    throw_error("KeyError", key.repr());
  }
  Value result = *v;
  d.as_dict()->erase(key);
  in.note_mutation(d);
  return result;
}
Value dict_setdefault(Interpreter& in, const Value& d, CallArgs& a) {
  Value key = a.require(0, "key", "setdefault");
  Value fallback = a.take(1, "default", Value::none());
  a.expect_consumed("setdefault");
  if (const Value* v = d.as_dict()->find(key)) return *v;
  d.as_dict()->set(key, fallback);
  in.note_mutation(d);
  return fallback;
}
Value dict_update(Interpreter& in, const Value& d, CallArgs& a) {
  for (const auto& other : a.positional) {
    if (other.is_dict()) {
      for (const auto& [k, v] : other.as_dict()->entries()) d.as_dict()->set(k, v);
    } else {
      for (const auto& pair : iterate(other)) {
        auto kv = iterate(pair);
        if (kv.size() != 2) throw_error("ValueError", "dictionary update sequence element has wrong length");
        d.as_dict()->set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.keyword) d.as_dict()->set(Value(k), v);
  in.note_mutation(d);
  return Value::none();
}
Value dict_copy(Interpreter&, const Value& d, CallArgs& a) {
  a.expect_consumed("copy");
  Value out = Value::dict();
  for (const auto& [k, v] : d.as_dict()->entries()) out.as_dict()->set(k, v);
  return out;
}

// ---- list ----

Value list_append(Interpreter& in, const Value& l, CallArgs& a) {
  Value item = a.require(0, "object", "append");
  a.expect_consumed("append");
  in.check_collection_size(l.as_list()->items.size() + 1);
  l.as_list()->items.push_back(std::move(item));
  in.note_mutation(l);
  return Value::none();
}
Value list_extend(Interpreter& in, const Value& l, CallArgs& a) {
  std::vector<Value> items = iterate(a.require(0, "iterable", "extend"));
  a.expect_consumed("extend");
  in.check_collection_size(l.as_list()->items.size() + items.size());
  auto& dst = l.as_list()->items;
  dst.insert(dst.end(), items.begin(), items.end());
  in.note_mutation(l);
  return Value::none();
}
Value list_insert(Interpreter& in, const Value& l, CallArgs& a) {
  int64_t index = to_int64(a.require(0, "index", "insert"));
  Value item = a.require(1, "object", "insert");
  a.expect_consumed("insert");
  auto& items = l.as_list()->items;
  in.check_collection_size(items.size() + 1);
  int64_t n = static_cast<int64_t>(items.size());
  if (index < 0) index = std::max<int64_t>(0, index + n);
  index = std::min(index, n);
  items.insert(items.begin() + index, std::move(item));
  in.note_mutation(l);
  return Value::none();
}
Value list_pop(Interpreter&, const Value& l, CallArgs& a) {
  int64_t index = to_int64(a.take(0, "index", Value(-1)));
  a.expect_consumed("pop");
  auto& items = l.as_list()->items;
  int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) throw_error("IndexError", "pop from empty list");
  if (index < 0) index += n;
  if (index < 0 || index >= n) throw_error("IndexError", "pop index out of range");
  Value v = items[static_cast<size_t>(index)];
  items.erase(items.begin() + index);
  return v;
}
Value list_remove(Interpreter&, const Value& l, CallArgs& a) {
  Value x = a.require(0, "value", "remove");
  a.expect_consumed("remove");
  auto& items = l.as_list()->items;
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (values_equal(*it, x)) {
      items.erase(it);
      return Value::none();
    }
  }
  throw_error("ValueError", "list.remove(x): x not in list");
}
Value list_index(Interpreter&, const Value& l, CallArgs& a) {
  Value x = a.require(0, "value", "index");
  a.expect_consumed("index");
  const auto& items = l.as_list()->items;
  for (size_t i = 0; i < items.size(); ++i)
    if (values_equal(items[i], x)) return Value(static_cast<int64_t>(i));
  throw_error("ValueError", x.repr() + " is not in list");
}
Value list_count(Interpreter&, const Value& l, CallArgs& a) {
  Value x = a.require(0, "value", "count");
  a.expect_consumed("count");
  int64_t n = 0;
  for (const auto& v : l.as_list()->items) n += values_equal(v, x);
  return Value(n);
}
Value list_reverse(Interpreter&, const Value& l, CallArgs& a) {
  a.expect_consumed("reverse");
  std::reverse(l.as_list()->items.begin(), l.as_list()->items.end());
  return Value::none();
}
Value list_copy(Interpreter&, const Value& l, CallArgs& a) {
  a.expect_consumed("copy");
  return Value::list(l.as_list()->items);
}
Value list_clear(Interpreter&, const Value& l, CallArgs& a) {
  a.expect_consumed("clear");
  l.as_list()->items.clear();
  return Value::none();
}

const std::unordered_map<std::string, Method>& string_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"strip", str_strip}, {"lstrip", str_lstrip}, {"rstrip", str_rstrip}, {"split", str_split},
      {"rsplit", str_rsplit}, {"startswith", str_startswith}, {"endswith", str_endswith},
      {"upper", str_upper}, {"lower", str_lower}, {"title", str_title}, {"capitalize", str_capitalize},
      {"swapcase", str_swapcase}, {"replace", str_replace}, {"find", str_find}, {"rfind", str_rfind},
      {"index", str_index}, {"count", str_count}, {"join", str_join}, {"format", str_format_method},
      {"isdigit", str_isdigit}, {"isnumeric", str_isnumeric}, {"isdecimal", str_isdecimal},
      {"isalpha", str_isalpha}, {"isalnum", str_isalnum}, {"isspace", str_isspace},
      {"islower", str_islower}, {"isupper", str_isupper}, {"splitlines", str_splitlines},
      {"center", str_center}, {"ljust", str_ljust}, {"rjust", str_rjust}, {"zfill", str_zfill},
  };
  return m;
}

const std::unordered_map<std::string, Method>& dict_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"items", dict_items}, {"keys", dict_keys}, {"values", dict_values}, {"get", dict_get},
      {"pop", dict_pop}, {"setdefault", dict_setdefault}, {"update", dict_update}, {"copy", dict_copy},
  };
  return m;
}

const std::unordered_map<std::string, Method>& list_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"append", list_append}, {"extend", list_extend}, {"insert", list_insert}, {"pop", list_pop},
      {"remove", list_remove}, {"index", list_index}, {"count", list_count}, {"reverse", list_reverse},
      {"copy", list_copy}, {"clear", list_clear},
  };
  return m;
}

const std::unordered_map<std::string, Method>& tuple_methods() {
  static const std::unordered_map<std::string, Method> m = {{"index", list_index}, {"count", list_count}};
  return m;
}

const std::unordered_map<std::string, Method>* methods_of(const Value& v) {
  if (v.is_string()) return &string_methods();
  if (v.is_tuple()) return &tuple_methods();
  if (v.is_list()) return &list_methods();
  if (v.is_dict() && v.as_dict()->flavor == DictData::Flavor::dict) return &dict_methods();
  return nullptr;
}

}  // namespace

bool has_method(const Value& self, const std::string& name) {
  const auto* table = methods_of(self);
  return table && table->count(name);
}

Value call_method(Interpreter& interp, const Value& self, const std::string& name, CallArgs& args) {
  const auto* table = methods_of(self);
  auto it = table ? table->find(name) : decltype(table->end()){};
  if (!table || it == table->end())
    throw_error("UndefinedError", fmt::format("'{} object' has no attribute '{}'", self.type_name(), name));
  Value result = it->second(interp, self, args);
  // Markup's str methods return Markup.
  if (self.is_markup() && result.is_string() && !result.is_markup()) return Value::markup(result.as_string());
  return result;
}

}  // namespace pagoda::chat::jinja
