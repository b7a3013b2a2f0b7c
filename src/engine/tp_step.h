#pragma once
// Tensor parallelism in the engine (`-tp N` under `mpirun -np N`): rank 0 owns the scheduler,
// the tokenizer and sampling; every other rank is a worker that mirrors rank 0's paged KV cache
// (its share of the KV heads) and runs the same forward pass on its shard of the weights.
//
// Rank 0 broadcasts one message per event, and workers apply them in order:
//   setup  the pool's geometry: blocks, block size, slots, max model length, KV element types
//   step   the step's block copies (copy-on-write), slot bindings (block table + computed
//          length) and batch rows (token, position, slot, wants logits)
//   stop   the engine is gone: workers return
// Block ids, slots and positions are rank 0's, so every rank's cache holds the same positions
// in the same blocks; only the heads differ.
#include <cstdint>
#include <span>
#include <vector>

#include "base/expected.h"
#include "base/kv_type.h"
#include "base/thread_pool.h"
#include "kv/block_manager.h"
#include "model/model.h"

namespace pagoda::dist {
class Communicator;
}

namespace pagoda::engine {

struct TpSetup {
  int n_blocks = 0;
  int block_size = 0;
  int n_seq = 0;          // slots (max_num_seqs)
  int max_model_len = 0;
  KvType k_type = KvType::f16;
  KvType v_type = KvType::f16;
};

// One slot's block table before a step: positions [0, length) are computed.
struct TpBinding {
  int32_t slot = 0;
  int32_t length = 0;
  std::vector<kv::BlockId> blocks;
};

struct TpStep {
  std::vector<kv::BlockCopy> copies;  // made before the forward pass, in order
  std::vector<TpBinding> bindings;
  model::Batch batch;
};

enum class TpMessageKind : uint8_t { setup = 1, step = 2, stop = 3 };

struct TpMessage {
  TpMessageKind kind = TpMessageKind::stop;
  TpSetup setup;  // kind == setup
  TpStep step;    // kind == step
};

std::vector<uint8_t> encode_tp_setup(const TpSetup& setup);
std::vector<uint8_t> encode_tp_step(const TpStep& step);
std::vector<uint8_t> encode_tp_stop();
// Errors: a truncated or malformed message (never trusted to index anything unchecked).
Expected<TpMessage> decode_tp_message(std::span<const uint8_t> bytes);

// A worker rank's whole life in an engine command: waits (idle, not spinning) for rank 0's
// setup, allocates the same pool for its KV heads, then applies steps until stop. Returns
// when rank 0 stops (also when rank 0 stops before any setup, having failed to start).
// Errors: a malformed message, a pool that cannot be allocated, a failed forward pass — each
// a reason for the caller to abort the whole job (rank 0 would wait forever otherwise).
Expected<void> run_tp_worker(model::Model& model, dist::Communicator& comm, ThreadPool& pool);

}  // namespace pagoda::engine
