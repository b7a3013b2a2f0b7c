// mistral: content[TOOL_CALLS][{"name": "f", "arguments": {…}}, …] (tokenizers before v11) or
// content[TOOL_CALLS]f{…}[TOOL_CALLS]g{…} (v11 and later), where the name may be followed by
// [ARGS] and/or [CALL_ID]<id> before the arguments, as Hugging Face renderings of those tokens
// show them. A [CALL_ID] the model wrote is skipped: ids come from ParserOptions::make_id.
#include "tools/call_reader.h"
#include "tools/formats.h"

namespace pagoda::tools {
namespace {

const std::vector<std::string> kOpen = {"[TOOL_CALLS]"};
constexpr std::string_view kArgs = "[ARGS]";
constexpr std::string_view kCallId = "[CALL_ID]";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

class MistralParser final : public StreamParser {
 public:
  using StreamParser::StreamParser;
  std::vector<std::string> triggers() const override { return kOpen; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<MistralParser>(options());
  }

  void advance(bool eof) override {
    for (;;) {
      switch (state_) {
        case State::content:
          if (scan_content(kOpen, eof) < 0) return;
          state_ = State::after_tag;
          break;
        case State::after_tag:
          skip_space();
          if (avail().empty()) return;
          if (avail()[0] == '[') {
            array_ = {};
            state_ = State::array;
          } else {
            name_.clear();
            state_ = State::name;
          }
          break;
        case State::array: {
          const Step step = array_.feed(*this);
          if (step == Step::more) return;
          if (step == Step::fail) return fail();
          state_ = State::content;
          break;
        }
        case State::name:
        case State::call_id: {
          // The name (or a model-written call id) runs until "{" or a bracketed marker.
          while (!avail().empty() && is_name_char(avail()[0])) {
            if (state_ == State::name) name_ += avail()[0];
            consume(1);
          }
          const std::string_view text = avail();
          if (text.empty()) return;
          if (text[0] == '{') {
            if (!commit()) return fail();
            break;
          }
          if (text[0] != '[') return fail();
          const Match args = match_literal(text, kArgs);
          const Match id = match_literal(text, kCallId);
          if (args == Match::yes) {
            consume(kArgs.size());
            if (!commit()) return fail();
          } else if (id == Match::yes && state_ == State::name) {
            consume(kCallId.size());
            state_ = State::call_id;
          } else if (args == Match::partial || id == Match::partial) {
            return;  // a marker still arriving
          } else {
            return fail();
          }
          break;
        }
        case State::args: {
          const Step step = args_.feed(*this);
          if (step == Step::more) return;
          if (step == Step::fail) return fail();
          close_call();
          state_ = State::content;
          break;
        }
      }
    }
  }

 private:
  enum class State { content, after_tag, array, name, call_id, args };

  bool commit() {
    if (!open_call(name_)) return false;
    args_ = {};
    state_ = State::args;
    return true;
  }

  State state_ = State::content;
  std::string name_;
  CallArrayReader array_;
  ArgsReader args_;
};

}  // namespace

std::unique_ptr<StreamParser> make_mistral_parser(ParserOptions options) {
  return std::make_unique<MistralParser>(std::move(options));
}

}  // namespace pagoda::tools
