// Jinja2's built-in filters (`value | name(args)`), plus transformers' tojson.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "chat/jinja_format.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_operators.h"
#include "chat/jinja_strings.h"

namespace pagoda::chat::jinja {
namespace {

using Filter = Value (*)(Interpreter&, const Value&, CallArgs&);

// Jinja's attribute getter: "a.b.0" walks items first, then attributes.
Value lookup_path(const Value& v, const Value& path) {
  if (!path.is_string()) return get_item(v, path);
  Value cur = v;
  for (const auto& part : py_split(path.as_string(), ".", -1, false)) {
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (cur.is_undefined()) return cur;
    cur = digits && part.size() < 18 ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part)))) : get_item(cur, Value(part));
  }
  return cur;
}

// Sort key with Jinja's case-insensitive default.
Value fold_case(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(ascii_lower(v.as_string()));
  return v;
}

std::string text_of(const Value& v) { return v.str(); }

// Filters that keep a Markup input Markup (soft_str in Jinja).
Value same_flavor(const Value& input, std::string text) {
  return input.is_markup() ? Value::markup(std::move(text)) : Value(std::move(text));
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("abs");
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    int64_t i = to_int64(v);
    if (i == INT64_MIN) throw_error("OverflowError", "integer result too large");
    return Value(i < 0 ? -i : i);
  }
  if (v.is_undefined()) v.fail_undefined();
  type_error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
  Value name = a.require(0, "name", "attr");
  a.expect_consumed("attr");
  return get_attribute(v, name.str());
}

Value f_batch(Interpreter& in, const Value& v, CallArgs& a) {
  int64_t size = to_int64(a.require(0, "linecount", "batch"));
  Value fill = a.take(1, "fill_with", Value::none());
  a.expect_consumed("batch");
  if (size <= 0) throw_error("ValueError", "batch size must be positive");
  std::vector<Value> out, row;
  for (const auto& item : iterate(v)) {
    row.push_back(item);
    if (static_cast<int64_t>(row.size()) == size) out.push_back(Value::list(std::exchange(row, {})));
  }
  if (!row.empty()) {
    if (!fill.is_none()) {
      in.check_collection_size(static_cast<size_t>(size));
      while (static_cast<int64_t>(row.size()) < size) row.push_back(fill);
    }
    out.push_back(Value::list(std::move(row)));
  }
  return Value::list(std::move(out));
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("capitalize");
  return same_flavor(v, py_capitalize(text_of(v)));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
  int64_t width = to_int64(a.take(0, "width", Value(80)));
  a.expect_consumed("center");
  in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)));
  return same_flavor(v, py_justify(text_of(v), width, " ", '^'));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  Value fallback = a.take(0, "default_value", Value(""));
  bool boolean = a.take(1, "boolean", Value(false)).truthy();
  a.expect_consumed("default");
  if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
  return v;
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  bool case_sensitive = a.take(0, "case_sensitive", Value(false)).truthy();
  std::string by = a.take(1, "by", Value("key")).str();
  bool reverse = a.take(2, "reverse", Value(false)).truthy();
  a.expect_consumed("dictsort");
  if (!v.is_dict()) type_error("dictsort expects a mapping, got " + v.type_name());
  if (by != "key" && by != "value") throw_error("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.as_dict()->entries()) pairs.push_back(Value::tuple({k, val}));
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    int c = compare_values(fold_case(x.as_list()->items[pos], case_sensitive), fold_case(y.as_list()->items[pos], case_sensitive));
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(pairs));
}

Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("escape");
  return escape_value(v);
}

Value f_forceescape(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("forceescape");
  return Value::markup(html_escape(text_of(v)));
}

