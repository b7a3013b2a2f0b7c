#pragma once
// `pagoda bench serve`: base URLs and datasets. Pure, header-only.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::cli::bench_serve {

// An http:// base URL split into what a connection and a request target need.
struct BaseUrl {
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  std::string root;  // path prefix without a trailing "/v1" or "/", e.g. "" or "/proxy"

  // The target for an API path: "/v1/..." and "/tokenize" both hang off the root.
  std::string target(std::string_view path) const {
    std::string t = root;
    if (path.empty() || path.front() != '/') t += '/';
    t.append(path.data(), path.size());
    return t;
  }
  std::string host_header() const {
    const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return port == 80 ? h : h + ":" + std::to_string(port);
  }
};

// Parses "http://HOST[:PORT][/PREFIX]"; on failure returns nullopt and sets `error`.
inline std::optional<BaseUrl> parse_base_url(std::string_view url, std::string& error) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    error = url.starts_with("https://") ? "https:// is not supported (use http://)"
                                        : "the base URL must start with http://";
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  if (const size_t q = path.find_first_of("?#"); q != std::string_view::npos) path = path.substr(0, q);
  BaseUrl b;
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated '[' in the base URL's host";
      return std::nullopt;
    }
    b.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "unexpected text after the base URL's host";
        return std::nullopt;
      }
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    b.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (b.host.empty()) {
    error = "the base URL has no host";
    return std::nullopt;
  }
  if (!port_text.empty() || authority.ends_with(":")) {
    unsigned long port = 0;
    if (port_text.empty() || port_text.size() > 5) port = 0;
    else
      for (char c : port_text) port = c >= '0' && c <= '9' ? port * 10 + static_cast<unsigned>(c - '0') : 70000;
    if (port == 0 || port > 65535) {
      error = "bad port '" + std::string(port_text) + "' in the base URL";
      return std::nullopt;
    }
    b.port = static_cast<uint16_t>(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.ends_with("/v1")) path.remove_suffix(3);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  b.root = std::string(path);
  return b;
}

struct DatasetEntry {
  std::string prompt;
  int64_t output_len = -1;  // -1: not given
  std::string reference;    // a ShareGPT reply (its length can stand in for output_len)
};

struct Dataset {
  std::vector<DatasetEntry> entries;
  size_t skipped = 0;  // records without a usable prompt
  std::string error;   // set when nothing could be read
};

namespace detail {

inline bool take_record(const nlohmann::json& j, Dataset& d) {
  if (!j.is_object()) return false;
  DatasetEntry e;
  if (auto p = j.find("prompt"); p != j.end() && p->is_string()) {
    e.prompt = p->get<std::string>();
    for (const char* key : {"output_len", "output_tokens", "max_tokens"})
      if (auto o = j.find(key); o != j.end() && o->is_number_integer() && o->get<int64_t>() > 0) {
        e.output_len = o->get<int64_t>();
        break;
      }
    for (const char* key : {"completion", "output", "response"})
      if (auto o = j.find(key); o != j.end() && o->is_string()) {
        e.reference = o->get<std::string>();
        break;
      }
  } else if (auto c = j.find("conversations"); c != j.end() && c->is_array()) {
    // ShareGPT: the first human turn is the prompt, the reply after it the reference.
    bool have_prompt = false;
    for (const auto& turn : *c) {
      if (!turn.is_object()) continue;
      const std::string from = turn.value("from", turn.value("role", std::string()));
      auto v = turn.find("value");
      if (v == turn.end()) v = turn.find("content");
      if (v == turn.end() || !v->is_string()) continue;
      if (!have_prompt && (from == "human" || from == "user")) {
        e.prompt = v->get<std::string>();
        have_prompt = true;
      } else if (have_prompt && (from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bard")) {
        e.reference = v->get<std::string>();
        break;
      }
    }
  }
  if (e.prompt.empty()) return false;
  d.entries.push_back(std::move(e));
  return true;
}

}  // namespace detail

// Reads a JSON array (ShareGPT records or {"prompt", "output_len"} objects) or
// JSON Lines of either.
inline Dataset parse_dataset(std::string_view text) {
  Dataset d;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    d.error = "the dataset is empty";
    return d;
  }
  if (text[first] == '[') {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) {
      d.error = "the dataset starts with '[' but is not valid JSON";
      return d;
    }
    for (const auto& rec : j)
      if (!detail::take_record(rec, d)) ++d.skipped;
  } else {
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        if (d.entries.empty() && d.skipped == 0) {
          d.error = "line " + std::to_string(line_no) + " of the dataset is not JSON";
          return d;
        }
        ++d.skipped;
        continue;
      }
      if (!detail::take_record(j, d)) ++d.skipped;
    }
  }
  if (d.entries.empty() && d.error.empty())
    d.error = "no record in the dataset has a prompt (JSONL {\"prompt\", \"output_len\"} or ShareGPT conversations)";
  return d;
}

// When each request is sent, in seconds after the start: the first at 0, then
// exponential gaps of mean 1/rate (Poisson arrivals). An infinite or
// non-positive rate sends everything at once.
inline std::vector<double> arrival_offsets(size_t n, double rate, uint32_t seed) {
  std::vector<double> t(n, 0.0);
  if (!(rate > 0) || std::isinf(rate)) return t;
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  for (size_t i = 1; i < n; ++i) t[i] = t[i - 1] + gap(rng);
  return t;
}

}  // namespace pagoda::cli::bench_serve
