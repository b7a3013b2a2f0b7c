#pragma once
// The memory breakdown `pagoda serve` logs at start-up, from the planner that
// `pagoda estimate` uses: what the server holds is what the estimate says.
#include "engine/config.h"
#include "model/model.h"

namespace pagoda::cli::estimate {

// Logs one info line: weights (mapped), the KV pool as planned, scratch for
// the engine's step and sequence limits, runtime overhead and the total; warns
// when the total exceeds the memory available. Never fails (a model the
// planner cannot describe gets a warning instead).
void log_serve_memory(const model::Model& model, const engine::EngineConfig& config, const engine::PoolPlan& plan,
                      int threads);

}  // namespace pagoda::cli::estimate
