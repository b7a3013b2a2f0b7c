#pragma once
// Public entry point of the Jinja engine: parse once, render many times.
//
//   auto t = jinja::Template::parse(source);          // Expected<Template>
//   auto text = t->render(context_json, options);     // Expected<std::string>
//
// Semantics follow Python Jinja2 as transformers configures it (sandboxed,
// trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now,
// tojson with ensure_ascii=False). Errors carry the Python exception name,
// a message and the template line/column.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/expected.h"
#include "chat/jinja_interpreter.h"

namespace pagoda::chat::jinja {

struct RenderOptions {
  RenderLimits limits;
  // "YYYY-MM-DD" that strftime_now() reports (midnight of that day); empty
  // means the current local time.
  std::string pinned_date;
};

class Template {
 public:
  // Parses template source; syntax errors name the line and column.
  static Expected<Template> parse(const std::string& source);

  // Renders with `context` (a JSON object: its keys become variables). Never
  // throws; thread-safe (each call has its own interpreter).
  Expected<std::string> render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

// Adds the global functions (range, namespace, dict, raise_exception,
// strftime_now, joiner, cycler) to `frame`.
void install_globals(Frame& frame, const RenderOptions& options);

}  // namespace pagoda::chat::jinja
