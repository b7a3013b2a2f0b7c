#pragma once
// Errors as values at module edges: Expected<T> holds a T or an Error message.
// Inside a module, code may throw pagoda::Error and convert at the edge with
// capture(); nothing that reads untrusted input may abort.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace pagoda {

// A human-readable failure. The message names what failed and why
// (e.g. "model.gguf: tensor 'x' at byte 1234: offset past end of file").
struct Error {
  std::string message;
};

// Thrown inside modules; carries the same message as Error.
class Exception : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    if (!ok()) throw Exception(error().message);
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw Exception(error().message);
    return std::get<0>(std::move(v_));
  }
  const T& value() const& {
    if (!ok()) throw Exception(error().message);
    return std::get<0>(v_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  void value() const {
    if (!ok_) throw Exception(error_.message);
  }

 private:
  Error error_;
  bool ok_ = true;
};

// Runs fn() and converts a thrown pagoda::Exception (or std::exception) into an Error.
template <typename Fn>
auto capture(Fn&& fn) -> Expected<decltype(fn())> {
  try {
    if constexpr (std::is_void_v<decltype(fn())>) {
      fn();
      return {};
    } else {
      return fn();
    }
  } catch (const std::bad_alloc&) {
    return Error{"out of memory"};
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace pagoda
