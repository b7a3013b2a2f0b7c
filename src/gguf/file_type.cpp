// The general.file_type table, numbered and named as in llama.cpp's llama_ftype.
#include "gguf/file_type.h"

#include <cctype>

namespace pagoda::gguf {
namespace {

using T = TensorType;
constexpr FileTypeInfo kFileTypes[] = {
    {0, "F32", "all F32", T::F32},
    {1, "F16", "F16", T::F16},
    {2, "Q4_0", "Q4_0", T::Q4_0},
    {3, "Q4_1", "Q4_1", T::Q4_1},
    {7, "Q8_0", "Q8_0", T::Q8_0},
    {8, "Q5_0", "Q5_0", T::Q5_0},
    {9, "Q5_1", "Q5_1", T::Q5_1},
    {10, "Q2_K", "Q2_K - Medium", T::Q2_K},
    {11, "Q3_K_S", "Q3_K - Small", T::Q3_K},
    {12, "Q3_K_M", "Q3_K - Medium", T::Q3_K},
    {13, "Q3_K_L", "Q3_K - Large", T::Q3_K},
    {14, "Q4_K_S", "Q4_K - Small", T::Q4_K},
    {15, "Q4_K_M", "Q4_K - Medium", T::Q4_K},
    {16, "Q5_K_S", "Q5_K - Small", T::Q5_K},
    {17, "Q5_K_M", "Q5_K - Medium", T::Q5_K},
    {18, "Q6_K", "Q6_K", T::Q6_K},
    {19, "IQ2_XXS", "IQ2_XXS - 2.0625 bpw", T::IQ2_XXS},
    {20, "IQ2_XS", "IQ2_XS - 2.3125 bpw", T::IQ2_XS},
    {21, "Q2_K_S", "Q2_K - Small", T::Q2_K},
    {22, "IQ3_XS", "IQ3_XS - 3.3 bpw", T::IQ3_S},
    {23, "IQ3_XXS", "IQ3_XXS - 3.0625 bpw", T::IQ3_XXS},
    {24, "IQ1_S", "IQ1_S - 1.5625 bpw", T::IQ1_S},
    {25, "IQ4_NL", "IQ4_NL - 4.5 bpw", T::IQ4_NL},
    {26, "IQ3_S", "IQ3_S - 3.4375 bpw", T::IQ3_S},
    {27, "IQ3_M", "IQ3_S mix - 3.66 bpw", T::IQ3_S},
    {28, "IQ2_S", "IQ2_S - 2.5 bpw", T::IQ2_XS},
    {29, "IQ2_M", "IQ2_M - 2.7 bpw", T::IQ2_S},
    {30, "IQ4_XS", "IQ4_XS - 4.25 bpw", T::IQ4_XS},
    {31, "IQ1_M", "IQ1_M - 1.75 bpw", T::IQ1_M},
    {32, "BF16", "BF16", T::BF16},
    {36, "TQ1_0", "TQ1_0 - 1.69 bpw ternary", T::TQ1_0},
    {37, "TQ2_0", "TQ2_0 - 2.06 bpw ternary", T::TQ2_0},
    {38, "MXFP4_MOE", "MXFP4 MoE", T::MXFP4},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::optional<FileTypeInfo> file_type_info(uint32_t id) {
  for (const auto& f : kFileTypes)
    if (f.id == id) return f;
  return std::nullopt;
}

std::string file_type_name(uint32_t id) {
  if (id & kFileTypeGuessed) return file_type_name(id & ~kFileTypeGuessed) + " (guessed)";
  const auto info = file_type_info(id);
  return info ? std::string(info->name) : std::string("unknown, may not work");
}

std::optional<FileTypeInfo> parse_file_type(std::string_view short_name) {
  for (const auto& f : kFileTypes)
    if (equal_ignoring_case(f.short_name, short_name)) return f;
  return std::nullopt;
}

std::span<const FileTypeInfo> file_types() { return kFileTypes; }

}  // namespace pagoda::gguf
