#include "tools/call_reader.h"

namespace pagoda::tools {

namespace {
// Feeds avail() to a scanner, keeping the consumed text in `text`.
JsonValueScanner::State scan_into(StreamParser& p, JsonValueScanner& scan, std::string& text) {
  const std::string_view in = p.avail();
  const size_t n = scan.feed(in);
  text.append(in.substr(0, n));
  p.consume(n);
  return scan.state();
}
}  // namespace

Step ArgsReader::feed(StreamParser& p) {
  if (kind_ == 0) {
    p.skip_space();
    if (p.avail().empty()) return Step::more;
    kind_ = p.avail()[0];
    if (kind_ != '{' && kind_ != '"' && kind_ != 'n') return Step::fail;
  }
  const auto state = scan_into(p, scan_, raw_);
  if (state == JsonValueScanner::State::bad) return Step::fail;
  if (state == JsonValueScanner::State::running) {
    if (kind_ == '{' && p.call_open()) send_pending(p);
    return Step::more;
  }
  if (kind_ == '{') {
    if (!compact_json_object(raw_)) return Step::fail;
  } else if (kind_ == '"') {
    // Some models write the arguments as a JSON string holding the object.
    auto inner = decode_json_string(raw_);
    if (!inner || !compact_json_object(*inner)) return Step::fail;
    final_ = std::move(*inner);
  } else {
    if (raw_ != "null") return Step::fail;
    final_ = "{}";
  }
  done_ = true;
  if (p.call_open()) send_pending(p);
  return Step::done;
}

void ArgsReader::send_pending(StreamParser& p) {
  if (kind_ == '{') {
    p.emit_args(std::string_view(raw_).substr(sent_));
    sent_ = raw_.size();
  } else if (done_ && !final_sent_) {
    p.emit_args(final_);
    final_sent_ = true;
  }
}

Step CallObjectReader::feed(StreamParser& p) {
  for (;;) {
    switch (state_) {
      case State::open:
      case State::key_or_end:
      case State::key_start:
      case State::colon:
      case State::value:
      case State::after_value: {
        p.skip_space();
        if (p.avail().empty()) return Step::more;
        const char c = p.avail()[0];
        if (state_ == State::open) {
          if (c != '{') return Step::fail;
          p.consume(1);
          state_ = State::key_or_end;
        } else if (state_ == State::key_or_end || state_ == State::key_start) {
          if (c == '}' && state_ == State::key_or_end) return end_object(p);
          if (c != '"') return Step::fail;
          scan_ = {};
          text_.clear();
          state_ = State::key;
        } else if (state_ == State::colon) {
          if (c != ':') return Step::fail;
          p.consume(1);
          state_ = State::value;
        } else if (state_ == State::value) {
          scan_ = {};
          text_.clear();
          if (key_ == "name") {
            if (have_name_ || c != '"') return Step::fail;
            state_ = State::name;
          } else if (key_ == "arguments" || key_ == "parameters") {
            if (have_args_) return Step::fail;
            have_args_ = true;
            state_ = State::args;
          } else {
            state_ = State::skip;  // "type", "id", …: not needed
          }
        } else {  // after_value
          if (c == '}') return end_object(p);
          if (c != ',') return Step::fail;
          p.consume(1);
          state_ = State::key_start;
        }
        break;
      }
      case State::key:
      case State::name:
      case State::skip: {
        const auto scanned = scan_into(p, scan_, text_);
        if (scanned == JsonValueScanner::State::bad) return Step::fail;
        if (scanned == JsonValueScanner::State::running) return Step::more;
        if (state_ == State::key) {
          auto key = decode_json_string(text_);
          if (!key) return Step::fail;
          key_ = std::move(*key);
          state_ = State::colon;
        } else if (state_ == State::name) {
          auto name = decode_json_string(text_);
          if (!name || !p.open_call(*name)) return Step::fail;
          have_name_ = true;
          if (args_.done()) args_.send_pending(p);
          state_ = State::after_value;
        } else {
          state_ = State::after_value;
        }
        break;
      }
      case State::args: {
        const Step step = args_.feed(p);
        if (step != Step::done) return step;
        state_ = State::after_value;
        break;
      }
    }
  }
}

Step CallObjectReader::end_object(StreamParser& p) {
  p.consume(1);  // the closing brace
  if (!have_name_) return Step::fail;
  p.close_call();
  return Step::done;
}

Step CallArrayReader::feed(StreamParser& p) {
  for (;;) {
    if (state_ == State::item) {
      const Step step = item_.feed(p);
      if (step != Step::done) return step;
      state_ = State::after_item;
      continue;
    }
    p.skip_space();
    if (p.avail().empty()) return Step::more;
    const char c = p.avail()[0];
    switch (state_) {
      case State::open:
        if (c != '[') return Step::fail;
        p.consume(1);
        state_ = State::first_item;
        break;
      case State::first_item:
      case State::next_item:
        if (c != '{') return Step::fail;  // an empty list holds no call: not calls
        p.mark_call_start();
        item_ = {};
        state_ = State::item;
        break;
      case State::after_item:
        if (c != ']' && c != ',') return Step::fail;
        p.consume(1);
        if (c == ']') return Step::done;
        state_ = State::next_item;
        break;
      case State::item:
        break;
    }
  }
}

}  // namespace pagoda::tools
