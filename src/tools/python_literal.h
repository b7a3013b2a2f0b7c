#pragma once
// Python call lists as Llama 3.2 / Llama 4 write tool calls: [f(a=1, b="x"), g()] with keyword
// arguments whose values are Python literals (str with ' " ''' """ and r/u prefixes and
// escapes, adjacent strings joined, int in any base, float, True/False/None — and JSON's
// true/false/null —, lists, tuples, dicts), converted to JSON values.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::tools {

struct PythonCall {
  std::string name;
  nlohmann::ordered_json arguments;  // an object
};

enum class PythonParse {
  ok,          // text is exactly one call list (possibly empty), nothing after it
  incomplete,  // text is a prefix of a call list: more may complete it
  invalid,     // text can never become a call list
};

// Parses `text`, which must start with '['. Cost O(length); nesting deeper than 64 is invalid.
PythonParse parse_python_calls(std::string_view text, std::vector<PythonCall>& calls);

}  // namespace pagoda::tools
