// Metadata values: constructors, typed views and human-readable rendering.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "gguf/gguf.h"

namespace pagoda::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

size_t Array::size() const {
  switch (elem_type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
    case ValueType::BOOL: return uints.size();
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return ints.size();
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return floats.size();
    case ValueType::STRING: return strings.size();
    case ValueType::ARRAY: return arrays.size();
  }
  return 0;
}

Value Value::string(std::string v) {
  Value out;
  out.type_ = ValueType::STRING;
  out.s_ = std::make_shared<const std::string>(std::move(v));
  return out;
}

Value Value::array(Array a) {
  Value out;
  out.type_ = ValueType::ARRAY;
  out.a_ = std::make_shared<const Array>(std::move(a));
  return out;
}

Value Value::string_array(std::vector<std::string> v) {
  Array a;
  a.elem_type = ValueType::STRING;
  a.strings = std::move(v);
  return array(std::move(a));
}

Value Value::f32_array(std::vector<float> v) {
  Array a;
  a.elem_type = ValueType::FLOAT32;
  a.floats.assign(v.begin(), v.end());
  return array(std::move(a));
}

Value Value::i32_array(std::vector<int32_t> v) {
  Array a;
  a.elem_type = ValueType::INT32;
  a.ints.assign(v.begin(), v.end());
  return array(std::move(a));
}

namespace {
bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
         t == ValueType::INT64;
}
bool is_unsigned_type(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}

// Appends `s` as a double-quoted string with control characters and quotes escaped.
void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\x{:02x}", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string format_float(ValueType t, double f) {
  if (t == ValueType::FLOAT32) return fmt::format("{}", static_cast<float>(f));
  return fmt::format("{}", f);
}

void append_array(std::string& out, const Array& a, size_t max_items) {
  const size_t n = a.size();
  const size_t shown = n < max_items ? n : max_items;
  out += '[';
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    switch (a.elem_type) {
      case ValueType::BOOL: out += a.uints[i] ? "true" : "false"; break;
      case ValueType::STRING: append_quoted(out, a.strings[i]); break;
      case ValueType::ARRAY: out += a.arrays[i].to_string(max_items); break;
      case ValueType::FLOAT32:
      case ValueType::FLOAT64: out += format_float(a.elem_type, a.floats[i]); break;
      default:
        if (is_signed_type(a.elem_type)) {
          out += fmt::format("{}", a.ints[i]);
        } else {
          out += fmt::format("{}", a.uints[i]);
        }
    }
  }
  if (shown < n) out += fmt::format("{}... ({} items)", shown ? ", " : "", n);
  out += ']';
}
}  // namespace

bool Value::is_integer() const { return is_signed_type(type_) || is_unsigned_type(type_); }

std::optional<int64_t> Value::as_int() const {
  if (is_signed_type(type_)) return i_;
  if (is_unsigned_type(type_) && u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(u_);
  return std::nullopt;
}

std::optional<uint64_t> Value::as_uint() const {
  if (is_unsigned_type(type_)) return u_;
  if (is_signed_type(type_) && i_ >= 0) return static_cast<uint64_t>(i_);
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (is_float()) return f_;
  if (is_signed_type(type_)) return static_cast<double>(i_);
  if (is_unsigned_type(type_)) return static_cast<double>(u_);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type_ == ValueType::BOOL) return u_ != 0;
  return std::nullopt;
}

const std::string* Value::as_string() const {
  return type_ == ValueType::STRING ? s_.get() : nullptr;
}

const Array* Value::as_array() const { return type_ == ValueType::ARRAY ? a_.get() : nullptr; }

std::string Value::to_string(size_t max_items) const {
  std::string out;
  switch (type_) {
    case ValueType::BOOL: return u_ ? "true" : "false";
    case ValueType::STRING:
      append_quoted(out, s_ ? std::string_view(*s_) : std::string_view());
      return out;
    case ValueType::ARRAY:
      if (a_) {
        append_array(out, *a_, max_items);
      } else {
        out = "[]";
      }
      return out;
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return format_float(type_, f_);
    default: return is_signed_type(type_) ? fmt::format("{}", i_) : fmt::format("{}", u_);
  }
}

}  // namespace pagoda::gguf
