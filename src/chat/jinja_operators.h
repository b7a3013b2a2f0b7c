#pragma once
// Python semantics for Jinja operators, attribute/item lookup and slicing.
#include <string>

#include "chat/jinja_value.h"

namespace pagoda::chat::jinja {

// + - * / // % ** ~ on evaluated operands (and/or are short-circuited by the caller).
Value binary_operator(Interpreter& interp, const std::string& op, const Value& a, const Value& b);
// Unary - and + (not is handled by the caller).
Value unary_operator(const std::string& op, const Value& a);
// Python `item in container`; Undefined containers hold nothing.
bool contains(const Value& container, const Value& item);
// `obj.name`: methods first, then items (Jinja's getattr); Undefined when missing.
Value get_attribute(const Value& obj, const std::string& name);
// `obj[key]`: items first, then attributes; Undefined when missing.
Value get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]` on strings, lists and tuples; null parts are omitted.
Value slice_value(const Value& obj, const Value* start, const Value* stop, const Value* step);
// Python int() of a bool/int/float value (floats truncate; errors on overflow).
int64_t to_int64(const Value& v);

// True when `name` is a method of `self`'s type (str, list, dict).
bool has_method(const Value& self, const std::string& name);
// Calls method `name` of `self`; TypeError/UndefinedError when there is none.
Value call_method(Interpreter& interp, const Value& self, const std::string& name, CallArgs& args);

}  // namespace pagoda::chat::jinja
