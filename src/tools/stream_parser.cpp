#include "tools/stream_parser.h"

#include <algorithm>
#include <utility>

#include "tools/json_scan.h"

namespace pagoda::tools {

StreamParser::StreamParser(ParserOptions options) : options_(std::move(options)) {}

StreamDelta StreamParser::push(std::string_view text) {
  if (finished_) return {};
  compact();
  buf_.append(text);
  if (passthrough_) {
    emit_content(avail());
    pos_ = buf_.size();
  } else {
    advance(false);
  }
  return std::exchange(out_, {});
}

StreamDelta StreamParser::finish() {
  if (finished_) return {};
  finished_ = true;
  if (!passthrough_) {
    advance(true);
    if (!passthrough_ && (call_open_ || region_open_ || pos_ < buf_.size())) truncate();
  }
  if (passthrough_) {
    emit_content(avail());
    pos_ = buf_.size();
  }
  return std::exchange(out_, {});
}

ParsedOutput StreamParser::parse(std::string_view text) const {
  ParsedOutput out;
  // Anything malformed makes the whole output plain content, as vLLM's parsers do.
  auto whole = [&] {
    out.calls.clear();
    out.content.reset();
    if (!text.empty()) out.content = std::string(text);
    return out;
  };
  auto p = fresh();
  StreamDelta first = p->push(text);
  StreamDelta last = p->finish();
  if (p->failed_ || p->truncated_) return whole();
  std::string content = first.content + last.content;
  for (const StreamDelta* d : {&first, &last}) {
    for (const ToolCallDelta& call : d->calls) {
      if (call.name) {
        out.calls.push_back({call.id.value_or(""), *call.name, ""});
      } else if (out.calls.empty()) {
        return whole();  // cannot happen: a call's first delta carries its name
      }
      out.calls.back().arguments += call.arguments;
    }
  }
  for (ToolCall& call : out.calls) {
    auto compact = compact_json_object(call.arguments);
    if (!compact) return whole();
    call.arguments = std::move(*compact);
  }
  if (!content.empty()) out.content = std::move(content);
  return out;
}

void StreamParser::skip_space() {
  while (pos_ < buf_.size() && is_space(buf_[pos_])) ++pos_;
}

bool StreamParser::name_allowed(const std::string& name) const {
  if (name.empty()) return false;
  const auto& names = options_.tool_names;
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

bool StreamParser::open_call(const std::string& name) {
  if (!name_allowed(name)) return false;
  ToolCallDelta delta;
  delta.index = n_calls_;
  delta.id = options_.make_id ? options_.make_id() : random_tool_call_id();
  delta.name = name;
  out_.calls.push_back(std::move(delta));
  ++n_calls_;
  call_open_ = true;
  args_sent_ = false;
  region_open_ = false;  // committed: the markup before it will never be content
  return true;
}

void StreamParser::emit_args(std::string_view fragment) {
  if (fragment.empty() || !call_open_) return;
  args_sent_ = true;
  const int index = n_calls_ - 1;
  if (!out_.calls.empty() && out_.calls.back().index == index) {
    out_.calls.back().arguments += fragment;
  } else {
    ToolCallDelta delta;
    delta.index = index;
    delta.arguments = std::string(fragment);
    out_.calls.push_back(std::move(delta));
  }
}

void StreamParser::close_call() {
  if (!call_open_) return;
  if (!args_sent_) emit_args("{}");
  call_open_ = false;
}

int StreamParser::scan_content(const std::vector<std::string>& triggers, bool eof) {
  const std::string_view text = avail();
  size_t best = std::string_view::npos;
  int which = -1;
  for (size_t i = 0; i < triggers.size(); ++i) {
    const size_t at = text.find(triggers[i]);
    if (at == std::string_view::npos) continue;
    if (at < best || (at == best && triggers[i].size() > triggers[which].size())) {
      best = at;
      which = static_cast<int>(i);
    }
  }
  if (which >= 0) {
    size_t end = best;
    while (end > 0 && is_space(text[end - 1])) --end;
    emit_content(text.substr(0, end));
    region_open_ = true;
    region_start_ = pos_ + end;
    pos_ += best + triggers[which].size();
    return which;
  }
  if (eof) {
    end_content();
    return -1;
  }
  // Hold what may still become a trigger, and the whitespace that may still precede one.
  size_t end = text.size() - partial_suffix(text, triggers);
  while (end > 0 && is_space(text[end - 1])) --end;
  emit_content(text.substr(0, end));
  pos_ += end;
  return -1;
}

void StreamParser::end_content() {
  std::string_view text = avail();
  if (n_calls_ > 0) {
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  }
  emit_content(text);
  pos_ = buf_.size();
}

void StreamParser::fail() {
  failed_ = true;
  to_passthrough();
}

void StreamParser::to_passthrough() {
  close_call();
  const size_t from = region_open_ ? region_start_ : pos_;
  region_open_ = false;
  passthrough_ = true;
  emit_content(std::string_view(buf_).substr(from));
  pos_ = buf_.size();
}

void StreamParser::truncate() {
  truncated_ = true;
  if (call_open_) {
    // Deltas already went out: end the call as it is (its arguments may be incomplete).
    close_call();
    region_open_ = false;
    pos_ = buf_.size();
    return;
  }
  const size_t from = region_open_ ? region_start_ : pos_;
  region_open_ = false;
  emit_content(std::string_view(buf_).substr(from));
  pos_ = buf_.size();
}

void StreamParser::emit_content(std::string_view text) {
  out_.content.append(text);
}

void StreamParser::compact() {
  const size_t keep = region_open_ ? std::min(region_start_, pos_) : pos_;
  if (keep == 0) return;
  buf_.erase(0, keep);
  pos_ -= keep;
  if (region_open_) region_start_ -= keep;
}

}  // namespace pagoda::tools
