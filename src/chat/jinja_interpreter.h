#pragma once
// Executes a parsed template. One Interpreter renders one template once; it
// is not thread-safe, but separate Interpreters may run concurrently.
// Limits bound steps, nesting depth and output size so hostile templates end
// with a clear error instead of hanging or exhausting memory.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "chat/jinja_ast.h"

namespace pagoda::chat::jinja {

struct RenderLimits {
  uint64_t max_steps = 20'000'000;        // statements + expressions evaluated
  int max_depth = 600;                    // nesting of evaluation + macro calls
  size_t max_output_bytes = 16u << 20;    // any output buffer or string value
  size_t max_collection_items = 1u << 22; // any list built by the template
};

// A variable scope; lookups walk to the parent.
struct Frame {
  std::shared_ptr<Frame> parent;
  std::unordered_map<std::string, Value> vars;

  const Value* lookup(const std::string& name) const;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  // `globals` is the outermost scope (context variables and built-ins).
  Interpreter(FramePtr globals, RenderLimits limits);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders the template body; throws JinjaError on any failure.
  std::string render(const Body& body);

  // Calls any callable value with evaluated arguments.
  Value call(const Value& callee, CallArgs& args);
  // Applies a filter by name ("upper", "map", ...).
  Value filter(const std::string& name, const Value& operand, CallArgs& args);
  // Applies a test by name ("defined", "divisibleby", ...).
  bool test(const std::string& name, const Value& operand, CallArgs& args);

  const RenderLimits& limits() const { return limits_; }
  // Fails when a string of `bytes` would exceed the output limit.
  void check_string_size(size_t bytes) const;
  // Fails when a list of `items` would exceed the collection limit.
  void check_collection_size(size_t items) const;
  // Remembers a list/dict the template mutated, so reference cycles it may
  // have built are broken when rendering ends.
  void note_mutation(const Value& container);

 private:
  enum class Flow { normal, break_loop, continue_loop };
  friend struct DepthScope;

  void step();
  Flow exec_body(const Body& body);
  Flow exec(const Stmt& stmt);
  Flow exec_if(const IfStmt& s);
  Flow exec_for(const ForStmt& s);
  void exec_set(const SetStmt& s);
  void exec_set_block(const SetBlockStmt& s);
  void exec_macro(const MacroStmt& s);
  void exec_call_block(const CallBlockStmt& s);
  void exec_filter_block(const FilterBlockStmt& s);
  Flow exec_with(const WithStmt& s);
  void assign(const AssignTarget& target, Value value);
  std::string capture(const Body& body);
  void write(const std::string& text);
  Value make_macro(const std::string& name, const std::vector<MacroParam>* params, const Body* body);

  Value eval(const Expr& e);
  Value eval_name(const NameExpr& e);
  Value eval_collection(const CollectionExpr& e);
  Value eval_call(const CallExpr& e);
  Value eval_filter(const FilterExpr& e, const Value* operand);
  Value eval_binary(const BinaryExpr& e);
  Value eval_compare(const CompareExpr& e);
  CallArgs eval_args(const ArgList& args);

  FramePtr globals_;
  FramePtr scope_;
  RenderLimits limits_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::vector<FramePtr> closure_frames_;
  std::vector<Value> mutated_;
};

// Counts nesting of evaluation and macro calls against the depth limit.
struct DepthScope {
  explicit DepthScope(Interpreter& i);
  ~DepthScope();
  Interpreter& interp;
};

// True when a filter / a test of that name exists (for the `filter` and `test` tests).
bool is_filter_name(const std::string& name);
bool is_test_name(const std::string& name);

}  // namespace pagoda::chat::jinja
