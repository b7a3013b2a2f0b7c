#pragma once
// The chat page's files (web/ in the repository), compiled in by cmake/EmbedFiles.cmake into
// web_assets.cpp under the build folder.
#include <span>
#include <string_view>

namespace pagoda::server {

struct WebAsset {
  std::string_view name;  // file name under web/, e.g. "app.js"
  std::string_view data;  // its bytes
};

std::span<const WebAsset> web_assets();

}  // namespace pagoda::server
