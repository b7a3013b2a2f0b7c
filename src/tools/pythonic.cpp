// pythonic: the whole output is a Python list of calls, [f(a=1, b="x"), g()] (Llama 3.2 small
// models), optionally wrapped in <|python_start|> … <|python_end|> (Llama 4). Anything else is
// content from the first byte, including a list followed by more text. The calls are held until
// the output ends (the list must be all of it), then each goes out whole, name and arguments in
// one delta. Text that cannot be a call list ("[1, 2]", "[Note: …") is released at once.
#include "tools/formats.h"
#include "tools/json_scan.h"
#include "tools/python_literal.h"

namespace pagoda::tools {
namespace {

constexpr std::string_view kStart = "<|python_start|>";
constexpr std::string_view kEnd = "<|python_end|>";
// Below this length the held list is re-parsed on every piece, so that text which only looks
// like a list ("[1, 2]", "[Note: …") is released at once; longer lists are parsed at each "]".
constexpr size_t kEagerParse = 256;

class PythonicParser final : public StreamParser {
 public:
  explicit PythonicParser(ParserOptions options) : StreamParser(std::move(options)) {
    open_region();
  }
  std::vector<std::string> triggers() const override { return {"[", std::string(kStart)}; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<PythonicParser>(options());
  }

  void advance(bool eof) override {
    for (;;) {
      switch (state_) {
        case State::start: {
          const std::string_view text = avail();
          size_t i = 0;
          while (i < text.size() && is_space(text[i])) ++i;
          if (i == text.size()) {
            if (eof) to_passthrough();
            return;
          }
          if (text[i] == '[') {
            consume(i);
            state_ = State::list;
            break;
          }
          const Match m = match_literal(text.substr(i), kStart);
          if (m == Match::no || (m == Match::partial && eof)) return to_passthrough();
          if (m == Match::partial) return;
          consume(i + kStart.size());
          wrapped_ = true;
          state_ = State::open_list;
          break;
        }
        case State::open_list:
          skip_space();
          if (avail().empty()) return;
          if (avail()[0] != '[') return fail();
          state_ = State::list;
          break;
        case State::list: {
          const std::string_view text = avail();
          if (text.empty()) return;
          // Take text up to the next "]": the list can only end at one.
          const size_t close = text.find(']');
          const size_t n = close == std::string_view::npos ? text.size() : close + 1;
          list_.append(text.substr(0, n));
          consume(n);
          if (close == std::string_view::npos && list_.size() > kEagerParse) break;
          std::vector<PythonCall> calls;
          const PythonParse result = parse_python_calls(list_, calls);
          if (result == PythonParse::incomplete) break;
          if (result == PythonParse::invalid || calls.empty()) return fail();
          for (const auto& call : calls)
            if (!name_allowed(call.name)) return fail();
          calls_ = std::move(calls);
          state_ = wrapped_ ? State::close : State::trailing;
          break;
        }
        case State::close: {
          skip_space();
          const Match m = match_literal(avail(), kEnd);
          if (m == Match::partial && !eof) return;
          if (m == Match::yes) consume(kEnd.size());
          if (m == Match::partial) consume(avail().size());  // cut off at the end: still markup
          state_ = State::trailing;
          break;
        }
        case State::trailing:
          skip_space();
          if (!avail().empty()) return fail();  // more than a call list: all of it is content
          if (!eof) return;
          for (const auto& call : calls_) {
            open_call(call.name);
            emit_args(call.arguments.dump(-1, ' ', false,
                                          nlohmann::ordered_json::error_handler_t::replace));
            close_call();
          }
          return;
      }
    }
  }

 private:
  enum class State { start, open_list, list, close, trailing };
  State state_ = State::start;
  bool wrapped_ = false;
  std::string list_;               // the list's text so far
  std::vector<PythonCall> calls_;  // parsed, sent when the output ends
};

}  // namespace

std::unique_ptr<StreamParser> make_pythonic_parser(ParserOptions options) {
  return std::make_unique<PythonicParser>(std::move(options));
}

}  // namespace pagoda::tools
