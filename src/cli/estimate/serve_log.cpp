// `pagoda serve`'s start-up memory line.
#include "cli/estimate/serve_log.h"

#include "base/log.h"
#include "planner/estimate.h"

namespace pagoda::cli::estimate {

void log_serve_memory(const model::Model& model, const engine::EngineConfig& config, const engine::PoolPlan& plan,
                      int threads) {
  using engine::format_bytes;
  auto planned = planner::model_from_gguf(model.file(), std::nullopt);
  planner::EstimateOptions o;
  o.k_type = config.k_type;
  o.v_type = config.v_type;
  o.ctx = plan.max_model_len;
  o.concurrency = plan.max_num_seqs;
  o.block_size = plan.block_size;
  o.batch_tokens = config.max_num_batched_tokens;
  o.threads = threads;
  auto e = planned ? planner::estimate(*planned, o) : Expected<planner::Estimate>(planned.error());
  if (!e) {
    log::warn("serve: no memory breakdown: {}", e.error().message);
    return;
  }
  // The pool is what plan_pool sized, not ctx x sequences.
  const uint64_t total = e->device.weights + plan.bytes + e->device.scratch + e->device.overhead;
  log::info("serve: memory: weights {} (mapped), KV pool {} ({} blocks), scratch {} ({}-token steps, {} sequences), "
            "overhead {}; total {} (`pagoda estimate` plans the same)",
            format_bytes(e->device.weights), format_bytes(plan.bytes), plan.n_blocks, format_bytes(e->device.scratch),
            o.batch_tokens, o.concurrency, format_bytes(e->device.overhead), format_bytes(total));
  // The pool is reserved lazily, so an oversized plan shows up later as swapping, not at start-up.
  if (auto avail = engine::available_memory(); avail && total > *avail + e->device.weights)
    log::warn("serve: the plan ({}) exceeds the {} of memory available: expect swapping once the pool fills",
              format_bytes(total), format_bytes(*avail));
}

}  // namespace pagoda::cli::estimate
