// pagoda render-template: render a chat template for a conversation.
//   pagoda render-template (-m MODEL.gguf | --template FILE.jinja) --messages M.json
//       [--tools T.json] [--add-generation-prompt] [--bos-token S] [--eos-token S]
//       [--date YYYY-MM-DD] [--context EXTRA.json]
// Prints the prompt exactly (no newline added); a template error goes to
// stderr with exit status 1.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "gguf/gguf.h"

namespace pagoda::cli {
namespace {

using nlohmann::ordered_json;

Expected<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open file"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{path + ": read error"};
  return ss.str();
}

Expected<ordered_json> read_json_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  try {
    return ordered_json::parse(*text);
  } catch (const std::exception& e) {
    return Error{path + ": invalid JSON: " + e.what()};
  }
}

struct ModelTemplate {
  std::string source;
  std::optional<std::string> bos, eos;
};

// tokenizer.chat_template plus the BOS/EOS token texts from a GGUF vocabulary.
Expected<ModelTemplate> read_model_template(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  ModelTemplate out;
  auto source = (*file)->get_string("tokenizer.chat_template");
  if (!source) return Error{path + ": no tokenizer.chat_template in this GGUF file"};
  out.source = *source;
  const gguf::Array* tokens = (*file)->get_array("tokenizer.ggml.tokens");
  auto token_text = [&](const char* key) -> std::optional<std::string> {
    auto id = (*file)->get_int(key);
    if (!id || !tokens || *id < 0 || static_cast<size_t>(*id) >= tokens->strings.size()) return std::nullopt;
    return tokens->strings[static_cast<size_t>(*id)];
  };
  out.bos = token_text("tokenizer.ggml.bos_token_id");
  out.eos = token_text("tokenizer.ggml.eos_token_id");
  return out;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "pagoda render-template: %s\n", message.c_str());
  return 1;
}

}  // namespace

int cmd_render_template(int argc, char** argv) {
  CLI::App app{"Render a chat template (Jinja) for OpenAI-style messages", "pagoda render-template"};
  std::string model_path, template_path, messages_path, tools_path, context_path, date;
  std::optional<std::string> bos_token, eos_token;
  bool add_generation_prompt = false;
  auto* model_opt = app.add_option("-m,--model", model_path, "GGUF file: use its tokenizer.chat_template");
  auto* template_opt = app.add_option("--template", template_path, "Jinja template file");
  model_opt->excludes(template_opt);
  app.add_option("--messages", messages_path,
                 "JSON file: an array of messages, or an object with \"messages\" (and \"tools\")")
      ->required();
  app.add_option("--tools", tools_path, "JSON file with the tools array");
  app.add_flag("--add-generation-prompt", add_generation_prompt, "end with the assistant turn's header");
  app.add_option("--bos-token", bos_token, "BOS token text (default: the model's, else empty)");
  app.add_option("--eos-token", eos_token, "EOS token text (default: the model's, else empty)");
  app.add_option("--date", date, "YYYY-MM-DD reported by strftime_now() (default: today)");
  app.add_option("--context", context_path, "JSON object file with extra template variables");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (model_path.empty() && template_path.empty()) return fail("give a model (-m) or a template (--template)");

  std::string source;
  if (!model_path.empty()) {
    auto model = read_model_template(model_path);
    if (!model) return fail(model.error().message);
    source = model->source;
    if (!bos_token) bos_token = model->bos;
    if (!eos_token) eos_token = model->eos;
  } else {
    auto text = read_text_file(template_path);
    if (!text) return fail(text.error().message);
    source = std::move(*text);
  }

  auto messages_file = read_json_file(messages_path);
  if (!messages_file) return fail(messages_file.error().message);
  ordered_json messages = *messages_file, tools;
  if (messages.is_object()) {
    if (messages.contains("tools")) tools = messages["tools"];
    ordered_json inner = messages.contains("messages") ? messages["messages"] : ordered_json();
    messages = std::move(inner);
  }
  if (!messages.is_array()) return fail(messages_path + ": expected an array of messages");
  if (!tools_path.empty()) {
    auto t = read_json_file(tools_path);
    if (!t) return fail(t.error().message);
    tools = std::move(*t);
  }
  ordered_json extra = ordered_json::object();
  if (!context_path.empty()) {
    auto c = read_json_file(context_path);
    if (!c) return fail(c.error().message);
    if (!c->is_object()) return fail(context_path + ": expected a JSON object");
    extra = std::move(*c);
  }

  auto out = chat::render_chat_ordered(source, messages, tools, add_generation_prompt, bos_token.value_or(""),
                                       eos_token.value_or(""), date.empty() ? std::nullopt : std::optional(date),
                                       extra);
  if (!out) return fail(out.error().message);
  std::fwrite(out->data(), 1, out->size(), stdout);
  return 0;
}

}  // namespace pagoda::cli
