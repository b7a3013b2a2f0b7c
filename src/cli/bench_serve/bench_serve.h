#pragma once
// `pagoda bench serve`: a load generator for OpenAI-compatible servers (pagoda
// serve, llama-server, vLLM) that reports TTFT, TPOT, ITL and end-to-end
// latency percentiles and throughputs, in the spirit of vLLM's benchmark_serving.
namespace pagoda::cli {

// argv[0] is "serve" (called from `pagoda bench serve ...`).
int cmd_bench_serve(int argc, char** argv);

}  // namespace pagoda::cli