Value f_first(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("first");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("last");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

std::optional<double> parse_float(const std::string& text) {
  std::string s = py_strip(text, nullptr, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  Value fallback = a.take(0, "default", Value(0.0));
  a.expect_consumed("float");
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string())
    if (auto d = parse_float(v.as_string())) return Value(*d);
  return fallback;
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  Value fallback = a.take(0, "default", Value(0));
  int64_t base = to_int64(a.take(1, "base", Value(10)));
  a.expect_consumed("int");
  if (v.is_number()) {
    if (v.is_float() && (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) >= 9.2e18)) return fallback;
    return Value(to_int64(v));
  }
  if (!v.is_string()) return fallback;
  std::string s = py_strip(v.as_string(), nullptr, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (base >= 2 && base <= 36 && !s.empty()) {
    errno = 0;
    char* end = nullptr;
    long long i = std::strtoll(s.c_str(), &end, static_cast<int>(base));
    if (errno == 0 && end == s.c_str() + s.size()) return Value(static_cast<int64_t>(i));
  }
  if (auto d = parse_float(s); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value(static_cast<int64_t>(*d));
  return fallback;
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
  if (!a.keyword.empty()) {
    Value mapping = Value::dict();
    for (const auto& [k, val] : a.keyword) mapping.as_dict()->set(Value(k), val);
    return percent_format(in, same_flavor(v, text_of(v)), mapping);
  }
  return percent_format(in, same_flavor(v, text_of(v)), Value::tuple(a.positional));
}

// Groups sorted by the attribute; each group is a (grouper, items) tuple.
Value f_groupby(Interpreter&, const Value& v, CallArgs& a) {
  Value attribute = a.require(0, "attribute", "groupby");
  Value fallback = a.take(1, "default", Value());
  bool case_sensitive = a.take(2, "case_sensitive", Value(false)).truthy();
  a.expect_consumed("groupby");
  auto raw_key = [&](const Value& x) {
    Value k = lookup_path(x, attribute);
    return k.is_undefined() && !fallback.is_undefined() ? fallback : k;
  };
  auto items = iterate(v);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return compare_values(fold_case(raw_key(x), case_sensitive), fold_case(raw_key(y), case_sensitive)) < 0;
  });
  std::vector<Value> groups;
  std::vector<Value> current;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && !values_equal(fold_case(raw_key(items[i]), case_sensitive),
                               fold_case(raw_key(items[i - 1]), case_sensitive))) {
      Value grouper = raw_key(current.front());
      groups.push_back(Value::tuple({grouper, Value::list(std::exchange(current, {}))}));
    }
    current.push_back(items[i]);
  }
  if (!current.empty()) {
    Value grouper = raw_key(current.front());
    groups.push_back(Value::tuple({grouper, Value::list(std::move(current))}));
  }
  return Value::list(std::move(groups));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
  Value width = a.take(0, "width", Value(4));
  bool first = a.take(1, "first", Value(false)).truthy();
  bool blank = a.take(2, "blank", Value(false)).truthy();
  a.expect_consumed("indent");
  std::string indention = width.is_string() ? width.as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(to_int64(width), 0, 4096)), ' ');
  std::string s = text_of(v) + "\n";  // Jinja's own quirk, kept for identical output
  auto lines = py_splitlines(s, false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += "\n";
      if (blank || !lines[i].empty()) out += indention;
    }
    out += lines[i];
    in.check_string_size(out.size());
  }
  if (first) out = indention + out;
  return same_flavor(v, std::move(out));
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("items");
  if (v.is_undefined()) return Value::list();
  if (!v.is_dict()) type_error("items filter expects a mapping, got " + v.type_name());
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict()->entries()) out.push_back(Value::tuple({k, val}));
  return Value::list(std::move(out));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  std::string sep = text_of(a.take(0, "d", Value("")));
  Value attribute = a.take(1, "attribute", Value::none());
  a.expect_consumed("join");
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += text_of(attribute.is_none() ? item : lookup_path(item, attribute));
    in.check_string_size(out.size());
  }
  return Value(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("length");
  switch (v.kind()) {
    case Value::Kind::undefined: return Value(0);
    case Value::Kind::string: return Value(static_cast<int64_t>(utf8_length(v.as_string())));
    case Value::Kind::list: return Value(static_cast<int64_t>(v.as_list()->items.size()));
    case Value::Kind::dict: return Value(static_cast<int64_t>(v.as_dict()->size()));
    default: type_error("object of type '" + v.type_name() + "' has no len()");
  }
}

Value f_list(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("list");
  return Value::list(iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("lower");
  return same_flavor(v, ascii_lower(text_of(v)));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("upper");
  return same_flavor(v, ascii_upper(text_of(v)));
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::list();  // Jinja: `if value:` before iterating
  Value attribute = a.take_keyword("attribute");
  if (!attribute.is_undefined()) {
    Value fallback = a.take_keyword("default");
    a.expect_consumed("map");
    for (const auto& item : iterate(v)) {
      Value x = lookup_path(item, attribute);
      out.push_back(x.is_undefined() && !fallback.is_undefined() ? fallback : x);
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty()) type_error("map requires a filter name or attribute=");
  std::string name = text_of(a.positional[0]);
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& item : iterate(v)) {
    CallArgs each = rest;
    out.push_back(in.filter(name, item, each));
  }
  return Value::list(std::move(out));
}

Value aggregate(const Value& v, CallArgs& a, const char* name, bool want_max) {
  bool case_sensitive = a.take(0, "case_sensitive", Value(false)).truthy();
  Value attribute = a.take(1, "attribute", Value::none());
  a.expect_consumed(name);
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) { return fold_case(attribute.is_none() ? x : lookup_path(x, attribute), case_sensitive); };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    int c = compare_values(key(items[i]), key(items[best]));
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}
Value f_max(Interpreter&, const Value& v, CallArgs& a) { return aggregate(v, a, "max", true); }
Value f_min(Interpreter&, const Value& v, CallArgs& a) { return aggregate(v, a, "min", false); }

