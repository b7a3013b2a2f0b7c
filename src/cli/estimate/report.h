#pragma once
// `pagoda estimate`'s output: the breakdown of one plan as text or JSON, and
// the quantization table (one row per mix) as text or JSON.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "planner/estimate.h"

namespace pagoda::cli::estimate {

// Where the model came from and how the budget was chosen, for the report.
struct Context {
  std::string source;        // "GGUF file", "preset", "config.json"
  std::string memory_label;  // "--memory", "available on this machine"
};

// The breakdown of `e` for `m` as text (stdout).
void print_estimate(const planner::PlannedModel& m, const planner::Estimate& e, const Context& c);
// The same as one JSON object (weights_bytes, kv_bytes_per_token, kv_bytes, total_bytes, fits, ...).
nlohmann::json estimate_json(const planner::PlannedModel& m, const planner::Estimate& e, const Context& c);

// One row of the quantization table: a mix and its plan.
struct TableRow {
  std::string mix;
  planner::PlannedModel model;
  planner::Estimate estimate;
};

// The table (stdout); rows share the model shape, KV options and budget.
void print_table(const std::vector<TableRow>& rows, const Context& c);
nlohmann::json table_json(const std::vector<TableRow>& rows, const Context& c);

}  // namespace pagoda::cli::estimate
