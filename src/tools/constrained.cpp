// The formats the server constrains generation to for tool_choice:
//   required_json  the whole output is [{"name": "f", "parameters"|"arguments": {…}}, …]
//   named_json     the whole output is the arguments object of ParserOptions::forced_name
// Output that does not start (after whitespace) that way is content; text after the calls is
// content too (a grammar leaves none).
#include "tools/call_reader.h"
#include "tools/formats.h"

namespace pagoda::tools {
namespace {

// Skips leading whitespace inside the open region; returns the first other byte, or 0 when
// none has arrived (at eof: not calls).
char first_byte(StreamParser& p, bool eof, bool& passthrough) {
  const std::string_view text = p.avail();
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  passthrough = i == text.size() && eof;
  return i == text.size() ? 0 : text[i];
}

class RequiredJsonParser final : public StreamParser {
 public:
  explicit RequiredJsonParser(ParserOptions options) : StreamParser(std::move(options)) {
    open_region();
  }
  std::vector<std::string> triggers() const override { return {"["}; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<RequiredJsonParser>(options());
  }

  void advance(bool eof) override {
    if (state_ == State::start) {
      bool passthrough = false;
      const char c = first_byte(*this, eof, passthrough);
      if (passthrough || (c != 0 && c != '[')) return to_passthrough();
      if (c == 0) return;
      state_ = State::calls;
    }
    if (state_ == State::calls) {
      const Step step = calls_.feed(*this);
      if (step == Step::more) return;
      if (step == Step::fail) return fail();
      state_ = State::tail;
    }
    scan_content({}, eof);
  }

 private:
  enum class State { start, calls, tail };
  State state_ = State::start;
  CallArrayReader calls_;
};

class NamedJsonParser final : public StreamParser {
 public:
  explicit NamedJsonParser(ParserOptions options) : StreamParser(std::move(options)) {
    open_region();
  }
  std::vector<std::string> triggers() const override { return {"{"}; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<NamedJsonParser>(options());
  }

  void advance(bool eof) override {
    if (state_ == State::start) {
      bool passthrough = false;
      const char c = first_byte(*this, eof, passthrough);
      if (passthrough || (c != 0 && c != '{')) return to_passthrough();
      if (c == 0) return;
      // The name is known from the start: the call commits at its first byte.
      if (!open_call(options().forced_name)) return to_passthrough();
      state_ = State::args;
    }
    if (state_ == State::args) {
      const Step step = args_.feed(*this);
      if (step == Step::more) return;
      if (step == Step::fail) return fail();
      close_call();
      state_ = State::tail;
    }
    scan_content({}, eof);
  }

 private:
  enum class State { start, args, tail };
  State state_ = State::start;
  ArgsReader args_;
};

}  // namespace

std::unique_ptr<StreamParser> make_required_json_parser(ParserOptions options) {
  return std::make_unique<RequiredJsonParser>(std::move(options));
}

std::unique_ptr<StreamParser> make_named_json_parser(ParserOptions options) {
  return std::make_unique<NamedJsonParser>(std::move(options));
}

}  // namespace pagoda::tools
