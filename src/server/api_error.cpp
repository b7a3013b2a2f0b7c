#include "server/api_error.h"

namespace pagoda::server {

ApiError bad_request(std::string message, std::optional<std::string> param) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

nlohmann::ordered_json error_json(const ApiError& e) {
  nlohmann::ordered_json body;
  body["message"] = e.message;
  body["type"] = e.type;
  body["param"] = e.param ? nlohmann::ordered_json(*e.param) : nlohmann::ordered_json(nullptr);
  body["code"] = e.code ? nlohmann::ordered_json(*e.code) : nlohmann::ordered_json(nullptr);
  return {{"error", body}};
}

std::string json_text(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace pagoda::server
