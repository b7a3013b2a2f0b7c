// llama3_json: [<|python_tag|>]{"name": "f", "parameters"|"arguments": {…}}; {…} (Llama 3.1–3.3).
// As in vLLM, the output holds calls only when it starts (after whitespace) with "{" or
// <|python_tag|>; anything else is content from the first byte. Calls are separated by ";"
// and/or whitespace; text after the last call is content.
#include "tools/call_reader.h"
#include "tools/formats.h"

namespace pagoda::tools {
namespace {

constexpr std::string_view kTag = "<|python_tag|>";

class Llama3JsonParser final : public StreamParser {
 public:
  explicit Llama3JsonParser(ParserOptions options) : StreamParser(std::move(options)) {
    open_region();
  }
  std::vector<std::string> triggers() const override { return {std::string(kTag), "{\"name\""}; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<Llama3JsonParser>(options());
  }

  void advance(bool eof) override {
    for (;;) {
      switch (state_) {
        case State::start: {
          // The region stays open from byte 0, so leading whitespace goes out with the text
          // when this is not a call.
          const std::string_view text = avail();
          size_t i = 0;
          while (i < text.size() && is_space(text[i])) ++i;
          if (i == text.size()) {
            if (eof) to_passthrough();
            return;
          }
          if (text[i] == '{') {
            consume(i);
            call_ = {};
            state_ = State::call;
            break;
          }
          const Match m = match_literal(text.substr(i), kTag);
          if (m == Match::no || (m == Match::partial && eof)) return to_passthrough();
          if (m == Match::partial) return;
          consume(i + kTag.size());
          call_ = {};
          state_ = State::call;
          break;
        }
        case State::call: {
          const Step step = call_.feed(*this);
          if (step == Step::more) return;
          if (step == Step::fail) return fail();
          state_ = State::between;
          break;
        }
        case State::between: {
          while (!avail().empty() && (is_space(avail()[0]) || avail()[0] == ';')) consume(1);
          const std::string_view text = avail();
          if (text.empty()) return;
          if (text[0] == '{') {
            open_region();
            call_ = {};
            state_ = State::call;
            break;
          }
          const Match m = match_literal(text, kTag);
          if (m == Match::yes) {
            consume(kTag.size());
            break;
          }
          if (m == Match::partial && !eof) return;
          state_ = State::tail;
          break;
        }
        case State::tail:
          scan_content({}, eof);
          return;
      }
    }
  }

 private:
  enum class State { start, call, between, tail };
  State state_ = State::start;
  CallObjectReader call_;
};

}  // namespace

std::unique_ptr<StreamParser> make_llama3_json_parser(ParserOptions options) {
  return std::make_unique<Llama3JsonParser>(std::move(options));
}

}  // namespace pagoda::tools
