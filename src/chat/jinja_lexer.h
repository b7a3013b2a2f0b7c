#pragma once
// Splits template source into tokens: literal text and the insides of
// {{ ... }} and {% ... %} tags. Comments vanish, {% raw %} becomes text, and
// whitespace control ({%- -%} {%+ +%}) plus trim_blocks / lstrip_blocks (both
// on, as transformers configures Jinja2) are applied here.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::chat::jinja {

enum class TokenType { text, var_begin, var_end, block_begin, block_end, name, string, integer, floating, op, eof };

struct Token {
  TokenType type = TokenType::eof;
  std::string text;  // text, name, string value (unescaped) or operator spelling
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1, column = 1;
};

// Tokenizes `source`; throws JinjaError ("TemplateSyntaxError") with the line and column of bad input.
std::vector<Token> tokenize(std::string_view source);

}  // namespace pagoda::chat::jinja