Value f_pprint(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("pprint");
  return Value(v.repr());
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  std::string old_s = text_of(a.require(0, "old", "replace"));
  std::string new_s = text_of(a.require(1, "new", "replace"));
  Value count = a.take(2, "count", Value::none());
  a.expect_consumed("replace");
  return Value(py_replace(in, text_of(v), old_s, new_s, count.is_none() ? -1 : to_int64(count)));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("reverse");
  if (v.is_string()) {
    auto chars = utf8_chars(v.as_string());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return Value(std::move(out));
  }
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  int64_t precision = to_int64(a.take(0, "precision", Value(0)));
  std::string method = text_of(a.take(1, "method", Value("common")));
  a.expect_consumed("round");
  if (!v.is_number()) type_error("round expects a number, got " + v.type_name());
  double x = v.to_double();
  precision = std::clamp<int64_t>(precision, -300, 300);
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "ceil") return Value(std::ceil(x * scale) / scale);
  if (method == "floor") return Value(std::floor(x * scale) / scale);
  if (method != "common") throw_error("FilterArgumentError", "method must be common, ceil or floor");
  if (!v.is_float()) return Value(to_int64(v));  // Python's round() keeps ints
  if (precision < 0 || !std::isfinite(x)) {
    double r = std::nearbyint(x * scale);  // ties to even, like Python
    return Value(r / scale);
  }
  // Python rounds the exact binary value to `precision` decimals, ties to
  // even; printf's correctly rounded conversion does the same.
  return Value(std::strtod(fmt::format("{:.{}f}", x, precision).c_str(), nullptr));
}

Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool keep, bool by_attribute) {
  size_t first_arg = 0;
  Value attribute;
  if (by_attribute) {
    if (a.positional.empty()) type_error("selectattr/rejectattr need an attribute name");
    attribute = a.positional[0];
    first_arg = 1;
  }
  std::string test_name;
  CallArgs test_args;
  if (a.positional.size() > first_arg) {
    test_name = text_of(a.positional[first_arg]);
    test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(first_arg) + 1, a.positional.end());
    test_args.keyword = a.keyword;
  }
  std::vector<Value> out;
  if (!v.truthy()) return Value::list();  // Jinja: `if value:` before iterating
  for (const auto& item : iterate(v)) {
    Value subject = by_attribute ? lookup_path(item, attribute) : item;
    bool passed;
    if (test_name.empty()) {
      passed = subject.truthy();
    } else {
      CallArgs each = test_args;
      passed = in.test(test_name, subject, each);
    }
    if (passed == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("safe");
  return v.is_markup() ? v : Value::markup(text_of(v));
}

Value f_slice(Interpreter& in, const Value& v, CallArgs& a) {
  int64_t slices = to_int64(a.require(0, "slices", "slice"));
  Value fill = a.take(1, "fill_with", Value::none());
  a.expect_consumed("slice");
  if (slices <= 0) throw_error("ValueError", "slice count must be positive");
  in.check_collection_size(static_cast<size_t>(slices));
  auto items = iterate(v);
  size_t n = items.size(), k = static_cast<size_t>(slices);
  size_t per = n / k, extra = n % k, offset = 0;
  std::vector<Value> out;
  for (size_t i = 0; i < k; ++i) {
    size_t len = per + (i < extra ? 1 : 0);
    std::vector<Value> part(items.begin() + static_cast<std::ptrdiff_t>(offset), items.begin() + static_cast<std::ptrdiff_t>(offset + len));
    offset += len;
    if (!fill.is_none() && i >= extra && extra > 0) part.push_back(fill);
    out.push_back(Value::list(std::move(part)));
  }
  return Value::list(std::move(out));
}

Value f_sort(Interpreter&, const Value& v, CallArgs& a) {
  bool reverse = a.take(0, "reverse", Value(false)).truthy();
  bool case_sensitive = a.take(1, "case_sensitive", Value(false)).truthy();
  Value attribute = a.take(2, "attribute", Value::none());
  a.expect_consumed("sort");
  auto items = iterate(v);
  auto key = [&](const Value& x) { return fold_case(attribute.is_none() ? x : lookup_path(x, attribute), case_sensitive); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    int c = compare_values(key(x), key(y));
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(items));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("string");
  return same_flavor(v, text_of(v));
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  Value attribute = a.take(0, "attribute", Value::none());
  Value total = a.take(1, "start", Value(0));
  a.expect_consumed("sum");
  for (const auto& item : iterate(v))
    total = binary_operator(in, "+", total, attribute.is_none() ? item : lookup_path(item, attribute));
  return total;
}

Value f_title(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("title");
  return same_flavor(v, jinja_title(text_of(v)));
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  Value indent = a.take(0, "indent", Value::none());
  Value separators = a.take(1, "separators", Value::none());
  bool sort_keys = a.take(2, "sort_keys", Value(false)).truthy();
  bool ensure_ascii = a.take(3, "ensure_ascii", Value(false)).truthy();
  a.expect_consumed("tojson");
  if (v.is_undefined()) type_error("Object of type Undefined is not JSON serializable");
  JsonStyle style;
  style.sort_keys = sort_keys;
  style.ensure_ascii = ensure_ascii;
  if (!indent.is_none()) {
    style.indent = indent.is_string() ? indent.as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(to_int64(indent), 0, 64)), ' ');
    style.item_separator = ",";
  }
  if (!separators.is_none()) {
    auto parts = iterate(separators);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string())
      type_error("separators must be a pair of strings");
    style.item_separator = parts[0].as_string();
    style.key_separator = parts[1].as_string();
  }
  return Value(to_json(v, style));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  Value chars = a.take(0, "chars", Value::none());
  a.expect_consumed("trim");
  if (chars.is_none()) return same_flavor(v, py_strip(text_of(v), nullptr, true, true));
  std::string set = text_of(chars);
  return same_flavor(v, py_strip(text_of(v), &set, true, true));
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& a) {
  int64_t length = to_int64(a.take(0, "length", Value(255)));
  bool killwords = a.take(1, "killwords", Value(false)).truthy();
  std::string end = text_of(a.take(2, "end", Value("...")));
  Value leeway_v = a.take(3, "leeway", Value(5));
  a.expect_consumed("truncate");
  int64_t leeway = leeway_v.is_none() ? 5 : to_int64(leeway_v);
  auto chars = utf8_chars(text_of(v));
  int64_t n = static_cast<int64_t>(chars.size());
  int64_t end_len = static_cast<int64_t>(utf8_length(end));
  if (length < end_len) throw_error("FilterArgumentError", "expected length >= len(end)");
  if (n <= length + leeway) return Value(text_of(v));
  std::string head;
  for (int64_t i = 0; i < length - end_len; ++i) head += chars[static_cast<size_t>(i)];
  if (killwords) return Value(head + end);
  size_t space = head.rfind(' ');
  if (space != std::string::npos) head.resize(space);
  return Value(head + end);
}

