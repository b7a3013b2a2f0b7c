#include "chat/jinja_template.h"

#include "chat/jinja_parser.h"

namespace pagoda::chat::jinja {

Expected<Template> Template::parse(const std::string& source) {
  try {
    Template t;
    t.body_ = std::make_shared<const Body>(parse_template(source));
    return t;
  } catch (const JinjaError& e) {
    return Error{e.what()};
  } catch (const std::bad_alloc&) {
    return Error{"out of memory while parsing the template"};
  }
}

Expected<std::string> Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_null() && !context.is_object()) return Error{"template context must be a JSON object"};
  auto globals = std::make_shared<Frame>();
  install_globals(*globals, options);
  try {
    auto vars = std::make_shared<Frame>();
    vars->parent = globals;
    if (context.is_object())
      for (const auto& [key, value] : context.items()) vars->vars[key] = Value::from_json(value);
    Interpreter interp(vars, options.limits);
    return interp.render(*body_);
  } catch (const JinjaError& e) {
    return Error{e.what()};
  } catch (const std::bad_alloc&) {
    return Error{"out of memory while rendering the template"};
  } catch (const std::exception& e) {
    return Error{std::string("template rendering failed: ") + e.what()};
  }
}

}  // namespace pagoda::chat::jinja
