// granite: <|tool_call|>[{"name": "f", "arguments": {…}}, …] (Granite 3.x), also with
// <tool_call> as the opening tag. Text before the tag is content.
#include "tools/call_reader.h"
#include "tools/formats.h"

namespace pagoda::tools {
namespace {

const std::vector<std::string> kOpen = {"<|tool_call|>", "<tool_call>"};

class GraniteParser final : public StreamParser {
 public:
  using StreamParser::StreamParser;
  std::vector<std::string> triggers() const override { return kOpen; }

 protected:
  std::unique_ptr<StreamParser> fresh() const override {
    return std::make_unique<GraniteParser>(options());
  }

  void advance(bool eof) override {
    for (;;) {
      if (!in_calls_) {
        if (scan_content(kOpen, eof) < 0) return;
        calls_ = {};
        in_calls_ = true;
      }
      const Step step = calls_.feed(*this);
      if (step == Step::more) return;
      if (step == Step::fail) return fail();
      in_calls_ = false;
    }
  }

 private:
  bool in_calls_ = false;
  CallArrayReader calls_;
};

}  // namespace

std::unique_ptr<StreamParser> make_granite_parser(ParserOptions options) {
  return std::make_unique<GraniteParser>(std::move(options));
}

}  // namespace pagoda::tools
