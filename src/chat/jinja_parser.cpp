#include "chat/jinja_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "chat/jinja_lexer.h"

namespace pagoda::chat::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse_all() {
    Body body = parse_body({});
    if (peek().type != TokenType::eof) fail(peek(), "unexpected tag");
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(const Token& t, std::string_view op) const { return t.type == TokenType::op && t.text == op; }
  bool is_name(const Token& t, std::string_view name) const {
    return t.type == TokenType::name && t.text == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(peek(), op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(peek(), name)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::text: return "text";
      case TokenType::var_begin: return "'{{'";
      case TokenType::var_end: return "'}}'";
      case TokenType::block_begin: return "'{%'";
      case TokenType::block_end: return "'%}'";
      case TokenType::eof: return "end of template";
      case TokenType::string: return "string literal";
      default: return "'" + t.text + "'";
    }
  }
  [[noreturn]] void fail(const Token& t, const std::string& message) {
    JinjaError err("TemplateSyntaxError", message);
    err.set_location(t.line, t.column);
    throw err;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail(peek(), fmt::format("expected '{}', found {}", op, describe(peek())));
  }
  void expect(TokenType type, std::string_view what) {
    if (peek().type != type) fail(peek(), fmt::format("expected {}, found {}", what, describe(peek())));
    next();
  }
  std::string expect_name() {
    if (peek().type != TokenType::name) fail(peek(), "expected a name, found " + describe(peek()));
    return next().text;
  }
  template <typename T>
  std::unique_ptr<T> make(const Token& at) {
    auto n = std::make_unique<T>();
    n->line = at.line;
    n->column = at.column;
    return n;
  }
  template <typename T, typename K>
  std::unique_ptr<T> make(const Token& at, K kind) {
    auto n = std::make_unique<T>(kind);
    n->line = at.line;
    n->column = at.column;
    return n;
  }

  struct DepthGuard {
    DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxParseDepth)
        parser.fail(parser.peek(), fmt::format("template nested deeper than {} levels", kMaxParseDepth));
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  // ---- statements ----

