#pragma once
// Readers for the JSON pieces of tool calls, fed from a StreamParser's text as it arrives:
//   ArgsReader        an arguments value: {…} (streamed as written), "{…}" (a string holding the
//                     object, sent decoded when complete) or null ("{}")
//   CallObjectReader  {"name": "f", "arguments"|"parameters": {…}, other keys skipped}, in any
//                     key order (arguments before the name are held until the name commits)
//   CallArrayReader   [ call object, … ] with at least one call
// Each feed() consumes what it can and returns Step::more, Step::done (the piece ended just
// before avail()) or Step::fail.
#include <string>

#include "tools/json_scan.h"
#include "tools/stream_parser.h"

namespace pagoda::tools {

class ArgsReader {
 public:
  Step feed(StreamParser& p);
  // Sends what was read and not sent yet (for a call committed after its arguments were read).
  void send_pending(StreamParser& p);
  bool done() const { return done_; }

 private:
  JsonValueScanner scan_;
  char kind_ = 0;      // first byte of the value: '{', '"' or 'n'
  std::string raw_;    // the value's text so far
  size_t sent_ = 0;    // bytes of raw_ already sent (objects)
  std::string final_;  // what a string or null value sends once complete
  bool done_ = false;
  bool final_sent_ = false;
};

class CallObjectReader {
 public:
  Step feed(StreamParser& p);

 private:
  enum class State {
    open,
    key_or_end,
    key_start,
    key,
    colon,
    value,
    name,
    args,
    skip,
    after_value
  };
  Step end_object(StreamParser& p);

  State state_ = State::open;
  JsonValueScanner scan_;  // the key, name or skipped value being read
  std::string text_;       // its text so far
  std::string key_;
  bool have_name_ = false;
  bool have_args_ = false;
  ArgsReader args_;
};

class CallArrayReader {
 public:
  Step feed(StreamParser& p);

 private:
  enum class State { open, first_item, next_item, item, after_item };
  State state_ = State::open;
  CallObjectReader item_;
};

}  // namespace pagoda::tools
