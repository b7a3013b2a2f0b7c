#include "chat/jinja_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_operators.h"

namespace pagoda::chat::jinja {
namespace {

// One conversion's options, shared by %-formatting and str.format().
struct Spec {
  char fill = ' ';
  char align = 0;  // '<' '>' '^' or 0 (default for the type)
  char sign = '-';
  bool alternate = false;
  bool zero_pad = false;
  size_t width = 0;
  int precision = -1;
  char type = 0;
  char grouping = 0;  // ',' or '_' thousands separator (str.format only)
};

std::string pad(std::string body, const Spec& spec, bool numeric) {
  size_t len = utf8_length(body);
  if (len >= spec.width) return body;
  size_t n = spec.width - len;
  char align = spec.align ? spec.align : (numeric ? '>' : '<');
  if (spec.zero_pad && numeric && align == '>') {
    size_t sign_len = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
    return body.substr(0, sign_len) + std::string(n, '0') + body.substr(sign_len);
  }
  if (align == '<') return body + std::string(n, spec.fill);
  if (align == '^') return std::string(n / 2, spec.fill) + body + std::string(n - n / 2, spec.fill);
  return std::string(n, spec.fill) + body;
}

std::string with_sign(std::string digits, bool negative, const Spec& spec) {
  if (negative) return "-" + digits;
  if (spec.sign == '+') return "+" + digits;
  if (spec.sign == ' ') return " " + digits;
  return digits;
}

std::string format_number(const Value& v, const Spec& spec) {
  char type = spec.type;
  if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o') {
    int64_t i = to_int64(v);
    uint64_t mag = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
    std::string digits = type == 'x'   ? fmt::format("{:x}", mag)
                         : type == 'X' ? fmt::format("{:X}", mag)
                         : type == 'o' ? fmt::format("{:o}", mag)
                                       : fmt::format("{}", mag);
    if (spec.grouping && (type == 'd' || type == 'i')) {
      std::string grouped;
      for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % 3 == 0) grouped += spec.grouping;
        grouped += digits[k];
      }
      digits = std::move(grouped);
    }
    if (spec.alternate && (type == 'x' || type == 'X' || type == 'o'))
      digits = std::string(type == 'o' ? "0o" : (type == 'x' ? "0x" : "0X")) + digits;
    return pad(with_sign(digits, i < 0, spec), spec, true);
  }
  double d = v.to_double();
  int precision = spec.precision < 0 ? 6 : spec.precision;
  std::string body;
  bool negative = std::signbit(d) && !std::isnan(d);
  double mag = std::fabs(d);
  if (std::isinf(mag)) body = (type == 'F' || type == 'E' || type == 'G') ? "INF" : "inf";
  else if (std::isnan(mag)) body = (type == 'F' || type == 'E' || type == 'G') ? "NAN" : "nan";
  else if (type == 'f' || type == 'F') body = fmt::format("{:.{}f}", mag, precision);
  else if (type == 'e') body = fmt::format("{:.{}e}", mag, precision);
  else if (type == 'E') body = fmt::format("{:.{}E}", mag, precision);
  else if (type == 'g') body = fmt::format("{:.{}g}", mag, std::max(precision, 1));
  else if (type == 'G') body = fmt::format("{:.{}G}", mag, std::max(precision, 1));
  else if (type == '%') body = fmt::format("{:.{}f}%", mag * 100, precision);
  else type_error(fmt::format("unsupported format character '{}'", type));
  return pad(with_sign(body, negative, spec), spec, true);
}

// Formats one value for %-style (`%s`, `%5.2f`, ...).
std::string format_percent_one(const Value& v, const Spec& spec) {
  if (v.is_undefined() && spec.type != 's') v.fail_undefined();
  switch (spec.type) {
    case 's':
    case 'r':
    case 'a': {
      std::string s = spec.type == 's' ? v.str() : v.repr();
      if (spec.precision >= 0) {
        auto chars = utf8_chars(s);
        if (chars.size() > static_cast<size_t>(spec.precision)) {
          s.clear();
          for (int i = 0; i < spec.precision; ++i) s += chars[static_cast<size_t>(i)];
        }
      }
      Spec text_spec = spec;
      text_spec.zero_pad = false;
      return pad(s, text_spec, false);
    }
    case 'c':
      if (v.is_string()) return pad(v.as_string(), spec, false);
      return pad(std::string(1, static_cast<char>(to_int64(v))), spec, false);
    default:
      if (!v.is_number())
        type_error(fmt::format("%{} format: a real number is required, not {}", spec.type, v.type_name()));
      return format_number(v, spec);
  }
}

}  // namespace

namespace {
// markupsafe escapes every %-argument of a Markup format except numbers.
Value escape_format_arg(const Value& v) {
  if (v.is_number() || v.is_markup()) return v;
  return Value::markup(html_escape(v.str()));
}
}  // namespace

