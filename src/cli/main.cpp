// pagoda: one binary, many subcommands.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*fn)(int, char**);
  const char* help;
};

constexpr Command kCommands[] = {
    {"run", pagoda::cli::cmd_run, "generate text from a prompt (or chat) on a GGUF model"},
    {"serve", pagoda::cli::cmd_serve, "serve a model over an OpenAI-compatible HTTP API"},
    {"info", pagoda::cli::cmd_info, "describe a GGUF file: metadata, tensors, sizes"},
    {"estimate", pagoda::cli::cmd_estimate, "memory a model needs (weights, KV cache, scratch) and what fits"},
    {"quantize", pagoda::cli::cmd_quantize, "convert a GGUF model to another weight type"},
    {"make-model", pagoda::cli::cmd_make_model, "write a demo or benchmark-shaped Llama GGUF"},
    {"tokenize", pagoda::cli::cmd_tokenize, "tokenize text with a model's vocabulary"},
    {"render-template", pagoda::cli::cmd_render_template, "render a chat template for messages"},
    {"logits", pagoda::cli::cmd_logits, "evaluate token ids in one batch and print top logits"},
    {"perplexity", pagoda::cli::cmd_perplexity, "perplexity / KL divergence over a text file"},
    {"bench", pagoda::cli::cmd_bench, "prompt and decode tokens/s through the engine, alone or in parallel"},
};

void usage(FILE* out) {
  std::fprintf(out, "pagoda: LLM inference engine for GGUF models on CPUs\n\nusage: pagoda <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-16s %s\n", c.name, c.help);
  std::fprintf(out, "\n'pagoda <command> --help' describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  for (const auto& c : kCommands)
    if (name == c.name) return c.fn(argc - 1, argv + 1);
  std::fprintf(stderr, "pagoda: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
