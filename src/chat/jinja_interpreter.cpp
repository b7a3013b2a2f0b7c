#include "chat/jinja_interpreter.h"

#include <fmt/format.h>

#include "chat/jinja_operators.h"

namespace pagoda::chat::jinja {

const Value* Frame::lookup(const std::string& name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return &it->second;
  }
  return nullptr;
}

// Installs a child scope for the lifetime of the object.
struct ScopeGuard {
  ScopeGuard(FramePtr& slot, FramePtr parent) : slot(slot), saved(slot) {
    auto f = std::make_shared<Frame>();
    f->parent = std::move(parent);
    slot = std::move(f);
  }
  ~ScopeGuard() { slot = saved; }
  FramePtr& slot;
  FramePtr saved;
};

DepthScope::DepthScope(Interpreter& i) : interp(i) {
  if (++interp.depth_ > interp.limits_.max_depth) {
    --interp.depth_;
    throw_error("RecursionError", fmt::format("template nesting or macro recursion deeper than {} levels",
                                              interp.limits_.max_depth));
  }
}
DepthScope::~DepthScope() { --interp.depth_; }

Interpreter::Interpreter(FramePtr globals, RenderLimits limits)
    : globals_(std::move(globals)), limits_(limits) {}

Interpreter::~Interpreter() {
  // Break reference cycles (macro <-> its scope, list containing itself).
  for (auto& f : closure_frames_) f->vars.clear();
  for (auto& v : mutated_) {
    if (v.is_list()) v.as_list()->items.clear();
    if (v.is_dict()) v.as_dict()->clear();
  }
  if (scope_) scope_->vars.clear();
}

void Interpreter::step() {
  if (++steps_ > limits_.max_steps)
    throw_error("LimitError", fmt::format("template exceeded {} evaluation steps", limits_.max_steps));
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw_error("LimitError", fmt::format("template output exceeds {} bytes", limits_.max_output_bytes));
}

void Interpreter::check_collection_size(size_t items) const {
  if (items > limits_.max_collection_items)
    throw_error("LimitError", fmt::format("template built a list of more than {} items",
                                          limits_.max_collection_items));
}

void Interpreter::note_mutation(const Value& container) {
  if (mutated_.size() < 4096) {
    for (const auto& v : mutated_)
      if ((v.is_list() && container.is_list() && v.as_list() == container.as_list()) ||
          (v.is_dict() && container.is_dict() && v.as_dict() == container.as_dict()))
        return;
  }
  mutated_.push_back(container);
}

std::string Interpreter::render(const Body& body) {
  std::string output;
  out_ = &output;
  scope_ = std::make_shared<Frame>();
  scope_->parent = globals_;
  closure_frames_.push_back(scope_);
  exec_body(body);
  return output;
}

void Interpreter::write(const std::string& text) {
  check_string_size(out_->size() + text.size());
  out_->append(text);
}

