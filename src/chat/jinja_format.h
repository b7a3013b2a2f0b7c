#pragma once
// Python string formatting used by templates: `"%s" % x`, str.format(), and
// json.dumps (the `tojson` filter as transformers defines it).
#include <optional>
#include <string>

#include "chat/jinja_value.h"

namespace pagoda::chat::jinja {

// Python `fmt % args` (args: a tuple, a dict for %(name)s, or one value).
// A Markup `fmt` escapes the arguments and yields Markup, as markupsafe does.
Value percent_format(Interpreter& in, const Value& fmt, const Value& args);

// Python `fmt.format(*args, **kwargs)`.
std::string str_format(Interpreter& in, const std::string& fmt, CallArgs& args);

struct JsonStyle {
  std::optional<std::string> indent;  // null: one line; else newline + indent per level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};

// Python json.dumps(value, ...) byte for byte; Undefined and callables are TypeErrors.
std::string to_json(const Value& value, const JsonStyle& style);

}  // namespace pagoda::chat::jinja