Value percent_format(Interpreter& in, const Value& format_value, const Value& raw_args) {
  const std::string& f = format_value.as_string();
  const bool markup = format_value.is_markup();
  Value args = raw_args;
  if (markup) {
    if (args.is_tuple()) {
      std::vector<Value> escaped;
      for (const auto& v : args.as_list()->items) escaped.push_back(escape_format_arg(v));
      args = Value::tuple(std::move(escaped));
    } else if (args.is_dict()) {
      Value escaped = Value::dict();
      for (const auto& [k, v] : args.as_dict()->entries()) escaped.as_dict()->set(k, escape_format_arg(v));
      args = escaped;
    } else {
      args = escape_format_arg(args);
    }
  }
  std::vector<Value> positional;
  const DictData* mapping = args.is_dict() ? args.as_dict().get() : nullptr;
  if (args.is_tuple()) positional = args.as_list()->items;
  else positional.push_back(args);
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) throw_error("ValueError", "incomplete format");
    if (f[i] == '%') {
      out += '%';
      continue;
    }
    const Value* arg = nullptr;
    if (f[i] == '(') {
      size_t close = f.find(')', i);
      if (close == std::string::npos) throw_error("ValueError", "incomplete format key");
      if (!mapping) type_error("format requires a mapping");
      arg = mapping->find(std::string_view(f).substr(i + 1, close - i - 1));
      if (!arg) throw_error("KeyError", "'" + f.substr(i + 1, close - i - 1) + "'");
      i = close + 1;
    }
    Spec spec;
    spec.align = '>';
    for (; i < f.size() && std::string_view("-+ #0").find(f[i]) != std::string_view::npos; ++i) {
      if (f[i] == '-') spec.align = '<';
      else if (f[i] == '+') spec.sign = '+';
      else if (f[i] == ' ' && spec.sign != '+') spec.sign = ' ';
      else if (f[i] == '#') spec.alternate = true;
      else if (f[i] == '0') spec.zero_pad = true;
    }
    if (spec.align == '<') spec.zero_pad = false;
    auto number = [&]() -> size_t {
      size_t n = 0;
      if (i < f.size() && f[i] == '*') {
        ++i;
        if (next_arg >= positional.size()) type_error("not enough arguments for format string");
        return static_cast<size_t>(std::max<int64_t>(0, to_int64(positional[next_arg++])));
      }
      for (; i < f.size() && std::isdigit(static_cast<unsigned char>(f[i])); ++i)
        n = std::min<size_t>(n * 10 + static_cast<size_t>(f[i] - '0'), 1u << 20);
      return n;
    };
    spec.width = number();
    if (i < f.size() && f[i] == '.') {
      ++i;
      spec.precision = static_cast<int>(std::min<size_t>(number(), 1000));
    }
    while (i < f.size() && (f[i] == 'l' || f[i] == 'h' || f[i] == 'L')) ++i;
    if (i >= f.size()) throw_error("ValueError", "incomplete format");
    spec.type = f[i];
    if (std::string_view("sradiuxXoeEfFgGc").find(spec.type) == std::string_view::npos)
      throw_error("ValueError", fmt::format("unsupported format character '{}'", spec.type));
    if (!arg) {
      if (mapping && positional.size() == 1 && positional[0].is_dict()) {
        arg = &positional[0];
        ++next_arg;
      } else {
        if (next_arg >= positional.size()) type_error("not enough arguments for format string");
        arg = &positional[next_arg++];
      }
    }
    out += format_percent_one(*arg, spec);
    in.check_string_size(out.size());
  }
  if (!mapping && next_arg < positional.size())
    type_error("not all arguments converted during string formatting");
  return markup ? Value::markup(std::move(out)) : Value(std::move(out));
}

namespace {

Spec parse_format_spec(const std::string& s) {
  Spec spec;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (s.size() >= 2 && is_align(s[1])) {
    spec.fill = s[0];
    spec.align = s[1] == '=' ? '>' : s[1];
    i = 2;
  } else if (!s.empty() && is_align(s[0])) {
    spec.align = s[0] == '=' ? '>' : s[0];
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = s[i++];
  if (i < s.size() && s[i] == '#') spec.alternate = true, ++i;
  if (i < s.size() && s[i] == '0') spec.zero_pad = true, ++i;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i)
    spec.width = std::min<size_t>(spec.width * 10 + static_cast<size_t>(s[i] - '0'), 1u << 20);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) spec.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    spec.precision = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i)
      spec.precision = std::min(spec.precision * 10 + (s[i] - '0'), 1000);
  }
  if (i < s.size()) spec.type = s[i++];
  if (i != s.size()) throw_error("ValueError", "invalid format specifier '" + s + "'");
  return spec;
}

