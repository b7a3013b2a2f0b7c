// pagoda tokenize: text -> token ids with a GGUF file's vocabulary.
//   pagoda tokenize -m model.gguf [--ids] [--no-bos] [--parse-special] TEXT
//   pagoda tokenize -m vocab.gguf --test-file strings.inp   (llama.cpp .out format)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {
namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

// One line per string of a llama.cpp vocab test file (strings end with
// "\n__ggml_vocab_test__\n"): the ids, each preceded by a space, encoded with
// no BOS/EOS and special-token text kept as plain text.
void print_test_file(const tokenizer::Tokenizer& tok, const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::string out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(sep, start)) != std::string::npos; start = pos + sep.size()) {
    for (int32_t id : tok.encode(std::string_view(text).substr(start, pos - start), false, false))
      fmt::format_to(std::back_inserter(out), " {}", id);
    out.push_back('\n');
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  CLI::App app{"Tokenize text with the vocabulary of a GGUF file (llama.cpp-compatible ids)",
               "pagoda tokenize"};
  std::string model_path, text, text_file, test_file;
  bool ids_only = false, no_bos = false, parse_special = false, no_render_special = false;
  app.add_option("-m,--model", model_path, "GGUF file with tokenizer.ggml.* metadata")->required();
  app.add_option("text", text, "text to tokenize");
  app.add_option("-f,--file", text_file, "read the text from this file");
  app.add_option("--test-file", test_file,
                 "llama.cpp vocab test strings (.inp): print one line of ids per string");
  app.add_flag("--ids", ids_only, "print only the ids, as a Python-style list");
  app.add_flag("--no-bos", no_bos, "do not add BOS/EOS even if the vocabulary asks for them");
  app.add_flag("--parse-special", parse_special,
               "turn special-token text such as <|im_start|> into those tokens");
  app.add_flag("--no-render-special", no_render_special, "show control tokens as empty pieces");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const int n_inputs = !text.empty() + !text_file.empty() + !test_file.empty();
  if (n_inputs != 1 && !(n_inputs == 0 && app.count("text"))) {
    std::fprintf(stderr, "pagoda tokenize: give exactly one of TEXT, --file or --test-file\n");
    return 2;
  }

  auto file = gguf::File::open(model_path);
  if (!file) {
    std::fprintf(stderr, "pagoda tokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tok = tokenizer::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "pagoda tokenize: %s\n", tok.error().message.c_str());
    return 1;
  }

  if (!test_file.empty() || !text_file.empty()) {
    const std::string& path = test_file.empty() ? text_file : test_file;
    if (!read_file(path, text)) {
      std::fprintf(stderr, "pagoda tokenize: cannot read '%s'\n", path.c_str());
      return 1;
    }
  }
  if (!test_file.empty()) {
    print_test_file(**tok, text);
    return 0;
  }

  const std::vector<int32_t> ids = (*tok)->encode(text, !no_bos, parse_special);
  std::string out;
  if (ids_only) {
    out = fmt::format("[{}]\n", fmt::join(ids, ", "));
  } else {
    for (int32_t id : ids)
      out += fmt::format("{:6d} -> '{}'\n", id, (*tok)->token_to_piece(id, !no_render_special));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace pagoda::cli
