#pragma once
// OpenAI-shaped API errors ({"error": {message, type, param, code}}) and a
// value-or-error result type for the server's request handling.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pagoda::server {

struct ApiError {
  int status = 400;  // HTTP status
  std::string message;
  std::string type = "invalid_request_error";
  std::optional<std::string> param;  // the request field at fault
  std::optional<std::string> code;
};

// 400 naming the parameter.
ApiError bad_request(std::string message, std::optional<std::string> param = std::nullopt);
// {"error": {...}} as OpenAI writes it.
nlohmann::ordered_json error_json(const ApiError& e);

template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}
  ApiResult(ApiError error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

// Serializes JSON for the wire: invalid UTF-8 (a token's partial bytes) is replaced, never thrown
// on.
std::string json_text(const nlohmann::ordered_json& j);

}  // namespace pagoda::server
