#include "cli/make_model/shapes.h"

namespace pagoda::cli {

const std::vector<ModelShape>& model_shapes() {
  // Hyper-parameters as the published config.json files give them.
  static const std::vector<ModelShape> shapes = {
      // name, arch, vocab, embd, layer, head, kv, ff, ctx, rope, eps, tied, bias
      {"demo", "llama", 0, 256, 4, 8, 2, 768, 4096, 10000.0f, 1e-5f, false, false},
      {"smollm2-135m", "llama", 49152, 576, 30, 9, 3, 1536, 8192, 100000.0f, 1e-5f, true, false},
      {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 4864, 32768, 1000000.0f, 1e-6f, true, true},
      {"tinyllama-1.1b", "llama", 32000, 2048, 22, 32, 4, 5632, 2048, 10000.0f, 1e-5f, false, false},
      {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 8192, 131072, 500000.0f, 1e-5f, true, false},
      {"llama-3.2-3b", "llama", 128256, 3072, 28, 24, 8, 8192, 131072, 500000.0f, 1e-5f, true, false},
      {"llama-2-7b", "llama", 32000, 4096, 32, 32, 32, 11008, 4096, 10000.0f, 1e-5f, false, false},
      {"mistral-7b", "llama", 32768, 4096, 32, 32, 8, 14336, 32768, 1000000.0f, 1e-5f, false, false},
      {"llama-3.1-8b", "llama", 128256, 4096, 32, 32, 8, 14336, 131072, 500000.0f, 1e-5f, false, false},
  };
  return shapes;
}

const ModelShape* find_model_shape(std::string_view name) {
  for (const auto& s : model_shapes())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace pagoda::cli