Value f_unique(Interpreter&, const Value& v, CallArgs& a) {
  bool case_sensitive = a.take(0, "case_sensitive", Value(false)).truthy();
  Value attribute = a.take(1, "attribute", Value::none());
  a.expect_consumed("unique");
  std::vector<Value> out;
  std::unordered_map<std::string, bool> seen;
  for (const auto& item : iterate(v)) {
    Value key = fold_case(attribute.is_none() ? item : lookup_path(item, attribute), case_sensitive);
    if (seen.emplace(key.hash_key(), true).second) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
  a.expect_consumed("wordcount");
  std::string s = text_of(v);
  int64_t n = 0;
  bool in_word = false;
  for (unsigned char c : s) {
    bool word_char = std::isalnum(c) || c == '_' || c >= 0x80;
    if (word_char && !in_word) ++n;
    in_word = word_char;
  }
  return Value(n);
}

const std::unordered_map<std::string, Filter>& filters() {
  static const std::unordered_map<std::string, Filter> m = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
      {"center", f_center}, {"count", f_length}, {"d", f_default}, {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape}, {"forceescape", f_forceescape},
      {"first", f_first}, {"float", f_float}, {"format", f_format}, {"groupby", f_groupby}, {"indent", f_indent},
      {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
      {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
      {"pprint", f_pprint}, {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
      {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
      {"selectattr", f_selectattr}, {"slice", f_slice}, {"sort", f_sort}, {"string", f_string},
      {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique}, {"upper", f_upper}, {"wordcount", f_wordcount},
  };
  return m;
}

}  // namespace

bool is_filter_name(const std::string& name) { return filters().count(name) != 0; }

Value Interpreter::filter(const std::string& name, const Value& operand, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw_error("TemplateAssertionError", "No filter named '" + name + "'.");
  step();
  return it->second(*this, operand, args);
}

}  // namespace pagoda::chat::jinja
