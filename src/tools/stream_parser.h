#pragma once
// StreamParser: the machinery every format shares. A format is a state machine over the text
// received so far (advance()); this class keeps that text, the content and call bookkeeping,
// and the rules that make a stream and a whole-output parse agree:
//
//  - Content is released as it arrives, except a tail that may still become a trigger and a run
//    of whitespace that may still precede a call (whitespace before a call is dropped).
//  - A call is "committed" when its name is complete and allowed: its first delta (index, id,
//    name) goes out then, argument fragments follow as they arrive.
//  - The text of a call region (from the whitespace before its trigger) is kept until commit.
//    If the region fails before commit (bad markup, unknown name, cut off), that text goes out
//    as content and the rest of the output is plain content.
//  - parse() runs the same machine over the whole text; if anything failed or was cut off it
//    returns the whole text as content and no calls. So a stream and parse() agree except when a
//    failure follows a committed call, which a stream cannot take back (see README.md).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/tool_parser.h"

namespace pagoda::tools {

// What a format's sub-reader reports: wants more text, finished its piece, or found it invalid.
enum class Step { more, done, fail };

class StreamParser : public ToolCallParser {
 public:
  explicit StreamParser(ParserOptions options);

  ParsedOutput parse(std::string_view text) const final;
  StreamDelta push(std::string_view text) final;
  StreamDelta finish() final;
  bool saw_calls() const final { return n_calls_ > 0; }

  // --- for formats and readers ---
  std::string_view avail() const { return std::string_view(buf_).substr(pos_); }
  void consume(size_t n) { pos_ += n; }
  void skip_space();
  // Whether a function of this name may be called (non-empty, offered when a list was given).
  bool name_allowed(const std::string& name) const;
  // Commits a call: false (nothing sent) when the name is not allowed.
  bool open_call(const std::string& name);
  bool call_open() const { return call_open_; }
  // An argument fragment of the open call.
  void emit_args(std::string_view fragment);
  // Ends the open call; a call that sent no argument text sends "{}".
  void close_call();
  // A call starts here: if it fails before its commit, its text from here goes out as content
  // (unless a region is already open, e.g. from the trigger before it).
  void mark_call_start() {
    if (!region_open_) open_region();
  }

 protected:
  // Consumes as much of avail() as the format can decide on. At eof the format resolves what it
  // can; whatever is left (an open call, an open region) is treated as cut off by finish().
  virtual void advance(bool eof) = 0;
  // A new parser of the same format and options, for parse().
  virtual std::unique_ptr<StreamParser> fresh() const = 0;

  // Content mode: releases content up to the first of `triggers` and returns its index, with the
  // trigger consumed and a call region opened at the whitespace before it; returns -1 when more
  // text is needed (or, at eof, after releasing the rest as content).
  int scan_content(const std::vector<std::string>& triggers, bool eof);
  // Releases everything left as content (trailing whitespace is dropped once calls were seen).
  void end_content();
  // Opens a call region at the current position (formats whose output must start with a call).
  void open_region() {
    region_open_ = true;
    region_start_ = pos_;
  }
  // Gives up on calls: the open region (or, after a commit, the rest) becomes content.
  void fail();
  // Not calls after all (no error): like fail() before any commit.
  void to_passthrough();

  const ParserOptions& options() const { return options_; }

 private:
  void emit_content(std::string_view text);
  void truncate();
  void compact();

  ParserOptions options_;
  std::string buf_;  // text received and not yet dropped
  size_t pos_ = 0;   // first byte of buf_ not consumed by the format
  bool region_open_ = false;
  size_t region_start_ = 0;  // start of the uncommitted call region in buf_
  bool passthrough_ = false;
  bool finished_ = false;
  bool failed_ = false;     // markup turned out invalid
  bool truncated_ = false;  // output ended inside a call
  bool call_open_ = false;
  bool args_sent_ = false;
  int n_calls_ = 0;
  StreamDelta out_;
};

}  // namespace pagoda::tools
