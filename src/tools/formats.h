#pragma once
// One factory per format (see tool_parser.h for what each reads). The options' make_id is
// already set; tool_parser.cpp maps --tool-call-parser names to these.
#include <memory>

#include "tools/stream_parser.h"

namespace pagoda::tools {

std::unique_ptr<StreamParser> make_hermes_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_llama3_json_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_mistral_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_granite_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_pythonic_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_required_json_parser(ParserOptions options);
std::unique_ptr<StreamParser> make_named_json_parser(ParserOptions options);

}  // namespace pagoda::tools
