// Global functions available to every template.
#include <fmt/format.h>

#include <cstdio>
#include <ctime>

#include "chat/jinja_operators.h"
#include "chat/jinja_template.h"

namespace pagoda::chat::jinja {
namespace {

Value make_range(Interpreter& in, CallArgs& a) {
  if (!a.keyword.empty()) type_error("range() takes no keyword arguments");
  if (a.positional.empty() || a.positional.size() > 3)
    type_error(fmt::format("range expected 1 to 3 arguments, got {}", a.positional.size()));
  int64_t start = 0, stop, step = 1;
  if (a.positional.size() == 1) {
    stop = to_int64(a.positional[0]);
  } else {
    start = to_int64(a.positional[0]);
    stop = to_int64(a.positional[1]);
    if (a.positional.size() == 3) step = to_int64(a.positional[2]);
  }
  for (const auto& v : a.positional)
    if (v.is_float()) type_error("'float' object cannot be interpreted as an integer");
  if (step == 0) throw_error("ValueError", "range() arg 3 must not be zero");
  // Count without overflow, then check the size before allocating.
  long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  long double count_ld = span <= 0 ? 0 : (span + (std::abs(static_cast<long double>(step)) - 1)) / std::abs(static_cast<long double>(step));
  if (count_ld > static_cast<long double>(in.limits().max_collection_items)) in.check_collection_size(in.limits().max_collection_items + 1);
  size_t count = static_cast<size_t>(count_ld);
  std::vector<Value> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.emplace_back(start + static_cast<int64_t>(i) * step);
  return Value::list(std::move(out));
}

// dict(mapping_or_pairs, **kwargs) into `d`.
void fill_dict(DictData& d, CallArgs& a, const char* name) {
  if (a.positional.size() > 1) type_error(fmt::format("{} expected at most 1 positional argument", name));
  if (!a.positional.empty()) {
    const Value& src = a.positional[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.as_dict()->entries()) d.set(k, v);
    } else {
      for (const auto& pair : iterate(src)) {
        auto kv = iterate(pair);
        if (kv.size() != 2) throw_error("ValueError", "dictionary update sequence element has wrong length");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.keyword) d.set(Value(k), v);
}

Value make_dict(Interpreter&, CallArgs& a) {
  Value d = Value::dict();
  fill_dict(*d.as_dict(), a, "dict");
  return d;
}

Value make_namespace(Interpreter&, CallArgs& a) {
  Value d = Value::dict();
  d.as_dict()->flavor = DictData::Flavor::namespace_object;
  fill_dict(*d.as_dict(), a, "namespace");
  return d;
}

Value raise_exception(Interpreter&, CallArgs& a) {
  std::string message = a.positional.empty() ? std::string() : a.positional[0].str();
  throw_error("TemplateError", message);
}

Value make_joiner(Interpreter&, CallArgs& a) {
  std::string sep = a.take(0, "sep", Value(", ")).str();
  a.expect_consumed("joiner");
  auto used = std::make_shared<bool>(false);
  return Value::function("joiner", [sep, used](Interpreter&, CallArgs&) -> Value {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  });
}

Value make_cycler(Interpreter&, CallArgs& a) {
  if (a.positional.empty()) type_error("cycler() needs at least one item");
  auto items = std::make_shared<std::vector<Value>>(a.positional);
  auto index = std::make_shared<size_t>(0);
  Value obj = Value::dict();
  obj.as_dict()->flavor = DictData::Flavor::namespace_object;
  std::weak_ptr<DictData> self = obj.as_dict();  // weak: the object holds these functions
  obj.as_dict()->set(Value("current"), items->front());
  obj.as_dict()->set(Value("next"), Value::function("next", [items, index, self](Interpreter&, CallArgs&) {
    Value v = (*items)[*index];
    *index = (*index + 1) % items->size();
    if (auto d = self.lock()) d->set(Value("current"), (*items)[*index]);
    return v;
  }));
  obj.as_dict()->set(Value("reset"), Value::function("reset", [items, index, self](Interpreter&, CallArgs&) {
    *index = 0;
    if (auto d = self.lock()) d->set(Value("current"), items->front());
    return Value::none();
  }));
  return obj;
}

bool parse_date(const std::string& date, std::tm* tm) {
  int y, m, d;
  char tail;
  if (std::sscanf(date.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return false;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  *tm = std::tm{};
  tm->tm_year = y - 1900;
  tm->tm_mon = m - 1;
  tm->tm_mday = d;
  tm->tm_isdst = -1;
  std::time_t t = timegm(tm);  // normalizes and fills tm_wday / tm_yday
  gmtime_r(&t, tm);
  return tm->tm_mday == d;
}

}  // namespace

void install_globals(Frame& frame, const RenderOptions& options) {
  frame.vars["range"] = Value::function("range", make_range);
  frame.vars["dict"] = Value::function("dict", make_dict);
  frame.vars["namespace"] = Value::function("namespace", make_namespace);
  frame.vars["raise_exception"] = Value::function("raise_exception", raise_exception);
  frame.vars["joiner"] = Value::function("joiner", make_joiner);
  frame.vars["cycler"] = Value::function("cycler", make_cycler);
  std::string pinned = options.pinned_date;
  frame.vars["strftime_now"] = Value::function("strftime_now", [pinned](Interpreter&, CallArgs& a) -> Value {
    std::string format = a.require(0, "format", "strftime_now").str();
    a.expect_consumed("strftime_now");
    std::tm tm{};
    if (!pinned.empty()) {
      if (!parse_date(pinned, &tm)) throw_error("ValueError", "pinned date must be YYYY-MM-DD, got '" + pinned + "'");
    } else {
      std::time_t now = std::time(nullptr);
      localtime_r(&now, &tm);
    }
    if (format.empty()) return Value("");
    if (format.size() > 4096) throw_error("ValueError", "strftime format longer than 4096 bytes");
    std::string buffer(256 + format.size() * 64, '\0');  // %c expands 2 bytes to ~24
    size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &tm);
    if (n == 0) throw_error("ValueError", "strftime format produced no output or was too long");
    buffer.resize(n);
    return Value(buffer);
  });
}

}  // namespace pagoda::chat::jinja