std::string Interpreter::capture(const Body& body) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    exec_body(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

// ---- statements ----

Interpreter::Flow Interpreter::exec_body(const Body& body) {
  for (const auto& s : body) {
    Flow f = exec(*s);
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt) {
  step();
  DepthScope depth(*this);
  try {
    switch (stmt.kind) {
      case StmtKind::text: write(static_cast<const TextStmt&>(stmt).text); break;
      case StmtKind::print: write(eval(*static_cast<const PrintStmt&>(stmt).value).str()); break;
      case StmtKind::if_: return exec_if(static_cast<const IfStmt&>(stmt));
      case StmtKind::for_: return exec_for(static_cast<const ForStmt&>(stmt));
      case StmtKind::set: exec_set(static_cast<const SetStmt&>(stmt)); break;
      case StmtKind::set_block: exec_set_block(static_cast<const SetBlockStmt&>(stmt)); break;
      case StmtKind::macro: exec_macro(static_cast<const MacroStmt&>(stmt)); break;
      case StmtKind::call_block: exec_call_block(static_cast<const CallBlockStmt&>(stmt)); break;
      case StmtKind::filter_block: exec_filter_block(static_cast<const FilterBlockStmt&>(stmt)); break;
      case StmtKind::with: return exec_with(static_cast<const WithStmt&>(stmt));
      case StmtKind::break_: return Flow::break_loop;
      case StmtKind::continue_: return Flow::continue_loop;
    }
  } catch (JinjaError& e) {
    if (!e.has_location()) e.set_location(stmt.line, stmt.column);
    throw;
  }
  return Flow::normal;
}

Interpreter::Flow Interpreter::exec_if(const IfStmt& s) {
  for (const auto& [cond, body] : s.branches)
    if (eval(*cond).truthy()) return exec_body(body);
  return exec_body(s.otherwise);
}

// Python tuple unpacking of `value` into `n` names.
static std::vector<Value> unpack(const Value& value, size_t n) {
  std::vector<Value> parts = iterate(value);
  if (parts.size() > n) throw_error("ValueError", fmt::format("too many values to unpack (expected {})", n));
  if (parts.size() < n)
    throw_error("ValueError", fmt::format("not enough values to unpack (expected {}, got {})", n, parts.size()));
  return parts;
}

Interpreter::Flow Interpreter::exec_for(const ForStmt& s) {
  Value iterable = eval(*s.iterable);
  std::vector<Value> all = iterate(iterable);
  ScopeGuard scope(scope_, scope_);
  auto bind = [&](const Value& item) {
    if (s.targets.size() == 1) {
      scope_->vars[s.targets[0]] = item;
      return;
    }
    std::vector<Value> parts = unpack(item, s.targets.size());
    for (size_t i = 0; i < parts.size(); ++i) scope_->vars[s.targets[i]] = parts[i];
  };
  std::vector<Value> items;
  if (s.filter) {
    // `for x in y if cond`: the filter sees the loop variables, not `loop`.
    for (const auto& item : all) {
      step();
      bind(item);
      if (eval(*s.filter).truthy()) items.push_back(item);
    }
  } else {
    items = std::move(all);
  }
  if (items.empty()) {
    scope_->vars.clear();
    return exec_body(s.otherwise);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  Value loop = Value::dict();
  auto& ld = *loop.as_dict();
  ld.flavor = DictData::Flavor::loop;
  auto index_cell = std::make_shared<int64_t>(0);
  ld.set(Value("length"), Value(n));
  ld.set(Value("depth"), Value(1));
  ld.set(Value("depth0"), Value(0));
  ld.set(Value("cycle"), Value::function("cycle", [index_cell](Interpreter&, CallArgs& args) -> Value {
           if (args.positional.empty()) type_error("loop.cycle() needs at least one argument");
           return args.positional[static_cast<size_t>(*index_cell % static_cast<int64_t>(args.positional.size()))];
         }));
  for (int64_t i = 0; i < n; ++i) {
    step();
    *index_cell = i;
    bind(items[static_cast<size_t>(i)]);
    ld.set(Value("index0"), Value(i));
    ld.set(Value("index"), Value(i + 1));
    ld.set(Value("revindex0"), Value(n - i - 1));
    ld.set(Value("revindex"), Value(n - i));
    ld.set(Value("first"), Value(i == 0));
    ld.set(Value("last"), Value(i == n - 1));
    ld.set(Value("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)]
                                    : Value::undefined("there is no previous item"));
    ld.set(Value("nextitem"), i + 1 < n ? items[static_cast<size_t>(i + 1)]
                                        : Value::undefined("there is no next item"));
    scope_->vars["loop"] = loop;
    Flow f = exec_body(s.body);
    if (f == Flow::break_loop) break;
  }
  return Flow::normal;
}

void Interpreter::assign(const AssignTarget& target, Value value) {
  if (!target.attribute.empty()) {
    const Value* obj = scope_->lookup(target.names[0]);
    if (!obj || !obj->is_dict() || obj->as_dict()->flavor != DictData::Flavor::namespace_object)
      throw_error("TemplateRuntimeError", "cannot assign attribute on non-namespace object '" +
                                              target.names[0] + "'");
    obj->as_dict()->set(Value(target.attribute), std::move(value));
    note_mutation(*obj);
    return;
  }
  if (target.names.size() == 1) {
    scope_->vars[target.names[0]] = std::move(value);
    return;
  }
  std::vector<Value> parts = unpack(value, target.names.size());
  for (size_t i = 0; i < parts.size(); ++i) scope_->vars[target.names[i]] = parts[i];
}

void Interpreter::exec_set(const SetStmt& s) { assign(s.target, eval(*s.value)); }

void Interpreter::exec_set_block(const SetBlockStmt& s) {
  Value v(capture(s.body));
  for (const auto& f : s.filters) v = eval_filter(*f, &v);
  assign(s.target, std::move(v));
}

// Builds the callable for a macro (or a call block's caller()). It runs in a
// fresh scope whose parent is the scope where it was defined.
Value Interpreter::make_macro(const std::string& name, const std::vector<MacroParam>* params,
                              const Body* body) {
  FramePtr defining = scope_;
  closure_frames_.push_back(defining);
  return Value::function(name, [name, params, body, defining](Interpreter& in, CallArgs& args) {
    DepthScope depth(in);
    FramePtr saved = in.scope_;
    auto frame = std::make_shared<Frame>();
    frame->parent = defining;
    in.scope_ = frame;
    try {
      std::vector<Value> extra;
      for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i < params->size()) frame->vars[(*params)[i].name] = args.positional[i];
        else extra.push_back(args.positional[i]);
      }
      Value kwargs = Value::dict();
      for (auto& [key, value] : args.keyword) {
        if (key == "caller") {  // from a {% call %} block
          frame->vars["caller"] = value;
          continue;
        }
        bool is_param = false;
        for (const auto& p : *params) is_param = is_param || p.name == key;
        if (is_param) {
          if (frame->vars.count(key))
            type_error(fmt::format("macro '{}' got multiple values for argument '{}'", name, key));
          frame->vars[key] = value;
        } else {
          kwargs.as_dict()->set(Value(key), value);
        }
      }
      for (const auto& p : *params) {
        if (frame->vars.count(p.name)) continue;
        frame->vars[p.name] = p.default_value
                                  ? in.eval(*p.default_value)
                                  : Value::undefined(fmt::format("parameter '{}' was not provided", p.name));
      }
      frame->vars["varargs"] = Value::tuple(std::move(extra));
      frame->vars["kwargs"] = kwargs;
      std::string text = in.capture(*body);
      in.scope_ = saved;
      return Value(std::move(text));
    } catch (...) {
      in.scope_ = saved;
      throw;
    }
  });
}

void Interpreter::exec_macro(const MacroStmt& s) {
  scope_->vars[s.name] = make_macro(s.name, &s.params, &s.body);
}

void Interpreter::exec_call_block(const CallBlockStmt& s) {
  Value caller = make_macro("caller", &s.caller_params, &s.body);
  Value callee = eval(*s.call->callee);
  CallArgs args = eval_args(s.call->args);
  args.keyword.emplace_back("caller", caller);
  write(call(callee, args).str());
}

void Interpreter::exec_filter_block(const FilterBlockStmt& s) {
  Value v(capture(s.body));
  for (const auto& f : s.filters) v = eval_filter(*f, &v);
  write(v.str());
}

Interpreter::Flow Interpreter::exec_with(const WithStmt& s) {
  std::vector<std::pair<std::string, Value>> values;
  for (const auto& [name, expr] : s.assignments) values.emplace_back(name, eval(*expr));
  ScopeGuard scope(scope_, scope_);
  for (auto& [name, v] : values) scope_->vars[name] = std::move(v);
  return exec_body(s.body);
}

}  // namespace pagoda::chat::jinja
