#pragma once
// Renders engine metrics in the Prometheus text format (0.0.4) under vLLM's
// metric names, so dashboards built for vLLM work unchanged.
#include <string>

#include "engine/metrics.h"

namespace pagoda::server {

// Every metric with HELP and TYPE lines, labelled model_name="<model_name>".
// Pure; the output ends with a newline.
std::string render_prometheus(const engine::MetricsSnapshot& m, const std::string& model_name);

// A label value escaped as the text format wants (backslash, quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace pagoda::server
