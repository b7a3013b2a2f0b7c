#pragma once
// Builds the syntax tree of a template from its tokens, following Jinja2's
// grammar and operator precedence.
#include <string_view>

#include "chat/jinja_ast.h"

namespace pagoda::chat::jinja {

// Deepest nesting of expressions or blocks the parser accepts (hostile input
// must not exhaust the native stack).
inline constexpr int kMaxParseDepth = 200;

// Parses a whole template; throws JinjaError ("TemplateSyntaxError") with line and column.
Body parse_template(std::string_view source);

}  // namespace pagoda::chat::jinja