  // Parses until a block tag whose name is in `end_names` (left unconsumed,
  // positioned at that name) or the end of input.
  Body parse_body(std::initializer_list<std::string_view> end_names) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.type == TokenType::eof) {
        if (end_names.size() != 0)
          fail(t, fmt::format("unexpected end of template: expected '{{% {} %}}'", *end_names.begin()));
        return body;
      }
      if (t.type == TokenType::text) {
        auto s = make<TextStmt>(t);
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (t.type == TokenType::var_begin) {
        auto s = make<PrintStmt>(t);
        next();
        s->value = parse_tuple(true);
        expect(TokenType::var_end, "'}}'");
        body.push_back(std::move(s));
      } else if (t.type == TokenType::block_begin) {
        const Token& name = peek(1);
        if (name.type == TokenType::name &&
            std::find(end_names.begin(), end_names.end(), name.text) != end_names.end()) {
          next();  // '{%'
          return body;
        }
        next();
        if (StmtPtr s = parse_statement()) body.push_back(std::move(s));
      } else {
        fail(t, "unexpected " + describe(t));
      }
    }
  }

  void end_tag() { expect(TokenType::block_end, "'%}'"); }

  StmtPtr parse_statement() {
    const Token& t = peek();
    if (t.type != TokenType::name) fail(t, "expected a tag name, found " + describe(t));
    std::string tag = t.text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "generation") {
      // transformers' AssistantTracker: the content renders as is.
      next();
      end_tag();
      Body body = parse_body({"endgeneration"});
      next();
      end_tag();
      auto s = make<WithStmt>(t);
      s->body = std::move(body);
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(t, fmt::format("'{}' outside of a loop", tag));
      auto s = make<ControlStmt>(t, tag == "break" ? StmtKind::break_ : StmtKind::continue_);
      next();
      end_tag();
      return s;
    }
    fail(t, fmt::format("unknown or unsupported tag '{}'", tag));
  }

  StmtPtr parse_if() {
    auto s = make<IfStmt>(next());
    ExprPtr cond = parse_tuple(true);
    end_tag();
    while (true) {
      Body body = parse_body({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      std::string which = next().text;
      if (which == "elif") {
        cond = parse_tuple(true);
        end_tag();
        continue;
      }
      end_tag();
      if (which == "else") {
        s->otherwise = parse_body({"endif"});
        next();
        end_tag();
      }
      return s;
    }
  }

  // Names to assign: `a`, `a, b`, `(a, b)`.
  std::vector<std::string> parse_target_names() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (paren && is_op(peek(), ")")) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for() {
    auto s = make<ForStmt>(next());
    s->targets = parse_target_names();
    if (!skip_name("in")) fail(peek(), "expected 'in' in for loop, found " + describe(peek()));
    s->iterable = parse_tuple(false);
    if (skip_name("if")) s->filter = parse_tuple(true);
    if (is_name(peek(), "recursive")) fail(peek(), "recursive for loops are not supported");
    end_tag();
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (next().text == "else") {
      end_tag();
      s->otherwise = parse_body({"endfor"});
      next();
    }
    end_tag();
    return s;
  }

  AssignTarget parse_assign_target() {
    AssignTarget target;
    if (peek().type == TokenType::name && is_op(peek(1), ".")) {
      target.names.push_back(next().text);
      next();
      target.attribute = expect_name();
      return target;
    }
    target.names = parse_target_names();
    return target;
  }

  StmtPtr parse_set() {
    const Token& at = next();
    AssignTarget target = parse_assign_target();
    if (skip_op("=")) {
      auto s = make<SetStmt>(at);
      s->target = std::move(target);
      s->value = parse_tuple(true);
      end_tag();
      return s;
    }
    auto s = make<SetBlockStmt>(at);
    s->target = std::move(target);
    while (skip_op("|")) s->filters.push_back(parse_filter_call(nullptr));
    end_tag();
    s->body = parse_body({"endset"});
    next();
    end_tag();
    return s;
  }

  std::vector<MacroParam> parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(peek(), ")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(peek(), ")")) break;
      MacroParam p;
      p.name = expect_name();
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  StmtPtr parse_macro() {
    auto s = make<MacroStmt>(next());
    s->name = expect_name();
    s->params = parse_params();
    end_tag();
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endmacro"});
    loop_depth_ = saved_loops;
    next();
    end_tag();
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = make<CallBlockStmt>(next());
    if (is_op(peek(), "(")) s->caller_params = parse_params();
    const Token& at = peek();
    ExprPtr call = parse_expression(true);
    if (call->kind != ExprKind::call) fail(at, "expected a macro call after 'call'");
    s->call.reset(static_cast<CallExpr*>(call.release()));
    end_tag();
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endcall"});
    loop_depth_ = saved_loops;
    next();
    end_tag();
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make<FilterBlockStmt>(next());
    do {
      s->filters.push_back(parse_filter_call(nullptr));
    } while (skip_op("|"));
    end_tag();
    s->body = parse_body({"endfilter"});
    next();
    end_tag();
    return s;
  }

  StmtPtr parse_with() {
    auto s = make<WithStmt>(next());
    while (peek().type != TokenType::block_end) {
      if (!s->assignments.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      s->assignments.emplace_back(std::move(name), parse_expression(true));
    }
    end_tag();
    s->body = parse_body({"endwith"});
    next();
    end_tag();
    return s;
  }

  // ---- expressions ----

  // Comma-separated expressions form a tuple (`{{ a, b }}`, `set x = 1, 2`).
  ExprPtr parse_tuple(bool with_condition) {
    const Token& at = peek();
    ExprPtr first = parse_expression(with_condition);
    if (!is_op(peek(), ",")) return first;
    auto tuple = make<CollectionExpr>(at, ExprKind::tuple);
    tuple->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (peek().type == TokenType::block_end || peek().type == TokenType::var_end || is_op(peek(), ")"))
        break;
      tuple->items.push_back(parse_expression(with_condition));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condition) {
    DepthGuard guard(*this);
    const Token& at = peek();
    ExprPtr expr = parse_or();
    if (!with_condition) return expr;
    while (skip_name("if")) {
      auto c = make<ConditionalExpr>(at);
      c->then = std::move(expr);
      c->condition = parse_or();
      if (skip_name("else")) c->otherwise = parse_expression(true);
      expr = std::move(c);
    }
    return expr;
  }

  ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    auto b = make<BinaryExpr>(at);
    b->op = std::move(op);
    b->left = std::move(left);
    b->right = std::move(right);
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name(peek(), "or")) {
      const Token& at = next();
      left = binary(at, "or", std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name(peek(), "and")) {
      const Token& at = next();
      left = binary(at, "and", std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name(peek(), "not")) {
      DepthGuard guard(*this);
      auto u = make<UnaryExpr>(next());
      u->op = "not";
      u->operand = parse_not();
      return u;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& at = peek();
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      std::string op;
      const Token& t = peek();
      if (t.type == TokenType::op &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" ||
           t.text == ">=")) {
        op = t.text;
        next();
      } else if (is_name(t, "in")) {
        op = "in";
        next();
      } else if (is_name(t, "not") && is_name(peek(1), "in")) {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make<CompareExpr>(at);
        cmp->first = std::move(first);
      }
      cmp->rest.emplace_back(std::move(op), parse_math1());
    }
    if (cmp) return cmp;
    return first;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op(peek(), "+") || is_op(peek(), "-")) {
      const Token& at = next();
      left = binary(at, at.text, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op(peek(), "~")) {
      const Token& at = next();
      left = binary(at, "~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op(peek(), "*") || is_op(peek(), "/") || is_op(peek(), "//") || is_op(peek(), "%")) {
      const Token& at = next();
      left = binary(at, at.text, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op(peek(), "**")) {
      const Token& at = next();
      left = binary(at, "**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op(peek(), "-") || is_op(peek(), "+")) {
      auto u = make<UnaryExpr>(peek());
      u->op = next().text;
      u->operand = parse_unary(false);
      node = std::move(u);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case TokenType::name: {
        next();
        if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
          auto l = make<LiteralExpr>(t);
          l->value = Value(t.text == "true" || t.text == "True");
          return l;
        }
        if (t.text == "none" || t.text == "None") {
          auto l = make<LiteralExpr>(t);
          l->value = Value::none();
          return l;
        }
        auto n = make<NameExpr>(t);
        n->name = t.text;
        return n;
      }
      case TokenType::string: {
        auto l = make<LiteralExpr>(t);
        std::string s;
        while (peek().type == TokenType::string) s += next().text;  // adjacent literals join
        l->value = Value(std::move(s));
        return l;
      }
      case TokenType::integer: {
        auto l = make<LiteralExpr>(next());
        l->value = Value(t.int_value);
        return l;
      }
      case TokenType::floating: {
        auto l = make<LiteralExpr>(next());
        l->value = Value(t.float_value);
        return l;
      }
      case TokenType::op:
        if (t.text == "(") {
          next();
          if (skip_op(")")) return make<CollectionExpr>(t, ExprKind::tuple);
          ExprPtr inner = parse_expression(true);
          if (is_op(peek(), ",")) {
            auto tuple = make<CollectionExpr>(t, ExprKind::tuple);
            tuple->items.push_back(std::move(inner));
            while (skip_op(",")) {
              if (is_op(peek(), ")")) break;
              tuple->items.push_back(parse_expression(true));
            }
            inner = std::move(tuple);
          }
          expect_op(")");
          return inner;
        }
        if (t.text == "[") {
          next();
          auto list = make<CollectionExpr>(t, ExprKind::list);
          while (!is_op(peek(), "]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op(peek(), "]")) break;
            list->items.push_back(parse_expression(true));
          }
          expect_op("]");
          return list;
        }
        if (t.text == "{") {
          next();
          auto dict = make<CollectionExpr>(t, ExprKind::dict);
          while (!is_op(peek(), "}")) {
            if (!dict->items.empty()) expect_op(",");
            if (is_op(peek(), "}")) break;
            dict->keys.push_back(parse_expression(true));
            expect_op(":");
            dict->items.push_back(parse_expression(true));
          }
          expect_op("}");
          return dict;
        }
        break;
      default: break;
    }
    fail(t, "unexpected " + describe(t) + " in expression");
  }

  // Postfix nodes (attribute, item, call) report the position of their object.
  static ExprPtr located_like(ExprPtr made, const Expr& origin) {
    made->line = origin.line;
    made->column = origin.column;
    return made;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      const Token& t = peek();
      if (is_op(t, ".")) {
        next();
        const Token& attr = peek();
        if (attr.type == TokenType::name) {
          auto a = make<AttributeExpr>(t);
          a->object = std::move(node);
          a->name = next().text;
          const Expr& origin = *a->object;
          node = located_like(std::move(a), origin);
        } else if (attr.type == TokenType::integer) {
          auto item = make<ItemExpr>(t);
          item->object = std::move(node);
          auto index = make<LiteralExpr>(attr);
          index->value = Value(next().int_value);
          item->index = std::move(index);
          const Expr& origin = *item->object;
          node = located_like(std::move(item), origin);
        } else {
          fail(attr, "expected an attribute name after '.'");
        }
      } else if (is_op(t, "[")) {
        next();
        Token origin = t;
        origin.line = node->line;
        origin.column = node->column;
        node = parse_subscript(origin, std::move(node));
      } else if (is_op(t, "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(const Token& at, ExprPtr object) {
    ExprPtr parts[3];
    int colons = 0;
    while (!is_op(peek(), "]")) {
      if (skip_op(":")) {
        if (++colons > 2) fail(peek(), "too many ':' in slice");
        continue;
      }
      if (parts[colons]) fail(peek(), "expected ':' or ']' in subscript");
      parts[colons] = parse_expression(true);
    }
    expect_op("]");
    if (colons == 0) {
      if (!parts[0]) fail(at, "empty subscript");
      auto item = make<ItemExpr>(at);
      item->object = std::move(object);
      item->index = std::move(parts[0]);
      return item;
    }
    auto slice = make<SliceExpr>(at);
    slice->object = std::move(object);
    slice->start = std::move(parts[0]);
    slice->stop = std::move(parts[1]);
    slice->step = std::move(parts[2]);
    return slice;
  }

  void parse_args(ArgList& args) {
    expect_op("(");
    bool first = true;
    while (!is_op(peek(), ")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(peek(), ")")) break;
      if (skip_op("*")) {
        args.star = parse_expression(true);
      } else if (skip_op("**")) {
        args.star_star = parse_expression(true);
      } else if (peek().type == TokenType::name && is_op(peek(1), "=")) {
        std::string key = next().text;
        next();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        args.positional.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = make<CallExpr>(peek());
    c->callee = std::move(callee);
    parse_args(c->args);
    return c;
  }

  // name(args) after '|'; `operand` may be null inside filter blocks.
  std::unique_ptr<FilterExpr> parse_filter_call(ExprPtr operand) {
    const Token& at = peek();
    auto f = make<FilterExpr>(at, ExprKind::filter);
    f->operand = std::move(operand);
    f->name = expect_name();
    while (is_op(peek(), ".") && peek(1).type == TokenType::name) {
      next();
      f->name += "." + next().text;
    }
    if (is_op(peek(), "(")) parse_args(f->args);
    return f;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (skip_op("|")) {
        node = parse_filter_call(std::move(node));
      } else if (is_name(peek(), "is")) {
        const Token& at = next();
        auto test = make<FilterExpr>(at, ExprKind::test);
        test->negated = skip_name("not");
        test->operand = std::move(node);
        test->name = expect_name();
        const Token& t = peek();
        if (is_op(t, "(")) {
          parse_args(test->args);
        } else if ((t.type == TokenType::name || t.type == TokenType::string ||
                    t.type == TokenType::integer || t.type == TokenType::floating || is_op(t, "[") ||
                    is_op(t, "{")) &&
                   !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
          DepthGuard guard(*this);
          test->args.positional.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(test);
      } else if (is_op(peek(), "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse_template(std::string_view source) { return Parser(tokenize(source)).parse_all(); }

}  // namespace pagoda::chat::jinja
