// Planned models from GGUF files and from shapes.
#include "planner/source.h"

#include <fmt/format.h>

#include "gguf/file_type.h"
#include "model/hparams.h"

namespace pagoda::planner {

Expected<PlannedModel> model_from_gguf(const gguf::File& file, const std::optional<quant::Mix>& mix) {
  auto hp = model::read_hparams(file);
  if (!hp) return hp.error();
  const bool tied = file.find_tensor("output.weight") == nullptr;
  const bool bias = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  PlannedModel m;
  m.shape = shape_from_hparams(*hp, file.name(), tied, bias);
  if (m.shape.n_vocab <= 0)
    if (const auto* embd = file.find_tensor("token_embd.weight")) m.shape.n_vocab = embd->ne(1);
  const auto ft = file.get_int("general.file_type");
  const std::string own = ft ? gguf::file_type_name(static_cast<uint32_t>(*ft)) : "as stored";
  m.weights = mix ? weights_of_file(file, *mix) : weights_of_file(file, own);
  m.exact = !mix;
  uint64_t tensor_bytes = 0;
  for (const auto& t : file.tensors()) tensor_bytes += t.n_bytes;
  const uint64_t size = file.bytes().size();
  m.metadata_bytes = size > tensor_bytes ? size - tensor_bytes : 0;
  return m;
}

Expected<PlannedModel> model_from_shape(const ModelShape& shape, const quant::Mix& mix) {
  if (auto ok = shape.validate(); !ok) return ok.error();
  if (shape.n_vocab <= 0)
    return Error{fmt::format("shape '{}' has no vocabulary size of its own (make-model builds it): estimate the "
                             "GGUF file it writes instead",
                             shape.name)};
  PlannedModel m;
  m.shape = shape;
  m.weights = weights_of_shape(shape, mix);
  m.metadata_bytes = static_cast<uint64_t>(shape.n_vocab) * kMetadataBytesPerToken;
  return m;
}

}  // namespace pagoda::planner
