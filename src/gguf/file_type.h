#pragma once
// general.file_type: llama.cpp's "llama_ftype" numbers, which say how a model's
// weights were quantized as a whole (the mix, not each tensor's type).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/tensor_type.h"

namespace pagoda::gguf {

inline constexpr uint32_t kFileTypeGuessed = 1024;  // flag llama.cpp ORs in when it inferred the type

struct FileTypeInfo {
  uint32_t id;                // the general.file_type value
  std::string_view short_name;  // as llama-quantize takes it: "Q4_K_M"
  std::string_view name;        // as llama.cpp prints it: "Q4_K - Medium"
  TensorType main_type;         // the type most weight matrices get
};

// The known file type `id` (without the guessed flag), or nullopt.
std::optional<FileTypeInfo> file_type_info(uint32_t id);
// llama.cpp's display name for `id`, e.g. "Q4_K - Medium"; " (guessed)" is appended when
// the guessed flag is set and "unknown, may not work" stands for unknown ids.
std::string file_type_name(uint32_t id);
// Looks up a short name such as "q4_k_m" or "F16" (case-insensitive).
std::optional<FileTypeInfo> parse_file_type(std::string_view short_name);
// Every known file type, in id order (for help texts).
std::span<const FileTypeInfo> file_types();

}  // namespace pagoda::gguf
