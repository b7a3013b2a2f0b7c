#pragma once
// Seeded random GBNF grammars and vocabularies for property tests and the fuzz test.
#include <random>
#include <string>
#include <vector>

namespace pagoda::test {

class RandomGbnf {
 public:
  explicit RandomGbnf(std::mt19937& rng) : rng_(rng) {}

  std::string make() {
    n_rules_ = 1 + static_cast<int>(rng_() % 5);
    std::string out;
    for (int r = 0; r < n_rules_; ++r) {
      if (r == 0) {
        out += "root";
      } else {
        out += 'r';
        out += std::to_string(r);
      }
      out += " ::= ";
      out += alt(0);
      out += '\n';
    }
    return out;
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  std::string alt(int depth) {
    std::string out = seq(depth);
    for (int k = pick(3); k > 0; --k) out += " | " + seq(depth);
    return out;
  }
  std::string seq(int depth) {
    std::string out;
    for (int k = pick(4); k > 0; --k) {
      if (!out.empty()) out += ' ';
      out += element(depth);
    }
    return out;
  }
  std::string element(int depth) {
    static const char* kLiterals[] = {"\"a\"", "\"b\"", "\"ab\"", "\"é\"", "\"日\"", "\"\\\"\"",
                                      "\"{\"", "\"}\"", "\" \"",  "\"0\"", "\"😀\""};
    static const char* kClasses[] = {"[ab]", "[^a]", "[a-c]", "[é-ê]", ".", "[0-9]", "[^\"\\\\]", "[日本]"};
    static const char* kPostfix[] = {"", "", "", "*", "+", "?", "{0,2}", "{1,3}", "{2}"};
    std::string e;
    const int kind = pick(depth < 3 ? 4 : 3);
    if (kind == 0) e = kLiterals[pick(11)];
    if (kind == 1) e = kClasses[pick(8)];
    if (kind == 2) e = n_rules_ > 1 && pick(2) ? "r" + std::to_string(1 + pick(n_rules_ - 1)) : "\"c\"";
    if (kind == 3) e = "( " + alt(depth + 1) + " )";
    return e + kPostfix[pick(9)];
  }

  std::mt19937& rng_;
  int n_rules_ = 1;
};

// Random byte strings over an alphabet that includes multi-byte characters and their bytes.
inline std::vector<std::string> random_pieces(std::mt19937& rng, int n, int max_len) {
  static const std::vector<std::string> kUnits = {"a",    "b", "c",        "0",    "1",    " ",  "\"",
                                                  "{",    "}", "é",        "\xC3", "\xA9", "日", "\xE6\x97",
                                                  "\xA5", "😀", "\xF0\x9F", "x",    ":",    ","};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_len));
    while (static_cast<int>(s.size()) < len) s += kUnits[rng() % kUnits.size()];
    out.push_back(s);
  }
  return out;
}

}  // namespace pagoda::test