std::string format_with_spec(const Value& v, const std::string& spec_text) {
  if (spec_text.empty()) return v.str();
  Spec spec = parse_format_spec(spec_text);
  if (spec.type == 0 || spec.type == 's') {
    if (spec.type == 0 && v.is_number() && !v.is_bool()) {
      spec.type = v.is_int() ? 'd' : 'g';
      if (v.is_float() && spec.precision < 0) return pad(v.str(), spec, true);
      return format_number(v, spec);
    }
    std::string s = v.str();
    if (spec.precision >= 0) {
      auto chars = utf8_chars(s);
      if (chars.size() > static_cast<size_t>(spec.precision)) {
        s.clear();
        for (int i = 0; i < spec.precision; ++i) s += chars[static_cast<size_t>(i)];
      }
    }
    return pad(s, spec, false);
  }
  if (!v.is_number()) type_error(fmt::format("unknown format code '{}' for object of type '{}'", spec.type, v.type_name()));
  return format_number(v, spec);
}

}  // namespace

std::string str_format(Interpreter& in, const std::string& f, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else throw_error("ValueError", "Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) throw_error("ValueError", "Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    size_t colon = field.find(':');
    if (colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    char conversion = 0;
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 0;
      field.resize(bang);
    }
    size_t name_end = std::min(field.find('.'), field.find('['));
    std::string name = field.substr(0, name_end);
    Value v;
    if (name.empty()) {
      if (auto_index >= args.positional.size()) throw_error("IndexError", "Replacement index out of range");
      v = args.positional[auto_index++];
    } else if (std::all_of(name.begin(), name.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
      size_t idx = std::stoul(name.substr(0, 9));
      if (idx >= args.positional.size()) throw_error("IndexError", "Replacement index out of range");
      v = args.positional[idx];
    } else {
      bool found = false;
      for (const auto& [k, kv] : args.keyword)
        if (k == name) v = kv, found = true;
      if (!found) throw_error("KeyError", "'" + name + "'");
    }
    // Attribute and index chains: {0.name} {0[key]}.
    for (size_t p = name_end; p < field.size();) {
      if (field[p] == '.') {
        size_t e = std::min(field.find('.', p + 1), field.find('[', p + 1));
        v = get_attribute(v, field.substr(p + 1, e - p - 1));
        p = e;
      } else {
        size_t e = field.find(']', p);
        if (e == std::string::npos) throw_error("ValueError", "Missing ']' in format string");
        std::string key = field.substr(p + 1, e - p - 1);
        bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
        v = get_item(v, digits ? Value(static_cast<int64_t>(std::stoll(key.substr(0, 18)))) : Value(key));
        p = e + 1;
      }
      if (v.is_undefined()) v.fail_undefined();
    }
    if (conversion == 'r' || conversion == 'a') v = Value(v.repr());
    else if (conversion == 's') v = Value(v.str());
    out += format_with_spec(v, spec);
    in.check_string_size(out.size());
  }
  return out;
}

// ---- json.dumps ----

namespace {

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else if (c >= 0x80 && ensure_ascii) {
          // Decode one UTF-8 sequence; escape as \uXXXX (surrogate pairs above the BMP).
          size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
          uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : len == 4 ? (c & 0x07) : 0xfffd;
          for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
          i += std::min(len, s.size() - i) - 1;
          if (cp >= 0x10000) {
            cp -= 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
          } else {
            out += fmt::format("\\u{:04x}", cp);
          }
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::string: return k.as_string();
    case Value::Kind::integer: return std::to_string(k.as_int());
    case Value::Kind::floating: return json_float(k.as_float());
    case Value::Kind::boolean: return k.as_bool() ? "true" : "false";
    case Value::Kind::none: return "null";
    default: type_error("keys must be str, int, float, bool or None, not " + k.type_name());
  }
}

void dump(std::string& out, const Value& v, const JsonStyle& style, int level) {
  if (level > 500) throw_error("RecursionError", "maximum recursion depth exceeded while encoding a JSON object");
  auto newline = [&](int lvl) {
    if (!style.indent) return;
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += *style.indent;
  };
  switch (v.kind()) {
    case Value::Kind::none: out += "null"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::integer: out += std::to_string(v.as_int()); return;
    case Value::Kind::floating: out += json_float(v.as_float()); return;
    case Value::Kind::string: append_json_string(out, v.as_string(), style.ensure_ascii); return;
    case Value::Kind::list: {
      const auto& items = v.as_list()->items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        dump(out, items[i], style, level + 1);
      }
      newline(level);
      out += ']';
      return;
    }
    case Value::Kind::dict: {
      const auto& d = *v.as_dict();
      if (d.flavor != DictData::Flavor::dict) type_error("Object of type " + v.type_name() + " is not JSON serializable");
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, val] : d.entries()) entries.emplace_back(json_key(k), &val);
      if (style.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      if (entries.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        append_json_string(out, entries[i].first, style.ensure_ascii);
        out += style.key_separator;
        dump(out, *entries[i].second, style, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
    default: type_error("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& value, const JsonStyle& style) {
  std::string out;
  dump(out, value, style, 0);
  return out;
}

}  // namespace pagoda::chat::jinja
