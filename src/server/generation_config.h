#pragma once
// Default sampling for requests that leave a field out, as vLLM's
// --generation-config chooses it:
//   auto      the model's own recommendation when the GGUF carries one
//             (llama.cpp's general.sampling.* keys), else OpenAI's defaults
//   vllm      OpenAI's defaults (temperature 1, no top-k / top-p / min-p)
//   PATH      a Hugging Face generation_config.json (or a folder holding one):
//             temperature, top_k, top_p, min_p, repetition_penalty
// A request's own fields always win.
#include <string>

#include "base/expected.h"
#include "gguf/gguf.h"
#include "sampling/sampling_params.h"

namespace pagoda::server {

struct GenerationDefaults {
  sampling::SamplingParams params;  // OpenAI's defaults with the chosen overrides
  std::string source;               // where they came from, for the start-up log
  std::string summary;              // "temperature 0.7, top_p 0.8, top_k 20" or "" when none
};

// `model` may be null (auto then means OpenAI's defaults). Errors: unreadable or
// malformed file, values out of range.
Expected<GenerationDefaults> load_generation_defaults(const std::string& mode, const gguf::File* model);

}  // namespace pagoda::server
