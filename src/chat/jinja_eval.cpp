// Expression evaluation for Interpreter (statements live in jinja_interpreter.cpp).
#include <fmt/format.h>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_operators.h"

namespace pagoda::chat::jinja {

Value Interpreter::eval(const Expr& e) {
  step();
  DepthScope depth(*this);
  try {
    switch (e.kind) {
      case ExprKind::literal: return static_cast<const LiteralExpr&>(e).value;
      case ExprKind::name: return eval_name(static_cast<const NameExpr&>(e));
      case ExprKind::list:
      case ExprKind::tuple:
      case ExprKind::dict: return eval_collection(static_cast<const CollectionExpr&>(e));
      case ExprKind::attribute: {
        const auto& a = static_cast<const AttributeExpr&>(e);
        Value obj = eval(*a.object);
        if (obj.is_undefined()) obj.fail_undefined();
        return get_attribute(obj, a.name);
      }
      case ExprKind::item: {
        const auto& i = static_cast<const ItemExpr&>(e);
        Value obj = eval(*i.object);
        if (obj.is_undefined()) obj.fail_undefined();
        return get_item(obj, eval(*i.index));
      }
      case ExprKind::slice: {
        const auto& s = static_cast<const SliceExpr&>(e);
        Value obj = eval(*s.object);
        if (obj.is_undefined()) obj.fail_undefined();
        Value start = s.start ? eval(*s.start) : Value::none();
        Value stop = s.stop ? eval(*s.stop) : Value::none();
        Value step_v = s.step ? eval(*s.step) : Value::none();
        return slice_value(obj, &start, &stop, &step_v);
      }
      case ExprKind::call: return eval_call(static_cast<const CallExpr&>(e));
      case ExprKind::filter:
      case ExprKind::test: return eval_filter(static_cast<const FilterExpr&>(e), nullptr);
      case ExprKind::unary: {
        const auto& u = static_cast<const UnaryExpr&>(e);
        Value v = eval(*u.operand);
        if (u.op == "not") return Value(!v.truthy());
        return unary_operator(u.op, v);
      }
      case ExprKind::binary: return eval_binary(static_cast<const BinaryExpr&>(e));
      case ExprKind::compare: return eval_compare(static_cast<const CompareExpr&>(e));
      case ExprKind::conditional: {
        const auto& c = static_cast<const ConditionalExpr&>(e);
        if (eval(*c.condition).truthy()) return eval(*c.then);
        if (c.otherwise) return eval(*c.otherwise);
        return Value::undefined(fmt::format(
            "the inline if-expression on line {} evaluated to false and no else section was defined", e.line));
      }
    }
  } catch (JinjaError& err) {
    if (!err.has_location()) err.set_location(e.line, e.column);
    throw;
  }
  return Value();
}

Value Interpreter::eval_name(const NameExpr& e) {
  if (const Value* v = scope_->lookup(e.name)) return *v;
  return Value::undefined("'" + e.name + "' is undefined");
}

Value Interpreter::eval_collection(const CollectionExpr& e) {
  check_collection_size(e.items.size());
  if (e.kind == ExprKind::dict) {
    Value d = Value::dict();
    for (size_t i = 0; i < e.items.size(); ++i) {
      Value key = eval(*e.keys[i]);
      d.as_dict()->set(key, eval(*e.items[i]));
    }
    return d;
  }
  std::vector<Value> items;
  items.reserve(e.items.size());
  for (const auto& item : e.items) items.push_back(eval(*item));
  return e.kind == ExprKind::tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
}

CallArgs Interpreter::eval_args(const ArgList& list) {
  CallArgs args;
  for (const auto& p : list.positional) args.positional.push_back(eval(*p));
  if (list.star) {
    for (auto& v : iterate(eval(*list.star))) args.positional.push_back(std::move(v));
  }
  for (const auto& [key, expr] : list.keyword) args.keyword.emplace_back(key, eval(*expr));
  if (list.star_star) {
    Value kw = eval(*list.star_star);
    if (!kw.is_dict()) type_error("argument after ** must be a mapping, not " + kw.type_name());
    for (const auto& [k, v] : kw.as_dict()->entries()) {
      if (!k.is_string()) type_error("keywords must be strings");
      args.keyword.emplace_back(k.as_string(), v);
    }
  }
  return args;
}

Value Interpreter::eval_call(const CallExpr& e) {
  if (e.callee->kind == ExprKind::attribute) {
    // obj.method(...) calls the method directly, without a bound-method value.
    const auto& a = static_cast<const AttributeExpr&>(*e.callee);
    Value obj = eval(*a.object);
    if (obj.is_undefined()) obj.fail_undefined();
    if (has_method(obj, a.name)) {
      CallArgs args = eval_args(e.args);
      return call_method(*this, obj, a.name, args);
    }
    Value callee = get_attribute(obj, a.name);
    CallArgs args = eval_args(e.args);
    return call(callee, args);
  }
  Value callee = eval(*e.callee);
  CallArgs args = eval_args(e.args);
  return call(callee, args);
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) callee.fail_undefined();
  if (!callee.is_function()) type_error("'" + callee.type_name() + "' object is not callable");
  // Copy the handle: the call may rebind the variable that held it.
  FunctionPtr fn = callee.as_function();
  return fn->call(*this, args);
}

Value Interpreter::eval_filter(const FilterExpr& e, const Value* operand) {
  Value v = operand ? *operand : eval(*e.operand);
  CallArgs args = eval_args(e.args);
  if (e.kind == ExprKind::test) return Value(test(e.name, v, args) != e.negated);
  return filter(e.name, v, args);
}

Value Interpreter::eval_binary(const BinaryExpr& e) {
  if (e.op == "and") {
    Value left = eval(*e.left);
    return left.truthy() ? eval(*e.right) : left;
  }
  if (e.op == "or") {
    Value left = eval(*e.left);
    return left.truthy() ? left : eval(*e.right);
  }
  Value left = eval(*e.left);
  Value right = eval(*e.right);
  return binary_operator(*this, e.op, left, right);
}

Value Interpreter::eval_compare(const CompareExpr& e) {
  Value left = eval(*e.first);
  for (const auto& [op, expr] : e.rest) {
    Value right = eval(*expr);
    bool ok;
    if (op == "==") ok = values_equal(left, right);
    else if (op == "!=") ok = !values_equal(left, right);
    else if (op == "in") ok = contains(right, left);
    else if (op == "notin") ok = !contains(right, left);
    else {
      int c = compare_values(left, right);
      ok = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
    }
    if (!ok) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

}  // namespace pagoda::chat::jinja
