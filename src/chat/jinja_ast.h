#pragma once
// The syntax tree of a parsed template: expressions and statements. Nodes own
// their children; every node keeps the line and column it came from.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace pagoda::chat::jinja {

struct Node {
  int line = 0, column = 0;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// Arguments written at a call site: f(a, b, key=c, *rest, **more).
struct ArgList {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star;       // *args, or null
  ExprPtr star_star;  // **kwargs, or null
};

enum class ExprKind {
  literal, name, list, tuple, dict, attribute, item, slice, call, filter, test,
  unary, binary, compare, conditional
};

struct Expr : Node {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  ExprKind kind;
};

struct LiteralExpr : Expr {
  LiteralExpr() : Expr(ExprKind::literal) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr() : Expr(ExprKind::name) {}
  std::string name;
};

// list, tuple (items) and dict (keys[i] -> items[i]).
struct CollectionExpr : Expr {
  explicit CollectionExpr(ExprKind k) : Expr(k) {}
  std::vector<ExprPtr> keys;
  std::vector<ExprPtr> items;
};

struct AttributeExpr : Expr {  // object.name
  AttributeExpr() : Expr(ExprKind::attribute) {}
  ExprPtr object;
  std::string name;
};

struct ItemExpr : Expr {  // object[index]
  ItemExpr() : Expr(ExprKind::item) {}
  ExprPtr object, index;
};

struct SliceExpr : Expr {  // object[start:stop:step], each part optional
  SliceExpr() : Expr(ExprKind::slice) {}
  ExprPtr object, start, stop, step;
};

struct CallExpr : Expr {
  CallExpr() : Expr(ExprKind::call) {}
  ExprPtr callee;
  ArgList args;
};

// value | name(args)  and  value is [not] name(args).
struct FilterExpr : Expr {
  explicit FilterExpr(ExprKind k) : Expr(k) {}
  ExprPtr operand;  // null inside {% filter %} blocks
  std::string name;
  ArgList args;
  bool negated = false;  // tests only
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::unary) {}
  std::string op;  // "not", "-", "+"
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::binary) {}
  std::string op;  // and or + - * / // % ** ~
  ExprPtr left, right;
};

struct CompareExpr : Expr {  // a < b <= c: chained like Python
  CompareExpr() : Expr(ExprKind::compare) {}
  ExprPtr first;
  std::vector<std::pair<std::string, ExprPtr>> rest;  // op: == != < > <= >= in notin
};

struct ConditionalExpr : Expr {  // then if cond else otherwise
  ConditionalExpr() : Expr(ExprKind::conditional) {}
  ExprPtr condition, then, otherwise;  // otherwise may be null (-> undefined)
};

// ---- statements ----

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  text, print, if_, for_, set, set_block, macro, call_block, filter_block, with, break_, continue_
};

struct Stmt : Node {
  explicit Stmt(StmtKind k) : kind(k) {}
  virtual ~Stmt() = default;
  StmtKind kind;
};

struct TextStmt : Stmt {
  TextStmt() : Stmt(StmtKind::text) {}
  std::string text;
};

struct PrintStmt : Stmt {
  PrintStmt() : Stmt(StmtKind::print) {}
  ExprPtr value;
};

struct IfStmt : Stmt {
  IfStmt() : Stmt(StmtKind::if_) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif
  Body otherwise;
};

struct ForStmt : Stmt {
  ForStmt() : Stmt(StmtKind::for_) {}
  std::vector<std::string> targets;  // one name, or several to unpack
  ExprPtr iterable, filter;          // filter: `for x in y if cond`, may be null
  Body body, otherwise;
};

// Where `set` stores: a name, several names (unpacking) or namespace.attr.
struct AssignTarget {
  std::vector<std::string> names;
  std::string attribute;  // non-empty: names[0].attribute
};

struct SetStmt : Stmt {
  SetStmt() : Stmt(StmtKind::set) {}
  AssignTarget target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {
  SetBlockStmt() : Stmt(StmtKind::set_block) {}
  AssignTarget target;
  std::vector<std::unique_ptr<FilterExpr>> filters;  // {% set x | upper %}
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  MacroStmt() : Stmt(StmtKind::macro) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};

struct CallBlockStmt : Stmt {
  CallBlockStmt() : Stmt(StmtKind::call_block) {}
  std::vector<MacroParam> caller_params;
  std::unique_ptr<CallExpr> call;
  Body body;
};

struct FilterBlockStmt : Stmt {
  FilterBlockStmt() : Stmt(StmtKind::filter_block) {}
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
};

struct WithStmt : Stmt {
  WithStmt() : Stmt(StmtKind::with) {}
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

struct ControlStmt : Stmt {  // break / continue
  explicit ControlStmt(StmtKind k) : Stmt(k) {}
};

}  // namespace pagoda::chat::jinja
