// RegexSplitter: llama.cpp's unicode_regex_split semantics over PCRE2, plus the
// hand-written GPT-2 and Llama-3 splitters llama.cpp substitutes for those regexes.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace pagoda::tokenizer {
namespace {

const char* const kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3RegexCaseless =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kLlama3Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// A view of one piece [begin, end) of the code points being split; reads past
// the piece give kOutOfRange / no flags, so lookahead stops at the piece edge.
struct Piece {
  const std::vector<uint32_t>& cpts;
  size_t begin, end;
  uint32_t cpt(size_t pos) const { return pos >= begin && pos < end ? cpts[pos] : kOutOfRange; }
  CodepointFlags flags(size_t pos) const {
    return pos >= begin && pos < end ? codepoint_flags(cpts[pos]) : CodepointFlags{};
  }
};

// Collects word ends inside one piece.
struct WordSink {
  std::vector<size_t>& out;
  size_t prev_end;
  size_t add(size_t end) {  // returns the length added
    const size_t len = end - prev_end;
    if (len > 0) out.push_back(len);
    prev_end = end;
    return len;
  }
};

bool is_cr_or_lf(uint32_t c) { return c == '\r' || c == '\n'; }
bool is_space_letter_or_number(CodepointFlags f) {
  return f.is_whitespace() || f.is_letter() || f.is_number();
}

// Length of a 's 't 're 've 'm 'll 'd contraction at pos (0 if none).
size_t contraction_length(const Piece& p, size_t pos, bool caseless) {
  if (p.cpt(pos) != '\'' || pos + 1 >= p.end) return 0;
  auto low = [&](size_t i) { return caseless ? to_lower(p.cpt(i)) : p.cpt(i); };
  const uint32_t c1 = low(pos + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= p.end) return 0;
  const uint32_t c2 = low(pos + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
void split_gpt2(const Piece& p, std::vector<size_t>& out) {
  WordSink sink{out, p.begin};
  size_t pos = p.begin;
  while (pos < p.end) {
    const uint32_t c = p.cpt(pos);
    if (size_t n = contraction_length(p, pos, false)) {
      pos += sink.add(pos + n);
      continue;
    }
    // ' ?' prefix: look at the code point after an optional space.
    CodepointFlags f = c == ' ' ? p.flags(pos + 1) : p.flags(pos);
    if (f.is_letter() || f.is_number()) {
      const bool letter = f.is_letter();
      pos += (c == ' ');
      while (letter ? f.is_letter() : f.is_number()) f = p.flags(++pos);
      sink.add(pos);
      continue;
    }
    if (!is_space_letter_or_number(f) && f.is_defined()) {
      pos += (c == ' ');
      while (!is_space_letter_or_number(f) && f.is_defined()) f = p.flags(++pos);
      sink.add(pos);
      continue;
    }
    size_t n_space = 0;
    while (p.flags(pos + n_space).is_whitespace()) ++n_space;
    if (n_space > 1 && p.cpt(pos + n_space) != kOutOfRange) {  // \s+(?!\S): leave one
      pos += n_space - 1;
      sink.add(pos);
      continue;
    }
    if (n_space > 0) {
      pos += n_space;
      sink.add(pos);
      continue;
    }
    sink.add(++pos);  // nothing matched: a one-code-point gap
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const Piece& p, std::vector<size_t>& out) {
  WordSink sink{out, p.begin};
  size_t pos = p.begin;
  while (pos < p.end) {
    const uint32_t c = p.cpt(pos);
    const CodepointFlags f = p.flags(pos);
    if (size_t n = contraction_length(p, pos, true)) {
      pos += sink.add(pos + n);
      continue;
    }
    if (!(is_cr_or_lf(c) || f.is_number()) && (f.is_letter() || p.flags(pos + 1).is_letter())) {
      ++pos;
      while (p.flags(pos).is_letter()) ++pos;
      sink.add(pos);
      continue;
    }
    if (f.is_number()) {
      size_t group_start = pos;
      while (p.flags(pos).is_number()) {
        if (++pos - group_start >= 3) {
          sink.add(pos);
          group_start = pos;
        }
      }
      sink.add(pos);
      continue;
    }
    CodepointFlags f2 = c == ' ' ? p.flags(pos + 1) : f;
    if (!is_space_letter_or_number(f2) && f.is_defined()) {
      pos += (c == ' ');
      while (!is_space_letter_or_number(f2) && f2.is_defined()) f2 = p.flags(++pos);
      while (is_cr_or_lf(p.cpt(pos))) ++pos;
      sink.add(pos);
      continue;
    }
    size_t n_space = 0;
    size_t last_newline_end = 0;
    while (p.flags(pos + n_space).is_whitespace()) {
      if (is_cr_or_lf(p.cpt(pos + n_space))) last_newline_end = pos + n_space + 1;
      ++n_space;
    }
    if (last_newline_end > 0) {  // \s*[\r\n]+
      pos = last_newline_end;
      sink.add(pos);
      continue;
    }
    if (n_space > 1 && p.cpt(pos + n_space) != kOutOfRange) {
      pos += n_space - 1;
      sink.add(pos);
      continue;
    }
    if (n_space > 0) {
      pos += n_space;
      sink.add(pos);
      continue;
    }
    sink.add(++pos);
  }
}

}  // namespace

struct RegexSplitter::Stage {
  enum class Kind { gpt2, llama3, pcre } kind = Kind::pcre;
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Stage() { pcre2_code_free(code); }

  void split(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces,
             std::vector<size_t>& out) const;
};

namespace {

// The pieces as PCRE2 sees them: UTF-8 in which non-ASCII white space becomes
// \v (as llama.cpp feeds std::regex), plus the byte offset of every code point.
struct Utf8Subject {
  std::string bytes;
  std::vector<size_t> cpt_offset;  // [n_cpts + 1] byte offset of code point i
  std::vector<uint32_t> byte_to_cpt;  // [bytes + 1] code point index at a byte offset

  explicit Utf8Subject(const std::vector<uint32_t>& cpts) {
    bytes.reserve(cpts.size());
    cpt_offset.reserve(cpts.size() + 1);
    for (uint32_t c : cpts) {
      cpt_offset.push_back(bytes.size());
      if (c > 0x7F && codepoint_flags(c).is_whitespace()) c = 0x0B;
      // Lone surrogates cannot be UTF-8: llama.cpp's decoder never yields them
      // except from CESU-like input; stand in U+FFFD so PCRE2 sees valid UTF-8.
      if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
      append_utf8(bytes, c);
    }
    cpt_offset.push_back(bytes.size());
    byte_to_cpt.assign(bytes.size() + 1, 0);
    for (size_t i = 0; i < cpts.size() + 1; ++i) byte_to_cpt[cpt_offset[i]] = static_cast<uint32_t>(i);
  }
};

}  // namespace

void RegexSplitter::Stage::split(const std::vector<uint32_t>& cpts,
                                 const std::vector<size_t>& pieces,
                                 std::vector<size_t>& out) const {
  if (kind != Kind::pcre) {
    size_t begin = 0;
    for (size_t len : pieces) {
      const Piece piece{cpts, begin, begin + len};
      if (kind == Kind::gpt2) {
        split_gpt2(piece, out);
      } else {
        split_llama3(piece, out);
      }
      begin += len;
    }
    return;
  }

  const Utf8Subject subject(cpts);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  if (!md) throw Exception("out of memory creating regex match data");
  const auto* base = reinterpret_cast<PCRE2_SPTR>(subject.bytes.data());
  size_t begin = 0;
  for (size_t len : pieces) {
    const size_t piece_start = subject.cpt_offset[begin];
    const size_t piece_bytes = subject.cpt_offset[begin + len] - piece_start;
    const PCRE2_SPTR s = base + piece_start;
    size_t gap_start = 0;  // byte offset within the piece where the last match ended
    size_t search = 0;
    uint32_t flags = 0;
    while (search <= piece_bytes) {
      int rc = pcre2_match(code, s, piece_bytes, search, flags | PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        rc = pcre2_match(code, s, piece_bytes, search, flags | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                         md, nullptr);
      }
      if (rc < 0) {
        if (rc == PCRE2_ERROR_NOMATCH && flags != 0 && search < piece_bytes) {
          // After an empty match, retry one code point further (std::regex_iterator does too).
          flags = 0;
          ++search;
          while (search < piece_bytes && (s[search] & 0xC0) == 0x80) ++search;
          continue;
        }
        break;  // no more matches (or a match/depth limit: the rest stays one piece)
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t m_begin = ov[0], m_end = ov[1];
      auto cpt_at = [&](size_t byte) { return subject.byte_to_cpt[piece_start + byte]; };
      if (m_begin > gap_start) out.push_back(cpt_at(m_begin) - cpt_at(gap_start));
      out.push_back(cpt_at(m_end) - cpt_at(m_begin));
      gap_start = m_end;
      search = m_end;
      flags = (m_begin == m_end) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
    }
    if (gap_start < piece_bytes) {
      out.push_back(subject.byte_to_cpt[piece_start + piece_bytes] -
                    subject.byte_to_cpt[piece_start + gap_start]);
    }
    begin += len;
  }
  pcre2_match_data_free(md);
}

Expected<std::unique_ptr<RegexSplitter>> RegexSplitter::create(
    const std::vector<std::string>& regexes) {
  std::unique_ptr<RegexSplitter> splitter(new RegexSplitter());
  for (const auto& rx : regexes) {
    auto stage = std::make_unique<Stage>();
    if (rx == kGpt2Regex) {
      stage->kind = Stage::Kind::gpt2;
    } else if (rx == kLlama3Regex || rx == kLlama3RegexCaseless) {
      stage->kind = Stage::Kind::llama3;
    } else {
      int err = 0;
      PCRE2_SIZE err_offset = 0;
      // DOLLAR_ENDONLY: `$` is the end of the piece, as in ECMAScript.
      stage->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rx.data()), rx.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_offset,
                                  nullptr);
      if (!stage->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return Error{"bad pre-tokenizer regex '" + rx + "' at offset " +
                     std::to_string(err_offset) + ": " + reinterpret_cast<const char*>(msg)};
      }
      stage->jit = pcre2_jit_compile(stage->code, PCRE2_JIT_COMPLETE) == 0;
    }
    splitter->stages_.push_back(std::move(stage));
  }
  return splitter;
}

RegexSplitter::~RegexSplitter() = default;

std::vector<size_t> RegexSplitter::split(const std::vector<uint32_t>& cpts) const {
  std::vector<size_t> pieces{cpts.size()};
  std::vector<size_t> next;
  for (const auto& stage : stages_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    stage->split(cpts, pieces, next);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace pagoda::tokenizer
