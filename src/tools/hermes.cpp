// hermes: <tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>, repeated (Hermes 2/3,
// Qwen 2.5/3). The closing tag of the last call may be missing when the output ends there.
#include "tools/call_reader.h"
#include "tools/formats.h"

namespace pagoda::tools {
namespace {

const std::vector<std::string> kOpen = {"<tool_call>"};
constexpr std::string_view kClose = "</tool_call>";

class HermesParser final : public StreamParser {
 public:
  using StreamParser::StreamParser;
  std::vector<std::string> triggers() const override { return kOpen; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<HermesParser>(options());
  }

  void advance(bool eof) override {
    for (;;) {
      switch (state_) {
        case State::content:
          if (scan_content(kOpen, eof) < 0) return;
          call_ = {};
          state_ = State::call;
          break;
        case State::call: {
          const Step step = call_.feed(*this);
          if (step == Step::more) return;
          if (step == Step::fail) return fail();
          state_ = State::close;
          break;
        }
        case State::close: {
          skip_space();
          const Match m = match_literal(avail(), kClose);
          if (m == Match::no) return fail();
          if (m == Match::partial) {
            if (eof) consume(avail().size());  // a cut-off closing tag is still markup
            return;
          }
          consume(kClose.size());
          state_ = State::content;
          break;
        }
      }
    }
  }

 private:
  enum class State { content, call, close };
  State state_ = State::content;
  CallObjectReader call_;
};

}  // namespace

std::unique_ptr<StreamParser> make_hermes_parser(ParserOptions options) {
  return std::make_unique<HermesParser>(std::move(options));
}

}  // namespace pagoda::tools
